/**
 * `hub start` with influx.regions, as a process: a region the registry does not know stops it at its settings line;
 * a region's InfluxDB that is down at start does not stop the hub, and its database is made once it answers.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, startInfluxd, type TestInfluxd } from "@supervision/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyExampleRegistry } from "./example-registry.ts";
import { waitFor } from "./ingest-fixtures.ts";

const ROOT = join(import.meta.dirname, "../..");
const TSX = join(ROOT, "node_modules/.bin/tsx");
const dir = mkdtempSync(join(tmpdir(), "hub-regions-"));
const registryDir = join(dir, "registry");
let central: TestInfluxd;
let east: TestInfluxd;
const hubs: ChildProcess[] = [];

beforeAll(async () => {
  [central, east] = await Promise.all([startInfluxd(), startInfluxd()]);
  mkdirSync(registryDir);
  copyExampleRegistry(registryDir); // one region: east
}, 60_000);

afterAll(async () => {
  for (const hub of hubs)
    if (hub.exitCode === null) {
      hub.kill("SIGINT");
      const timer = setTimeout(() => hub.kill("SIGKILL"), 15_000);
      await exited(hub);
      clearTimeout(timer);
    }
  await Promise.all([central?.close(), east?.close()]);
  rmSync(dir, { recursive: true, force: true });
});

function exited(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

async function startHub(
  name: string,
  regions: string,
): Promise<{ hub: ChildProcess; output: () => string; settingsFile: string; httpPort: number }> {
  const [brokerPort, httpPort] = [await freePort(), await freePort()];
  const settingsFile = join(dir, `${name}.yaml`);
  writeFileSync(
    settingsFile,
    [
      "influx:",
      `  url: ${central.url}`,
      "  regions:",
      regions,
      `broker: { port: ${brokerPort}, host: 127.0.0.1 }`,
      `http: { port: ${httpPort} }`,
      `registry: { dir: ${registryDir} }`,
      `dataDir: ${join(dir, name)}`,
      "logLevel: warn",
    ].join("\n"),
  );
  let output = "";
  const hub = spawn(TSX, [join(ROOT, "hub/src/cli/main.ts"), "start", "--settings", settingsFile], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  hubs.push(hub);
  hub.stdout?.on("data", (d: Buffer) => (output += d.toString()));
  hub.stderr?.on("data", (d: Buffer) => (output += d.toString()));
  return { hub, output: () => output, settingsFile, httpPort };
}

const databases = async (influx: TestInfluxd) =>
  (await influx.query("SHOW DATABASES")).results[0]?.series?.[0]?.values.map((v) => String(v[0])) ?? [];

describe("hub start with influx.regions", () => {
  it("refuses a region the registry does not know, naming the settings line", { timeout: 60_000 }, async () => {
    const { hub, output, settingsFile } = await startHub("unknown", `    east: { url: ${east.url} }\n    nowhere: { url: ${east.url} }`);
    expect(await exited(hub)).toBe(1);
    expect(output()).toContain(`${settingsFile}:5: influx.regions.nowhere: the registry has no region "nowhere" (its regions: east)`);
  });

  it("starts with a region's InfluxDB down and makes its database once it answers", { timeout: 120_000 }, async () => {
    await east.server.kill();
    const { hub, output, httpPort } = await startHub("down", `    east: { url: ${east.url} }`);
    const healthz = `http://127.0.0.1:${httpPort}/healthz`;
    const health = await waitFor(
      async () => {
        if (hub.exitCode !== null) throw new Error(`hub exited ${hub.exitCode}: ${output()}`);
        const res = await fetch(healthz).catch(() => undefined);
        return res?.status === 200 ? ((await res.json()) as { extensions: Record<string, { state: string }> }) : undefined;
      },
      60_000,
      "the hub's /healthz",
    );
    expect(health.extensions.rollup?.state).toBe("running");
    expect(output()).toContain("a region's InfluxDB is not reachable");
    expect(await databases(central)).toContain("supervision");
    await east.server.start();
    // The database, its policies and continuous queries (made in that order: the last one says it is done).
    const policies = async () =>
      (await east.query(`SHOW RETENTION POLICIES ON "supervision"`)).results[0]?.series?.[0]?.values.map((v) => String(v[0])) ?? [];
    const queries = async () => JSON.stringify((await east.query("SHOW CONTINUOUS QUERIES")).results[0]?.series ?? []);
    await waitFor(async () => ((await queries()).includes("cq_signin_1d") ? true : undefined), 30_000, "east's database made");
    expect(await databases(east)).toContain("supervision");
    expect(await policies()).toEqual(["autogen", "raw", "health", "rollup", "chain"]);
    hub.kill("SIGINT");
    expect(await exited(hub)).toBe(0);
  });
});
