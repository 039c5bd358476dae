import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEMO_SCENARIOS } from "@supervision/firmware-protocols/sim";
import { freePort } from "@supervision/test-support";
import mqtt from "mqtt";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "../..");
const TSX = join(ROOT, "node_modules/.bin/tsx");
const CLI = join(import.meta.dirname, "../src/cli.ts");
const dir = mkdtempSync(join(tmpdir(), "hub-up-"));
const children: ChildProcess[] = [];

afterAll(async () => {
  // SIGINT first so `supervision up` stops its influxd even when an assertion failed midway.
  for (const child of children.filter((c) => c.exitCode === null)) {
    child.kill("SIGINT");
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    await new Promise((resolve) => child.once("exit", resolve));
    clearTimeout(timer);
  }
  rmSync(dir, { recursive: true, force: true });
});

function run(args: string[]): { child: ChildProcess; output: () => string; exit: Promise<number | null> } {
  let output = "";
  const child = spawn(TSX, [CLI, "up", ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
  return { child, output: () => output, exit: new Promise((resolve) => child.once("exit", (code) => resolve(code))) };
}

async function ports(): Promise<string[]> {
  return [
    "--influx-port",
    String(await freePort()),
    "--influx-rpc-port",
    String(await freePort()),
    "--broker-port",
    String(await freePort()),
    "--http-port",
    String(await freePort()),
    "--hall-port",
    String(await freePort()),
    "--hall-http-port",
    String(await freePort()),
    "--site-port",
    String(await freePort()),
    "--site-http-port",
    String(await freePort()),
    "--site-adms-port",
    String(await freePort()),
  ];
}

describe("supervision up (npm start)", () => {
  it("explains itself with --help", { timeout: 120_000 }, async () => {
    const up = run(["--help"]);
    expect(await up.exit).toBe(0);
    expect(up.output()).toContain("Usage: npm start -- [options]");
    expect(up.output()).toContain("--hall-port <n>");
    expect(up.output()).toContain("--notify-url <url>");
  });

  it("refuses a --notify-url that is not an http(s) URL, saying what it needs", { timeout: 120_000 }, async () => {
    const up = run([...(await ports()), "--notify-url", "ftp://somewhere", "--data-dir", join(dir, "bad-url")]);
    expect(await up.exit).toBe(2);
    expect(up.output()).toContain('--notify-url must be an http:// or https:// URL, got "ftp://somewhere"');
  });

  it("names the busy port and the flag to change", { timeout: 120_000 }, async () => {
    const busy: Server = createServer();
    await new Promise<void>((resolve) => busy.listen(0, "0.0.0.0", resolve));
    const port = (busy.address() as { port: number }).port;
    try {
      const flags = await ports();
      flags[flags.indexOf("--broker-port") + 1] = String(port);
      const up = run([...flags, "--data-dir", join(dir, "busy")]);
      expect(await up.exit).toBe(1);
      expect(up.output()).toContain(`port ${port} is already in use; stop what uses it or pass another port with --broker-port <n>`);
    } finally {
      busy.close();
    }
  });

  it(
    "brings up InfluxDB, the hub, two gateways and the simulators, has data within a minute, and stops cleanly on SIGINT",
    { timeout: 300_000 },
    async () => {
      const flags = await ports();
      const flag = (name: string) => flags[flags.indexOf(name) + 1]!;
      const influxPort = flag("--influx-port");
      const up = run([...flags, "--speed", "120", "--data-dir", join(dir, "var")]);
      // Generous: on a busy machine, starting influxd, the hub and two gateways through tsx takes a while.
      await expect.poll(() => up.output(), { timeout: 150_000, interval: 300 }).toContain("The system is up:");
      expect(up.output()).toMatch(new RegExp(`InfluxDB +http://127\\.0\\.0\\.1:${influxPort}`));
      expect(up.output()).toMatch(new RegExp(`hall gateway +devices mqtt://127\\.0\\.0\\.1:${flag("--hall-port")}`));

      // No password written in the source works: not the hub's old default, not the demo's, not a simulated device's.
      const refused = (url: string, username: string | undefined, password: string | undefined) =>
        expect(mqtt.connectAsync(url, { username, password, reconnectPeriod: 0, connectTimeout: 10_000 })).rejects.toThrow(
          /Bad username or password|Not authorized/,
        );
      const hubBroker = `mqtt://127.0.0.1:${flag("--broker-port")}`;
      await refused(hubBroker, undefined, undefined);
      await refused(hubBroker, "hub", "change-me-hub-service-secret");
      await refused(hubBroker, "gw-hall-demo", "demo-secret-gw-hall-demo");
      await refused(hubBroker, "gw-hall-1", "lab-gateway-secret");
      const keypad = DEMO_SCENARIOS.hall.devices.find((d) => d.kind === "keypad")!;
      await refused(`mqtt://127.0.0.1:${flag("--hall-port")}`, keypad.id, keypad.secret);
      const api = await fetch(`http://127.0.0.1:${flag("--http-port")}/api/status`);
      expect(api.status).toBe(401);
      // The managed InfluxDB has authentication: the hub's generated admin password opens it (mode 0600), nothing else.
      expect((await fetch(`http://127.0.0.1:${influxPort}/query?q=SHOW%20DATABASES`)).status).toBe(401);
      const secretFile = join(dir, "var/hub/secrets/influxdb-admin.secret");
      expect(statSync(secretFile).mode & 0o777).toBe(0o600);
      const headers = {
        authorization: `Basic ${Buffer.from(`supervision-admin:${readFileSync(secretFile, "utf8").trim()}`).toString("base64")}`,
      };
      const count = async () => {
        const answer = (await (
          await fetch(`http://127.0.0.1:${influxPort}/query?db=supervision&q=${encodeURIComponent("SELECT count(seq) FROM raw.rating")}`, {
            headers,
          })
        ).json()) as {
          results: { series?: { values: [string, number][] }[] }[];
        };
        return answer.results[0]?.series?.[0]?.values[0]?.[1] ?? 0;
      };
      // Waits for the data, not for a time: the first ratings arrive within the first minute on a quiet machine.
      await expect.poll(count, { timeout: 120_000, interval: 1000 }).toBeGreaterThan(0);
      const signins = await (
        await fetch(
          `http://127.0.0.1:${influxPort}/query?db=supervision&q=${encodeURIComponent("SELECT count(seq) FROM raw.signin GROUP BY site")}`,
          { headers },
        )
      ).text();
      expect(signins).toContain("hall-demo");
      // The construction site signs in at its ZKTeco terminal, over ADMS push to the site gateway.
      expect(up.output()).toMatch(
        new RegExp(
          `site gateway +devices mqtt://127\\.0\\.0\\.1:${flag("--site-port")}  ADMS terminals http://127\\.0\\.0\\.1:${flag("--site-adms-port")}`,
        ),
      );
      const siteSignins = async () => {
        const q = encodeURIComponent("SELECT count(seq) FROM raw.signin WHERE device = 'term-site-demo'");
        const answer = (await (await fetch(`http://127.0.0.1:${influxPort}/query?db=supervision&q=${q}`, { headers })).json()) as {
          results: { series?: { values: [string, number][] }[] }[];
        };
        return answer.results[0]?.series?.[0]?.values[0]?.[1] ?? 0;
      };
      await expect.poll(siteSignins, { timeout: 120_000, interval: 1000 }).toBeGreaterThan(0);
      // The site's sign-ins are judged by when they were made, however late the demo started: the terminal replays the
      // past as a terminal that was offline, so its punches keep their device time and none goes to review.
      const siteAttendance = async () => {
        const q = encodeURIComponent(`SELECT "level" FROM raw.attendance WHERE site = 'site-demo' GROUP BY status`);
        const answer = (await (await fetch(`http://127.0.0.1:${influxPort}/query?db=supervision&q=${q}`, { headers })).json()) as {
          results: { series?: { tags: { status: string }; values: unknown[] }[] }[];
        };
        return Object.fromEntries((answer.results[0]?.series ?? []).map((s) => [s.tags.status, s.values.length]));
      };
      const judgedByDeviceTime = async () =>
        Object.keys(await siteAttendance()).some((status) => status !== "absent" && status !== "review");
      await expect.poll(judgedByDeviceTime, { timeout: 150_000, interval: 2000 }).toBe(true);
      expect(await siteAttendance()).not.toHaveProperty("review");
      const terminals = (await (await fetch(`http://127.0.0.1:${flag("--site-http-port")}/api/adms/terminals`)).json()) as {
        serial: string;
        lastContact: number | null;
      }[];
      expect(terminals).toEqual([expect.objectContaining({ serial: "SITEDEMO0001", lastContact: expect.any(Number) })]);
      expect((await fetch(`http://127.0.0.1:${flag("--http-port")}/healthz`)).status).toBe(200);
      for (const port of [flag("--hall-http-port"), flag("--site-http-port")])
        expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      await expect.poll(() => up.output(), { timeout: 30_000, interval: 300 }).toMatch(/hall-demo +hall +\d+\/18/);
      // The departments' approval systems report their applications through the hub's API with their own tokens.
      const itemEvents = async () =>
        (
          await fetch(
            `http://127.0.0.1:${influxPort}/query?db=supervision&q=${encodeURIComponent("SELECT count(seq) FROM raw.item_event GROUP BY device")}`,
            { headers },
          )
        ).text();
      await expect.poll(itemEvents, { timeout: 120_000, interval: 1000 }).toMatch(/business-approvals/);
      // Still none in review after the rest of the catch-up played.
      expect(await siteAttendance()).not.toHaveProperty("review");
      up.child.kill("SIGINT");
      expect(await up.exit).toBe(0);
      await expect(fetch(`http://127.0.0.1:${influxPort}/ping`)).rejects.toThrow();
      await expect(fetch(`http://127.0.0.1:${flag("--hall-http-port")}/healthz`)).rejects.toThrow();
    },
  );
});
