import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt from "mqtt";
import { freePort } from "./ports.ts";

/** A real Debian mosquitto on a free loopback port: anonymous, nothing persisted (a baseline broker and an external broker in tests). */
export async function startMosquitto(): Promise<{ url: string; port: number; pid: number | undefined; close(): Promise<void> }> {
  // A port found free can still be taken by another process before mosquitto binds it (another test suite running
  // at the same time): then mosquitto exits at once, and another port is tried.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startMosquittoOn(await freePort());
    } catch (error) {
      if (attempt === 3 || !(error instanceof MosquittoExited)) throw error;
    }
  }
}

class MosquittoExited extends Error {}

async function startMosquittoOn(port: number): Promise<{ url: string; port: number; pid: number | undefined; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), "mosquitto-test-"));
  const conf = join(dir, "mosquitto.conf");
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
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
