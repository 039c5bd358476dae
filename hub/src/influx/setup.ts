import type { InfluxDB } from "influx";
import type { Logger } from "pino";

/** Retention policies of hub/SCHEMA.md; `raw` is the default. */
export const RETENTION_POLICIES = [
  { name: "raw", duration: "1095d", isDefault: true },
  { name: "health", duration: "30d", isDefault: false },
  { name: "rollup", duration: "INF", isDefault: false },
  // Each gateway's hash chain, timestamped by sequence number (hub/SCHEMA.md, batch_chain): kept for ever.
  { name: "chain", duration: "INF", isDefault: false },
] as const;

/** How long each policy keeps points, in ms (Infinity for INF): the ingest refuses older points before InfluxDB would. */
export const RETENTION_MS: Readonly<Record<string, number>> = Object.fromEntries(
  RETENTION_POLICIES.map((rp) => [rp.name, rp.duration === "INF" ? Infinity : Number.parseInt(rp.duration, 10) * 86_400_000]),
);

/** The rollups of hub/SCHEMA.md, read by month-scale dashboards. */
export function continuousQueries(database: string): Array<{ name: string; query: string }> {
  const into = (m: string) => `"${database}"."rollup"."${m}"`;
  const from = (m: string) => `"${database}"."raw"."${m}"`;
  return [
    {
      name: "cq_rating_1h",
      query: `SELECT sum(rated) AS rated, sum(positive) AS positive, sum(negative) AS negative INTO ${into("rating_1h")} FROM ${from("rating")} GROUP BY time(1h), region, town, site, window, department, clerk`,
    },
    {
      name: "cq_motion_1h",
      query: `SELECT sum(active) AS starts INTO ${into("motion_1h")} FROM ${from("motion")} GROUP BY time(1h), region, town, site, window`,
    },
    {
      name: "cq_signin_1d",
      query: `SELECT count(seq) AS signins INTO ${into("signin_1d")} FROM ${from("signin")} GROUP BY time(1d), region, town, site, role`,
    },
  ];
}

/** Names of the database's continuous queries (the influx package's showContinousQueries mixes in other databases'). */
async function continuousQueryNames(influx: InfluxDB, database: string): Promise<Set<string>> {
  const raw = (await influx.queryRaw("SHOW CONTINUOUS QUERIES")) as {
    results: Array<{ series?: Array<{ name: string; values?: unknown[][] }> }>;
  };
  const series = raw.results.flatMap((r) => r.series ?? []).find((s) => s.name === database);
  return new Set((series?.values ?? []).map((row) => String(row[0])));
}

const alreadyExists = (e: unknown) => e instanceof Error && /already exists/i.test(e.message);

/**
 * Creates the database, its retention policies and continuous queries. Idempotent and safe to run from several
 * hub copies at once: existing policies are altered to the schema, and "already exists" from a racing copy is fine.
 */
export async function ensureDatabase(influx: InfluxDB, database: string, logger: Logger): Promise<void> {
  await influx.createDatabase(database); // CREATE DATABASE is a no-op when the database exists
  const existing = new Set((await influx.showRetentionPolicies(database)).map((rp) => rp.name));
  for (const rp of RETENTION_POLICIES) {
    const options = { database, duration: rp.duration, replication: 1, isDefault: rp.isDefault };
    if (existing.has(rp.name)) await influx.alterRetentionPolicy(rp.name, options);
    else {
      try {
        await influx.createRetentionPolicy(rp.name, options);
      } catch (e) {
        if (!alreadyExists(e)) throw e;
        await influx.alterRetentionPolicy(rp.name, options);
      }
    }
  }
  const present = await continuousQueryNames(influx, database);
  for (const cq of continuousQueries(database)) {
    if (present.has(cq.name)) continue;
    try {
      await influx.createContinuousQuery(cq.name, cq.query, database);
    } catch (e) {
      if (!alreadyExists(e)) throw e;
    }
  }
  logger.info({ database, retentionPolicies: RETENTION_POLICIES.map((rp) => rp.name) }, "influxdb database ready");
}
