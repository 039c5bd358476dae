/**
 * The influxd the hub manages is watched: killed, it makes the hub unhealthy at once, is restarted with backoff,
 * and what waited meanwhile is stored. Killed with -9, a hub leaves its influxd behind; the next hub of the same
 * data directory stops that orphan and owns the one it starts, so exactly one influxd serves the directory.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateGatewayKeys } from "@supervision/firmware-protocols";
import { environOf, freePort } from "@supervision/test-support";
import pino from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { Hub } from "../src/controller/hub.ts";
import { HubSettings } from "../src/settings/index.ts";
import { rating, TestGateway, waitFor } from "./ingest-fixtures.ts";

const ROOT = join(import.meta.dirname, "../..");
const dir = mkdtempSync(join(tmpdir(), "hub-influxd-"));
const children: ChildProcess[] = [];

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  // influxds started by the hubs of this file that a failed assertion left behind.
  for (const pid of influxdsOf(dir)) process.kill(pid, "SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

/** Live influxd processes whose config lies under `root` (read from /proc). */
function influxdsOf(root: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if (cmd[0]?.endsWith("influxd") && cmd.some((a) => a.startsWith(root))) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

const pidIn = (file: string) => Number(readFileSync(file, "utf8").trim());
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function registry(name: string) {
  const keys = generateGatewayKeys();
  const registryDir = join(dir, name, "registry");
  mkdirSync(registryDir, { recursive: true });
  writeFileSync(
    join(registryDir, "hall.yaml"),
    stringify({
      regions: [{ id: "r1", name: "Region" }],
      towns: [{ id: "t1", name: "Town", region: "r1" }],
      departments: [{ id: "tax", name: "Tax" }],
      sites: [{ id: "hall1", kind: "hall", name: "Hall", town: "t1", tz: "Asia/Shanghai", gateway: "gw1" }],
      windows: [{ id: "w1", site: "hall1", name: "Window 1", department: "tax" }],
      rosters: [{ id: "office", shifts: [{ start: "09:00", end: "17:00" }] }],
      people: [{ id: "p1", name: "Clerk", role: "clerk", post: "", site: "hall1", window: "w1", roster: "office" }],
      gateways: [{ id: "gw1", site: "hall1", secret: "gateway-secret", publicKey: keys.publicKeyPem }],
      devices: [{ id: "kp1", kind: "keypad", site: "hall1", window: "w1", secret: "keypad-secret" }],
    }),
  );
  return { registryDir, privateKeyPem: keys.privateKeyPem };
}

async function settingsFor(name: string, registryDir: string) {
  return {
    // One thread whatever the machine has: the restart test checks the setting reaches each influxd started.
    influx: { managedPort: await freePort(), managedRpcPort: await freePort(), managedGoMaxProcs: 1 },
    broker: { port: await freePort(), host: "127.0.0.1" },
    http: { port: await freePort() },
    registry: { dir: registryDir },
    dataDir: join(dir, name, "var"),
    serviceSecret: "managed-influxd-test-secret",
    supervision: { enabled: false },
  };
}

const health = async (port: number) => {
  const res = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined);
  return res ? { status: res.status, body: (await res.json()) as { ok: boolean; influx?: Record<string, unknown> } } : undefined;
};

