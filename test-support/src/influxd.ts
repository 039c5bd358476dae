import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManagedInfluxd, type ManagedInfluxdOptions } from "@supervision/influxd";
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

/** What a throw-away influxd may be started with (ManagedInfluxdOptions). */
export type TestInfluxdOptions = Pick<ManagedInfluxdOptions, "cacheSnapshotBytes">;

/** Starts a throw-away influxd on free loopback ports with its own data directory. */
export async function startInfluxd(options: TestInfluxdOptions = {}): Promise<TestInfluxd> {
  const dataDir = mkdtempSync(join(tmpdir(), "influxd-test-"));
  let httpPort = 0;
  let server: ManagedInfluxd;
  // A port found free can still be taken by another process before influxd binds it (another test suite running
  // at the same time): then influxd exits at once, and another pair of ports is tried.
  for (let attempt = 1; ; attempt++) {
    const rpcPort = await freePort();
    httpPort = await freePort();
    server = new ManagedInfluxd({ dataDir, httpPort, rpcPort, ...options });
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
export async function freshInfluxd(previous: TestInfluxd, options: TestInfluxdOptions = {}): Promise<TestInfluxd> {
  await previous.close();
  return startInfluxd(options);
}

/**
 * The rows of a query's first series, each as column → value, once every row holds a value in each of `complete`;
 * before that, none. influxd stores a point's fields one by one, so a query can see a point whose other fields are not
 * there yet (a test waiting for a row then read nulls).
 */
export async function completeRows(
  influxd: TestInfluxd,
  q: string,
  db: string,
  complete: readonly string[],
): Promise<Record<string, unknown>[]> {
  const series = (await influxd.query(q, db)).results[0]?.series?.[0];
  const rows = (series?.values ?? []).map((v) => Object.fromEntries(series!.columns.map((c, i) => [c, v[i]])));
  return rows.every((row) => complete.every((name) => row[name] !== null && row[name] !== undefined)) ? rows : [];
}
