import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "@supervision/test-support";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "../..");
const TSX = join(ROOT, "node_modules/.bin/tsx");
const dir = mkdtempSync(join(tmpdir(), "hub-up-"));
const children: ChildProcess[] = [];

afterAll(async () => {
  // SIGINT first so `hub up` stops its influxd even when an assertion failed midway.
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
  const child = spawn(TSX, [join(ROOT, "hub/src/cli/main.ts"), "up", ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
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
  ];
}

describe("hub up", () => {
  it("names the busy port and the flag to change", { timeout: 30_000 }, async () => {
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

  it("brings up InfluxDB and the hub on the given ports and exits cleanly on SIGINT", { timeout: 60_000 }, async () => {
    const flags = await ports();
    const influxPort = flags[1];
    const up = run([...flags, "--data-dir", join(dir, "var")]);
    await expect.poll(() => up.output(), { timeout: 40_000, interval: 300 }).toContain("The system is up:");
    expect(up.output()).toContain(`InfluxDB       http://127.0.0.1:${influxPort}`);
    const dbs = await (await fetch(`http://127.0.0.1:${influxPort}/query?q=SHOW%20DATABASES`)).text();
    expect(dbs).toContain("supervision");
    const health = await fetch(`http://127.0.0.1:${flags[7]}/healthz`);
    expect(health.status).toBe(200);
    up.child.kill("SIGINT");
    expect(await up.exit).toBe(0);
    await expect(fetch(`http://127.0.0.1:${influxPort}/ping`)).rejects.toThrow();
  });
});
