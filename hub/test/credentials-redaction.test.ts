import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { ManagedInfluxd } from "@supervision/influxd";
import { freePort } from "@supervision/test-support";
import { InfluxDB } from "influx";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Hub } from "../src/controller/hub.ts";
import { ApiTokens } from "../src/http/auth.ts";
import { HubHttpServer } from "../src/http/server.ts";
import { createLineWriter } from "../src/influx/line-writer.ts";
import { createHubLogger, redactText } from "../src/secrets/redact.ts";
import { HubSettings } from "../src/settings/index.ts";

const USER = "supervision-admin";
const PASSWORD = "s3cret-Pa55word-for-the-redaction-test";
const BASIC = Buffer.from(`${USER}:${PASSWORD}`).toString("base64");

/** Every line a logger writes, as text. */
function capture(): { stream: Writable; text: () => string } {
  const lines: string[] = [];
  return {
    stream: new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    }),
    text: () => lines.join(""),
  };
}

const expectNoCredential = (text: string) => {
  expect(text).not.toContain(PASSWORD);
  expect(text).not.toContain(BASIC);
  expect(text).not.toMatch(/Basic [A-Za-z0-9+/=]{8,}/);
};

let failing: Server;
let failingUrl: string;
const dir = mkdtempSync(join(tmpdir(), "hub-redaction-"));

