import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt from "mqtt";
import { freePort } from "./ports.ts";

/** A real Debian mosquitto on a free loopback port: anonymous, nothing persisted (a baseline broker and an external broker in tests). */
export async function startMosquitto(): Promise<{ url: string; port: number; pid: number | undefined; close(): Promise<void> }> {
  const port = await freePort();
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
  for (let i = 0; ; i++) {
    if (!running || i === 100) throw new Error(`mosquitto -c ${conf} did not start on port ${port}`);
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
