import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, startInfluxd, type TestInfluxd } from "@supervision/test-support";
import { InfluxDB } from "influx";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gatewayRows } from "../src/cli/gateways.ts";
import type { HubExtension } from "../src/controller/extension.ts";
import { Hub } from "../src/controller/hub.ts";
import { HubSettings } from "../src/settings/index.ts";

const ROOT = join(import.meta.dirname, "../..");
const dataDir = mkdtempSync(join(tmpdir(), "hub-ext-"));
let influxd: TestInfluxd;
beforeAll(async () => {
  influxd = await startInfluxd();
}, 30_000);
afterAll(async () => {
  await influxd?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("Hub with an external InfluxDB", () => {
  it(
    "reports a failing extension in /healthz while the others keep running, and serves extension routes",
    {
      timeout: 30_000,
    },
    async () => {
      const settings = HubSettings.parse({
        influx: { url: influxd.url },
        broker: { port: await freePort(), host: "127.0.0.1" },
        http: { port: await freePort() },
        registry: { dir: join(ROOT, "config/registry") },
        dataDir,
        logLevel: "silent",
      });
      const stopped: string[] = [];
      const broken: HubExtension = {
        name: "broken",
        async start() {
          throw new Error("cannot reach the moon");
        },
        async stop() {
          stopped.push("broken");
        },
        status: () => ({}),
      };
      const echo: HubExtension = {
        name: "echo",
        async start(ctx) {
          ctx.http.add("POST", "/api/echo/:id", async (req) => ({ status: 200, body: { id: req.params.id, body: req.body } }));
        },
        async stop() {
          stopped.push("echo");
        },
        status: () => ({ echoed: true }),
      };
      const hub = new Hub(settings, pino({ level: "silent" }), [broken, echo]);
      await hub.start();
      try {
        const base = `http://127.0.0.1:${hub.httpPort}`;
        const res = await fetch(`${base}/healthz`);
        expect(res.status).toBe(503);
        const health = (await res.json()) as { extensions: Record<string, { state: string; error?: string; detail?: unknown }> };
        expect(health.extensions.broken).toEqual({ state: "failed", error: "cannot reach the moon", detail: {} });
        expect(health.extensions.echo).toEqual({ state: "running", detail: { echoed: true } });
        expect(health.extensions.ingest?.state).toBe("running");

        // A route added without an access rule: a POST needs an administrator's token (the one generated at first start).
        const { tokens } = JSON.parse(readFileSync(join(dataDir, "secrets/api-tokens.json"), "utf8")) as { tokens: { token: string }[] };
        const headers = { authorization: `Bearer ${tokens[0]!.token}` };
        expect((await fetch(`${base}/api/echo/a%20b`, { method: "POST", body: JSON.stringify({ n: 1 }) })).status).toBe(401);
        const echoed = await fetch(`${base}/api/echo/a%20b`, { method: "POST", body: JSON.stringify({ n: 1 }), headers });
        expect(await echoed.json()).toEqual({ id: "a b", body: { n: 1 } });
        const hostile = await fetch(`${base}/api/echo/x`, { method: "POST", body: "{not json", headers });
        expect(hostile.status).toBe(400);
        const oversized = await fetch(`${base}/api/echo/x`, { method: "POST", body: "x".repeat(100 * 1024), headers }).catch(
          () => undefined,
        );
        expect(oversized === undefined || oversized.status === 413).toBe(true);

        // `hub gateways` reads the latest gateway_health point and counts integrity alerts.
        const influx = new InfluxDB({ host: "127.0.0.1", port: influxd.port, database: "supervision" });
        const now = Date.now();
        await influx.writePoints(
          [
            {
              measurement: "gateway_health",
              tags: { gateway: "gw-a", site: "hall-1" },
              fields: { online: 1, buffer_depth: 40, oldest_age_s: 12.5 },
              timestamp: new Date(now - 60_000),
            },
            {
              measurement: "gateway_health",
              tags: { gateway: "gw-a", site: "hall-1" },
              fields: { online: 0, buffer_depth: 7, oldest_age_s: 3 },
              timestamp: new Date(now - 1000),
            },
          ],
          { retentionPolicy: "health", precision: "ms" },
        );
        await influx.writePoints(
          [
            {
              measurement: "integrity_alert",
              tags: { gateway: "gw-a", kind: "gap" },
              fields: { seq: 5, epoch: "e", detail: "d" },
              timestamp: new Date(now - 1000),
            },
          ],
          { precision: "ms" },
        );
        expect(await gatewayRows(influx)).toEqual([
          {
            gateway: "gw-a",
            site: "hall-1",
            lastContact: new Date(now - 1000).toISOString(),
            online: false,
            backlog: 7,
            oldestAgeS: 3,
            integrityAlerts24h: 1,
          },
        ]);
      } finally {
        await hub.stop();
      }
      // Failed extensions are not stopped; running ones are, in reverse order.
      expect(stopped).toEqual(["echo"]);
    },
  );
});