beforeAll(async () => {
  // An InfluxDB stand-in that refuses every request, as InfluxDB refuses an empty `clerk=` tag.
  failing = createServer((req, res) => {
    req.resume();
    res.writeHead(400, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: "unable to parse 'dissatisfaction,clerk= state=\"verified\"': missing tag value" }));
  });
  await new Promise<void>((r) => failing.listen(0, "127.0.0.1", () => r()));
  failingUrl = `http://127.0.0.1:${(failing.address() as { port: number }).port}`;
});
afterAll(async () => {
  await new Promise<void>((r) => failing.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

describe("credentials never reach the logs", () => {
  it("the influx package's errors carry the Authorization header; the hub's logger drops it", async () => {
    const influx = new InfluxDB({
      host: "127.0.0.1",
      port: Number(new URL(failingUrl).port),
      database: "x",
      username: USER,
      password: PASSWORD,
    });
    const error = await influx.query("SELECT 1").catch((e: unknown) => e);
    // What the reported case dumped: pino's standard serializer shows the request with its header.
    const raw = capture();
    pino({ level: "info" }, raw.stream).error({ err: error }, "query failed");
    expect(raw.text()).toMatch(/Basic|password/);

    const safe = capture();
    const logger = createHubLogger("info", safe.stream);
    logger.error({ err: error }, "query failed");
    logger.error({ error }, "query failed");
    logger.error(`query failed: ${String(error)} at ${failingUrl.replace("//", `//${USER}:${PASSWORD}@`)}?u=${USER}&p=${PASSWORD}`);
    expect(safe.text()).toContain("query failed");
    expectNoCredential(safe.text());

    const writer = createLineWriter({ url: failingUrl, database: "x", username: USER, password: PASSWORD });
    const writeError = await writer("m v=1 1", "raw", 5000).catch((e: unknown) => e);
    logger.error({ err: writeError }, "write failed");
    expectNoCredential(safe.text());
  });

  it("a failing API handler (hub verify with InfluxDB failing) logs the error without the credentials", async () => {
    const out = capture();
    const tokens = new ApiTokens([{ name: "Zhou", role: "operator", token: "zhou-operator-token-0123456789abcdef" }]);
    const http = new HubHttpServer(createHubLogger("info", out.stream).child({ component: "http" }), { tokens: { current: () => tokens } });
    const influx = new InfluxDB({
      host: "127.0.0.1",
      port: Number(new URL(failingUrl).port),
      database: "x",
      username: USER,
      password: PASSWORD,
    });
    http.add("POST", "/api/dissatisfaction/:id/verify", async () => {
      await influx.query("SELECT clerk FROM rating");
      return { status: 200, body: {} };
    });
    const port = await http.listen(await freePort(), "127.0.0.1");
    try {
      const res = await fetch(`http://127.0.0.1:${port}/api/dissatisfaction/kp1:1/verify`, {
        method: "POST",
        headers: { authorization: "Bearer zhou-operator-token-0123456789abcdef" },
        body: "{}",
      });
      // Default access of a POST is administrator: the operator is refused before the handler; the token is not logged.
      expect(res.status).toBe(403);
    } finally {
      await http.close();
    }
    const admin = new ApiTokens([{ name: "root", role: "administrator", token: "root-admin-token-0123456789abcdef" }]);
    const http2 = new HubHttpServer(createHubLogger("info", out.stream), { tokens: { current: () => admin } });
    http2.add("POST", "/api/fail", async () => {
      await influx.query("SELECT clerk FROM rating");
      return { status: 200, body: {} };
    });
    const port2 = await http2.listen(await freePort(), "127.0.0.1");
    try {
      const res = await fetch(`http://127.0.0.1:${port2}/api/fail`, {
        method: "POST",
        headers: { authorization: "Bearer root-admin-token-0123456789abcdef" },
      });
      expect(res.status).toBe(500);
      expect(await res.json()).toMatchObject({ error: "internal error; see the hub log" });
    } finally {
      await http2.close();
    }
    expect(out.text()).toContain("HTTP handler failed");
    expectNoCredential(out.text());
    expect(out.text()).not.toContain("root-admin-token");
    expect(out.text()).not.toContain("zhou-operator-token");
  });

  it(
    "a hub whose InfluxDB refuses its credentials fails to start saying so, with no credential in its log",
    { timeout: 120_000 },
    async () => {
      // A managed influxd with authentication, whose admin password is not the one the hub is given.
      const influxd = new ManagedInfluxd({
        dataDir: join(dir, "influxd"),
        httpPort: await freePort(),
        rpcPort: await freePort(),
        auth: { username: USER, password: "the-real-admin-password-0123" },
      });
      await influxd.start();
      try {
        // Authentication is on: anonymous queries are refused, the admin's are answered.
        expect((await fetch(`${influxd.url}/query?q=SHOW%20DATABASES`)).status).toBe(401);
        const asAdmin = { authorization: `Basic ${Buffer.from(`${USER}:the-real-admin-password-0123`).toString("base64")}` };
        expect((await fetch(`${influxd.url}/query?q=SHOW%20DATABASES`, { headers: asAdmin })).status).toBe(200);

        const out = capture();
        const settings = HubSettings.parse({
          influx: { url: influxd.url, username: USER, password: PASSWORD },
          broker: { port: await freePort() },
          http: { port: await freePort() },
          registry: { dir: join(import.meta.dirname, "../../config/registry") },
          dataDir: join(dir, "hub"),
        });
        const hub = new Hub(settings, createHubLogger("info", out.stream));
        const failure = await hub.start().catch((e: unknown) => e as Error);
        expect(failure).toBeInstanceOf(Error);
        createHubLogger("info", out.stream).fatal({ err: failure }, "hub failed to start");
        await hub.stop();
        expect(out.text()).toMatch(/401|authorization failed|unauthorized/i);
        expectNoCredential(out.text());
        expect(redactText((failure as Error).message)).toBe((failure as Error).message);
      } finally {
        await influxd.stop();
      }
      // The same data directory started with the wrong admin password: refused, naming the fix, not the password.
      const wrong = new ManagedInfluxd({
        dataDir: join(dir, "influxd"),
        httpPort: await freePort(),
        rpcPort: await freePort(),
        auth: { username: USER, password: PASSWORD },
      });
      const refused = await wrong.start().catch((e: unknown) => e as Error);
      await wrong.stop();
      expect(refused?.message).toMatch(/has users, and the admin credentials given are not one of them/);
      expect(refused?.message).not.toContain(PASSWORD);
    },
  );
});
