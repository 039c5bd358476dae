import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { GatewayConfig, gatewayTopics } from "@supervision/firmware-protocols";
import { freePort } from "@supervision/test-support";
import mqtt from "mqtt";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "../..");
const TSX = join(ROOT, "node_modules/.bin/tsx");
const dir = mkdtempSync(join(tmpdir(), "hub-system-"));
let hub: ChildProcess | undefined;

afterAll(async () => {
  // SIGINT first so the hub stops its influxd even when an assertion failed midway.
  if (hub && hub.exitCode === null) {
    hub.kill("SIGINT");
    const timer = setTimeout(() => hub?.kill("SIGKILL"), 15_000);
    await exited(hub);
    clearTimeout(timer);
  }
  rmSync(dir, { recursive: true, force: true });
});

function exited(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

describe("hub start (real managed influxd, embedded broker, HTTP)", () => {
  it("serves /healthz, /metrics and gateway configs, and stops cleanly on SIGINT", { timeout: 60_000 }, async () => {
    const [influxPort, rpcPort, brokerPort, httpPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const settingsFile = join(dir, "hub.yaml");
    writeFileSync(
      settingsFile,
      [
        `influx: { managedPort: ${influxPort}, managedRpcPort: ${rpcPort} }`,
        `broker: { port: ${brokerPort}, host: 127.0.0.1 }`,
        `http: { port: ${httpPort} }`,
        `registry: { dir: ${join(ROOT, "config/registry")} }`,
        `dataDir: ${join(dir, "var")}`,
        "serviceSecret: system-test-service-secret",
        "logLevel: warn",
      ].join("\n"),
    );
    let output = "";
    hub = spawn(TSX, [join(ROOT, "hub/src/cli/main.ts"), "start", "--settings", settingsFile], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    hub.stdout?.on("data", (d: Buffer) => (output += d.toString()));
    hub.stderr?.on("data", (d: Buffer) => (output += d.toString()));

    const base = `http://127.0.0.1:${httpPort}`;
    await expect
      .poll(async () => (await fetch(`${base}/healthz`).catch(() => undefined))?.status, { timeout: 40_000, interval: 500 })
      .toBe(200);
    const health = (await (await fetch(`${base}/healthz`)).json()) as { ok: boolean; extensions: Record<string, { state: string }> };
    expect(health.ok).toBe(true);
    expect(Object.fromEntries(Object.entries(health.extensions).map(([name, e]) => [name, e.state]))).toEqual({
      ingest: "running",
      "config-publisher": "running",
      grafana: "running",
      supervision: "running",
    });
    expect(await (await fetch(`${base}/metrics`)).text()).toContain("process_cpu_user_seconds_total");
    expect((await fetch(`${base}/nope`)).status).toBe(404);

    // The influxd the hub manages answers and has the database.
    const dbs = await (await fetch(`http://127.0.0.1:${influxPort}/query?q=SHOW%20DATABASES`)).text();
    expect(dbs).toContain("supervision");

    // A gateway logging in with its registry secret gets its retained config.
    const gateway = await mqtt.connectAsync(`mqtt://127.0.0.1:${brokerPort}`, {
      username: "gw-hall-1",
      password: "lab-gateway-secret",
      reconnectPeriod: 0,
    });
    const config = await new Promise<GatewayConfig>((resolve) => {
      gateway.on("message", (_t, payload) => resolve(GatewayConfig.parse(JSON.parse(payload.toString()))));
      void gateway.subscribeAsync(gatewayTopics.config("gw-hall-1"), { qos: 1 });
    });
    await gateway.endAsync();
    expect(config.site.id).toBe("hall-1");

    const status = await promisify(execFile)(TSX, [join(ROOT, "hub/src/cli/main.ts"), "status", "--url", base], { cwd: ROOT });
    expect(JSON.parse(status.stdout).ok).toBe(true);

    hub.kill("SIGINT");
    expect(await exited(hub)).toBe(0);
    // No orphan influxd: its port is closed.
    await expect(fetch(`http://127.0.0.1:${influxPort}/ping`)).rejects.toThrow();
  });
});
