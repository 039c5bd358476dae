import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManagedInfluxd } from "@supervision/influxd";
import { freePort } from "./ports.ts";

export interface TestInfluxd {
  url: string;
  port: number;
  /** The process, for tests that stop and restart InfluxDB. */
  server: ManagedInfluxd;
  /** Runs an InfluxQL statement and returns the parsed JSON answer. */
  query(q: string, db?: string): Promise<InfluxQueryResult>;
  /** Stops influxd and deletes its data. */
  close(): Promise<void>;
}

export interface InfluxQueryResult {
  results: Array<{
    series?: Array<{ name: string; tags?: Record<string, string>; columns: string[]; values: unknown[][] }>;
    error?: string;
  }>;
}

/** Starts a throw-away influxd on free loopback ports with its own data directory. */
export async function startInfluxd(): Promise<TestInfluxd> {
  const dataDir = mkdtempSync(join(tmpdir(), "influxd-test-"));
  let httpPort = 0;
  let server: ManagedInfluxd;
  // A port found free can still be taken by another process before influxd binds it (another test suite running
  // at the same time): then influxd exits at once, and another pair of ports is tried.
  for (let attempt = 1; ; attempt++) {
    const rpcPort = await freePort();
    httpPort = await freePort();
    server = new ManagedInfluxd({ dataDir, httpPort, rpcPort });
    try {
      await server.start();
      break;
    } catch (error) {
      await server.stop();
      if (attempt === 3 || !String(error).includes("exited during start")) {
        rmSync(dataDir, { recursive: true, force: true });
        throw error;
      }
    }
  }
  return {
    url: server.url,
    port: httpPort,
    server,
    async query(q, db) {
      const params = new URLSearchParams({ q, epoch: "ms" });
      if (db) params.set("db", db);
      const res = await fetch(`${server.url}/query`, { method: "POST", body: params });
      return (await res.json()) as InfluxQueryResult;
    },
    async close() {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Closes `previous` and starts another influxd: for benchmark phases, as an influxd still compacting an earlier
 * phase's points would charge that work to the next one.
 */
export async function freshInfluxd(previous: TestInfluxd): Promise<TestInfluxd> {
  await previous.close();
  return startInfluxd();
}
