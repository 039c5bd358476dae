import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt from "mqtt";
import { freePort } from "./ports.ts";

export interface MosquittoOptions {
  /** A port of the caller's (a broker restarted where it was); default: a free one. */
  port?: number;
  /** More lines of mosquitto.conf, e.g. a bridge to another broker. */
  config?: string[];
}

/**
 * A real Debian mosquitto on a loopback port: anonymous, nothing persisted (a baseline broker, an external broker in
 * tests, the hall and central brokers of an improvised bridge).
 */
export async function startMosquitto(
  opts: MosquittoOptions = {},
): Promise<{ url: string; port: number; pid: number | undefined; close(): Promise<void> }> {
  if (opts.port !== undefined) return startMosquittoOn(opts.port, opts.config);
  // A port found free can still be taken by another process before mosquitto binds it (another test suite running
  // at the same time): then mosquitto exits at once, and another port is tried.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startMosquittoOn(await freePort(), opts.config);
    } catch (error) {
      if (attempt === 3 || !(error instanceof MosquittoExited)) throw error;
    }
  }
}

class MosquittoExited extends Error {}

async function startMosquittoOn(
  port: number,
  extra: string[] = [],
): Promise<{ url: string; port: number; pid: number | undefined; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), "mosquitto-test-"));
  const conf = join(dir, "mosquitto.conf");
  writeFileSync(conf, [`listener ${port} 127.0.0.1`, "allow_anonymous true", "persistence false", ...extra, ""].join("\n"));
  const child = spawn("mosquitto", ["-c", conf], { stdio: "ignore" });
  let running = true;
  const exited = new Promise<void>((r) =>
    child.once("exit", () => {
      running = false;
      r();
    }),
  );
  const url = `mqtt://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (!running) {
      rmSync(dir, { recursive: true, force: true });
      throw new MosquittoExited(`mosquitto -c ${conf} exited at start (port ${port} taken?)`);
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      await exited;
      throw new Error(`mosquitto -c ${conf} did not accept connections on port ${port} within 30 s`);
    }
    try {
      const c = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 500 });
      await c.endAsync();
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    url,
    port,
    pid: child.pid,
    async close() {
      child.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
