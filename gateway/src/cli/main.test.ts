import { createServer } from "node:net";
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "@supervision/test-support";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { startHttpApi } from "../http/server.ts";

const run = promisify(execFile);
const main = new URL("./main.ts", import.meta.url).pathname;
/**
 * An upper bound, not an expectation: each call is a fresh process compiling the CLI through tsx, which takes a
 * few seconds of CPU and, on a busy shared machine, far longer on the clock.
 */
const CLI_TIMEOUT_MS = 120_000;
const TEST_TIMEOUT_MS = 4 * CLI_TIMEOUT_MS;

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  try {
    const { stdout, stderr } = await run("npx", ["tsx", main, ...args], { timeout: CLI_TIMEOUT_MS });
    return { code: 0, out: stdout, err: stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout, err: x.stderr };
  }
}

function settingsFile(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), "gw-cli-")), "gateway.yaml");
  writeFileSync(file, text);
  return file;
}

describe("gateway CLI", () => {
  it("prints help, and help per command", async () => {
    expect((await cli(["--help"])).out).toMatch(/Commands:/);
    expect((await cli(["doctor", "--help"])).out).toMatch(/gateway doctor/);
  }, TEST_TIMEOUT_MS);

  it("explains a bad settings file, an unknown command and an unknown option", async () => {
    const bad = await cli(["doctor", "--settings", settingsFile("gatewayId: gw-1\nbroker:\n  port: -1\n")]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/gateway\.yaml:3: broker\.port/);
    const file = settingsFile("gatewayId: gw-1\n");
    expect((await cli(["frobnicate", "--settings", file])).err).toMatch(/unknown command "frobnicate"/);
    expect((await cli(["status", "--bogus"])).code).toBe(2);
  }, TEST_TIMEOUT_MS);

  it("lists devices from a running gateway's HTTP API and says what to do when none runs", async () => {
    const port = await freePort();
    const file = settingsFile(`gatewayId: gw-1\nhttp:\n  port: ${port}\n`);
    expect((await cli(["devices", "--settings", file])).err).toMatch(/is it running\?/);
    const api = await startHttpApi({
      host: "127.0.0.1",
      port,
      registry: new Registry(),
      probe: {
        brokerListening: () => true,
        bufferWritable: () => true,
        devices: () => [{ deviceId: "kp-1", online: true, connected: false, lastSeen: null }],
        details: () => ({ gatewayId: "gw-1" }),
        deadLetters: () => [],
      },
    });
    try {
      const devices = await cli(["devices", "--settings", file]);
      expect(devices.out).toMatch(/kp-1\s+online\s+disconnected never seen/);
      expect((await cli(["status", "--settings", file])).out).toMatch(/gateway +gw-1 +healthy/);
    } finally {
      await api.close();
    }
  }, TEST_TIMEOUT_MS);

  it("doctor reports ports, disk, clock and the hub, and says what to fix", async () => {
    const hub = createServer().listen(0, "127.0.0.1");
    await new Promise((r) => hub.once("listening", r));
    const hubPort = (hub.address() as { port: number }).port;
    try {
      const res = await cli([
        "doctor",
        "--settings",
        settingsFile(`gatewayId: gw-1\nhttp:\n  port: ${await freePort()}\nbroker:\n  port: ${await freePort()}\nhub:\n  url: mqtt://127.0.0.1:${hubPort}\n`),
      ]);
      expect(res.code).toBe(0);
      expect(res.out).toMatch(/ok {3}disk/);
      expect(res.out).toMatch(/ok {3}clock/);
      expect(res.out).toMatch(/ok {3}hub mqtt:\/\/127\.0\.0\.1/);
    } finally {
      hub.close();
    }
    const unreachable = await cli(["doctor", "--settings", settingsFile(`gatewayId: gw-1\nhub:\n  url: mqtt://127.0.0.1:${await freePort()}\n`)]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.out).toMatch(/FIX {2}cannot connect to the hub .*check hub\.url/);
  }, TEST_TIMEOUT_MS);
});