describe("the managed influxd", () => {
  it("killed: the hub is unhealthy within seconds, restarts it, and stores what waited", { timeout: 120_000 }, async () => {
    const { registryDir, privateKeyPem } = await registry("restart");
    const raw = await settingsFor("restart", registryDir);
    const hub = new Hub(HubSettings.parse(raw), pino({ level: process.env.LOG_LEVEL ?? "silent" }));
    await hub.start();
    const gateway = await TestGateway.connect(`mqtt://127.0.0.1:${raw.broker.port}`, "gw1", privateKeyPem, {
      username: "gw1",
      password: "gateway-secret",
    });
    try {
      const t = Date.now() - 60_000;
      const b1 = gateway.next([rating(1, t)]);
      await gateway.send(b1.wire);
      expect(await gateway.waitForAck((a) => a.seq === 1, 30_000)).toMatchObject({ status: "stored" });
      expect((await health(hub.httpPort))?.status).toBe(200);

      const first = hub.status().influx?.pid as number;
      expect(environOf(first, "GOMAXPROCS")).toBe("1");
      process.kill(first, "SIGKILL");
      const killedAt = Date.now();
      await waitFor(async () => ((await health(hub.httpPort))?.status === 503 ? true : undefined), 15_000, "healthz 503");
      const unhealthyAfterMs = Date.now() - killedAt;
      expect(unhealthyAfterMs).toBeLessThan(15_000);

      // Sent while influxd is down or coming back: acknowledged only once stored.
      const b2 = gateway.next([rating(2, t + 1), rating(3, t + 2)]);
      await gateway.send(b2.wire);
      expect(await gateway.waitForAck((a) => a.seq === 2, 60_000)).toMatchObject({ status: "stored", hash: b2.hash });
      await waitFor(async () => ((await health(hub.httpPort))?.status === 200 ? true : undefined), 30_000, "healthz 200 again");
      const status = hub.status().influx;
      expect(status).toMatchObject({ managed: true, state: "running", reachable: true, restarts: 1 });
      expect(status?.pid).not.toBe(first);
      expect(environOf(status?.pid as number, "GOMAXPROCS")).toBe("1");
      const metrics = await (await fetch(`http://127.0.0.1:${hub.httpPort}/metrics`)).text();
      expect(metrics).toMatch(/^hub_influxd_restarts_total 1$/m);
      expect(metrics).toMatch(/^hub_influxd_running 1$/m);
      expect(metrics).toMatch(/^hub_influx_up 1$/m);
      const url = `http://127.0.0.1:${raw.influx.managedPort}/query?db=supervision&q=${encodeURIComponent('SELECT count("seq") FROM "rating"')}`;
      // Authentication is on: the hub's generated admin password (dataDir/secrets, mode 0600) opens it, nothing else does.
      expect((await fetch(url)).status).toBe(401);
      const secretFile = join(raw.dataDir, "secrets/influxdb-admin.secret");
      expect(statSync(secretFile).mode & 0o777).toBe(0o600);
      const basic = Buffer.from(`supervision-admin:${readFileSync(secretFile, "utf8").trim()}`).toString("base64");
      const answer = (await (await fetch(url, { headers: { authorization: `Basic ${basic}` } })).json()) as {
        results: Array<{ series?: Array<{ values: unknown[][] }> }>;
      };
      expect(answer.results[0]?.series?.[0]?.values[0]?.[1]).toBe(3);
    } finally {
      await gateway.close();
      await hub.stop();
    }
    expect(influxdsOf(join(dir, "restart"))).toEqual([]);
  });

  it("after kill -9 of the hub, the restarted hub stops the orphan and owns exactly one influxd", { timeout: 180_000 }, async () => {
    const { registryDir } = await registry("orphan");
    const raw = await settingsFor("orphan", registryDir);
    const settingsFile = join(dir, "orphan", "hub.yaml");
    writeFileSync(settingsFile, stringify({ ...raw, logLevel: "warn" }));
    const influxdDir = join(raw.dataDir, "influxdb");
    let output = "";
    const startHub = async () => {
      const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "hub/src/cli/main.ts"), "start", "--settings", settingsFile], {
        cwd: ROOT,
        stdio: ["ignore", "pipe", "pipe"],
      });
      children.push(child);
      child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
      child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
      await waitFor(
        async () => ((await health(raw.http.port))?.status === 200 ? true : undefined),
        90_000,
        `the hub to be healthy: ${output.slice(-2000)}`,
      );
      return child;
    };

    const first = await startHub();
    const orphan = pidIn(join(influxdDir, "influxd.pid"));
    expect(pidIn(join(influxdDir, "owner.pid"))).toBe(first.pid); // the hub process itself (no tsx wrapper), so -9 hits it
    expect(influxdsOf(influxdDir)).toEqual([orphan]);
    first.kill("SIGKILL");
    await new Promise((r) => first.once("exit", r));
    expect(alive(orphan)).toBe(true); // kill -9 leaves the hub's influxd running

    output = "";
    const second = await startHub();
    const owned = pidIn(join(influxdDir, "influxd.pid"));
    expect(owned).not.toBe(orphan);
    expect(alive(orphan)).toBe(false);
    expect(influxdsOf(influxdDir)).toEqual([owned]);
    expect(pidIn(join(influxdDir, "owner.pid"))).toBe(second.pid);
    expect((await health(raw.http.port))?.body.influx).toMatchObject({
      managed: true,
      state: "running",
      pid: owned,
      orphanStopped: orphan,
    });
    expect(output).toMatch(/left running by a hub that died; stopped it/);

    // A clean stop leaves no influxd and gives up the directory.
    second.kill("SIGINT");
    await new Promise((r) => second.once("exit", r));
    expect(influxdsOf(influxdDir)).toEqual([]);
    expect(existsSync(join(influxdDir, "owner.pid"))).toBe(false);
  });
});
