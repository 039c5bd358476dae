import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { GatewayConfig, gatewayTopics } from "@supervision/firmware-protocols";
import { freePort } from "@supervision/test-support";
import mqtt from "mqtt";
import { afterAll, describe, expect, it } from "vitest";
import { copyExampleRegistry } from "./example-registry.ts";

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
  it("serves /healthz, /metrics and gateway configs, and stops cleanly on SIGINT", { timeout: 120_000 }, async () => {
    const [influxPort, rpcPort, brokerPort, httpPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const settingsFile = join(dir, "hub.yaml");
    // The example registry with this run's passwords (the example itself holds only hashes of passwords nobody kept).
    const registryDir = join(dir, "registry");
    mkdirSync(registryDir);
    const registrySecrets = copyExampleRegistry(registryDir);
    writeFileSync(
      settingsFile,
      [
        `influx: { managedPort: ${influxPort}, managedRpcPort: ${rpcPort} }`,
        `broker: { port: ${brokerPort}, host: 127.0.0.1 }`,
        `http: { port: ${httpPort} }`,
        `registry: { dir: ${registryDir} }`,
        `dataDir: ${join(dir, "var")}`,
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
      audit: "running",
      "config-publisher": "running",
      cameras: "running",
      "live-view": "running",
      grafana: "running",
      supervision: "running",
      rollup: "running",
    });
    expect(await (await fetch(`${base}/metrics`)).text()).toContain("process_cpu_user_seconds_total");
    expect((await fetch(`${base}/nope`)).status).toBe(404);

    // Secrets generated at first start, readable by the hub's user only.
    const secrets = join(dir, "var/secrets");
    expect(statSync(join(secrets, "api-tokens.json")).mode & 0o777).toBe(0o600);
    expect(statSync(join(secrets, "broker-service.secret")).mode & 0o777).toBe(0o600);
    const admin = (
      JSON.parse(readFileSync(join(secrets, "api-tokens.json"), "utf8")) as { tokens: { name: string; role: string; token: string }[] }
    ).tokens[0]!;
    expect(admin).toMatchObject({ name: "admin", role: "administrator" });

    // The API: no token 401, a wrong one 401, the generated administrator's 200; a viewer may read but not run rules.
    const anonymous = await fetch(`${base}/api/status`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("www-authenticate")).toBe('Bearer realm="hub"');
    expect(await anonymous.json()).toMatchObject({ code: "unauthenticated" });
    expect((await fetch(`${base}/api/status`, { headers: { authorization: "Bearer change-me-hub-service-secret" } })).status).toBe(401);
    const asAdmin = { authorization: `Bearer ${admin.token}` };
    expect((await fetch(`${base}/api/status`, { headers: asAdmin })).status).toBe(200);
    expect(await (await fetch(`${base}/api/whoami`, { headers: asAdmin })).json()).toEqual({ name: "admin", role: "administrator" });
    const cli = (args: string[]) => promisify(execFile)(TSX, [join(ROOT, "hub/src/cli/main.ts"), ...args], { cwd: ROOT });
    const added = await cli(["token", "add", "Wang Fang", "--role", "viewer", "--settings", settingsFile]);
    const viewerToken = added.stdout.trim().split("\n").at(-1)!;
    expect(viewerToken).toMatch(/^hubtk_/);
    expect(statSync(join(secrets, "api-tokens.json")).mode & 0o777).toBe(0o600);
    // The running hub picks the new token up without a restart.
    await expect
      .poll(async () => (await fetch(`${base}/api/whoami`, { headers: { authorization: `Bearer ${viewerToken}` } })).status, {
        timeout: 10_000,
      })
      .toBe(200);
    const run = await fetch(`${base}/api/supervision/run`, { method: "POST", headers: { authorization: `Bearer ${viewerToken}` } });
    expect(run.status).toBe(403);
    expect(await run.json()).toMatchObject({
      code: "forbidden",
      error: expect.stringMatching(/needs the operator role; "Wang Fang" is viewer/),
    });
    expect((await cli(["token", "list", "--settings", settingsFile])).stdout).toMatch(/admin\s+administrator\nWang Fang\s+viewer/);
    expect((await cli(["token", "list", "--settings", settingsFile])).stdout).not.toContain("hubtk_");

    // The broker: anonymous and the old default service password are refused.
    // So is a gateway with the clear password the example registry once held.
    for (const credentials of [
      {},
      { username: "hub", password: "change-me-hub-service-secret" },
      { username: "hub", password: "" },
      { username: "gw-hall-1", password: "lab-gateway-secret" },
    ]) {
      await expect(
        mqtt.connectAsync(`mqtt://127.0.0.1:${brokerPort}`, { ...credentials, reconnectPeriod: 0, connectTimeout: 10_000 }),
      ).rejects.toThrow(/Bad username or password|Not authorized/);
    }

    // The influxd the hub manages answers and has the database.
    // With authentication: anonymous is refused, the generated admin password (mode 0600) opens it.
    expect((await fetch(`http://127.0.0.1:${influxPort}/query?q=SHOW%20DATABASES`)).status).toBe(401);
    const influxSecret = readFileSync(join(dir, "var/secrets/influxdb-admin.secret"), "utf8").trim();
    expect(statSync(join(dir, "var/secrets/influxdb-admin.secret")).mode & 0o777).toBe(0o600);
    const influxAuth = { authorization: `Basic ${Buffer.from(`supervision-admin:${influxSecret}`).toString("base64")}` };
    const dbs = await (await fetch(`http://127.0.0.1:${influxPort}/query?q=SHOW%20DATABASES`, { headers: influxAuth })).text();
    expect(dbs).toContain("supervision");

    // A gateway logging in with its registry secret gets its retained config.
    const gateway = await mqtt.connectAsync(`mqtt://127.0.0.1:${brokerPort}`, {
      username: "gw-hall-1",
      password: registrySecrets["gw-hall-1"],
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
