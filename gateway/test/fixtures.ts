import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type GatewayConfig, type GatewayDevice, hashSecret } from "@supervision/firmware-protocols";
import { freePort } from "@supervision/test-support";
import { stringify } from "yaml";
import { GATEWAY_ENV, GATEWAY_NODE_FLAGS } from "../bin/node-flags.mjs";

/** A hall with keypads kp-w1..kp-wN (window wN, secret "secret-kp-wN"), and a sign-in terminal term-1 ("secret-term-1"). */
export function hallConfig(keypads: number, gatewayId = "gw-test"): GatewayConfig {
  const device = (id: string, kind: GatewayDevice["kind"], windowId?: string): GatewayDevice => ({
    id,
    kind,
    secretHash: hashSecret(`secret-${id}`),
    windowId,
    heartbeatS: 60,
  });
  return {
    v: 1,
    gatewayId,
    version: 1,
    site: { id: "hall-test", name: "Test hall", kind: "hall", tz: "Asia/Shanghai" },
    devices: [...Array.from({ length: keypads }, (_, i) => device(`kp-w${i + 1}`, "keypad", `w${i + 1}`)), device("term-1", "terminal")],
    windows: Array.from({ length: keypads }, (_, i) => ({ id: `w${i + 1}`, name: `Window ${i + 1}`, departmentId: "tax" })),
    people: [{ id: "c1", name: "Li Na", post: "Tax clerk", windowId: "w1" }],
  };
}

export function ratingPayload(deviceId: string, seq: number, windowId: string, ts = Date.now()): string {
  return JSON.stringify({ v: 1, deviceId, seq, ts, windowId, outcome: "rated", scale: "four", key: 1, level: "very_satisfied" });
}

export interface GatewayUnderTest {
  readonly dir: string;
  readonly dataDir: string;
  readonly settingsFile: string;
  readonly devicePort: number;
  readonly httpPort: number;
  /** Written to the settings file at each start(); change it between restarts. */
  settings: Record<string, unknown>;
  child: ChildProcess;
  /** Starts (or restarts) the gateway process and waits for /healthz. */
  start(): Promise<void>;
  /** SIGKILL: no shutdown code runs, as in a power cut. */
  kill9(): Promise<void>;
  stop(): Promise<void>;
  /** Stops it if running and deletes its files. */
  cleanup(): Promise<void>;
  stderr(): string;
}

/** A real gateway process (`gateway start`) with its own data dir and free ports. */
export async function gatewayProcess(opts: {
  hubUrl?: string;
  /** The config to start with; without it the gateway waits for the hub's. */
  config?: GatewayConfig;
  gatewayId?: string;
  extra?: Record<string, unknown>;
  /** The program to run: the TypeScript source through tsx (default), or a built bundle (gateway/dist). */
  entry?: string;
  /** Extra environment of the process (e.g. libfaketime's, for a gateway whose clock jumps). */
  env?: NodeJS.ProcessEnv;
}): Promise<GatewayUnderTest> {
  const program = opts.entry ? [opts.entry] : ["--import", "tsx", fileURLToPath(new URL("../src/cli/main.ts", import.meta.url))];
  const dir = mkdtempSync(join(tmpdir(), "gateway-e2e-"));
  const dataDir = join(dir, "data");
  const [devicePort, httpPort] = [await freePort(), await freePort()];
  const settingsFile = join(dir, "gateway.yaml");
  const settings: Record<string, unknown> = {
    gatewayId: opts.config?.gatewayId ?? opts.gatewayId,
    dataDir,
    broker: { host: "127.0.0.1", port: devicePort },
    http: { host: "127.0.0.1", port: httpPort },
    // A password of this test only: `gateway start` refuses to run without one.
    hub: { url: opts.hubUrl ?? "mqtt://127.0.0.1:1884", password: `test-${randomBytes(9).toString("hex")}` },
    logLevel: "warn",
    config: opts.config,
    ...opts.extra,
  };
  let errors = "";
  const gateway: GatewayUnderTest = {
    dir,
    dataDir,
    settingsFile,
    devicePort,
    httpPort,
    settings,
    child: undefined as unknown as ChildProcess,
    async start() {
      writeFileSync(settingsFile, stringify(settings));
      const child = spawn(process.execPath, [...GATEWAY_NODE_FLAGS, ...program, "start", "--settings", settingsFile], {
        stdio: ["ignore", "ignore", "pipe"],
        env: { ...process.env, ...GATEWAY_ENV, ...opts.env },
      });
      child.stderr?.on("data", (chunk: Buffer) => {
        errors = (errors + chunk.toString()).slice(-20_000);
      });
      gateway.child = child;
      // A generous bound: through tsx on a busy shared machine a start can take tens of seconds.
      const deadline = Date.now() + 120_000;
      for (;;) {
        if (child.exitCode !== null) throw new Error(`the gateway exited with ${child.exitCode}: ${errors}`);
        if (Date.now() > deadline) throw new Error(`the gateway did not answer /healthz within 120 s: ${errors}`);
        try {
          if ((await fetch(`http://127.0.0.1:${httpPort}/healthz`)).ok) return;
        } catch {
          // not listening yet
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async kill9() {
      const exited = new Promise((r) => gateway.child.once("exit", r));
      gateway.child.kill("SIGKILL");
      await exited;
    },
    async stop() {
      const child = gateway.child;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    },
    async cleanup() {
      await gateway.stop();
      rmSync(dir, { recursive: true, force: true });
    },
    stderr: () => errors,
  };
  return gateway;
}

/** Polls until `check` returns true, or fails with `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
