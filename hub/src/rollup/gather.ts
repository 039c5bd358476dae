import { localTimeToUtc } from "@supervision/firmware-protocols";
import type { IPoint } from "influx";
import type { InfluxConnection } from "../influx/client.ts";
import { lit, ns, type Row } from "../influx/query.ts";
import type { InfluxRegions } from "../influx/regions.ts";
import type { Registry } from "../registry/schema.ts";
import { INFLUXQL, type Measurement } from "../schema/index.ts";
import { monthRange, nextDate } from "../supervision/calendar.ts";

/**
 * Province rollups (hub/SCHEMA.md, "Province rollups"): per region, per site and period (a local day, a local month),
 * the counts the province dashboard shows, read from each region's InfluxDB and written into the central database's
 * `rollup` policy. InfluxDB 1.x's continuous queries cannot read another server, so this is a query per region and
 * measurement and one write per region; re-running a period replaces its points (deleted, then written), so a
 * re-judged day or a late reading changes the rollup the next run and nothing is counted twice.
 */

/** One rollup: what it counts in which measurement, grouped by which tags besides region, town and site. */
interface RollupSpec {
  into: Measurement;
  from: Measurement;
  /** InfluxQL selectors, each `AS` a field of `into`. */
  select: string;
  /** A condition on the source's points besides time and region. */
  where?: string;
  by: readonly string[];
}

const { rating, attendance, card, warning, item_event } = INFLUXQL;

export const ROLLUPS: readonly RollupSpec[] = [
  {
    into: "province_rating",
    from: "rating",
    select: `sum(${rating.rated}) AS rated, sum(${rating.positive}) AS positive, sum(${rating.negative}) AS negative`,
    by: ["department"],
  },
  { into: "province_attendance", from: "attendance", select: `count(${attendance.level}) AS count`, by: ["status"] },
  { into: "province_card", from: "card", select: `count(${card.level}) AS count`, by: ["color"] },
  {
    into: "province_warning",
    from: "warning",
    select: `count(${warning.active}) AS raised`,
    where: `${warning.active} = 1`,
    by: ["category"],
  },
  { into: "province_item", from: "item_event", select: `count(${item_event.seq}) AS count`, by: ["department", "type"] },
];

const PLACE = ["region", "town", "site"] as const;

export type Period = "day" | "month";

/** Where a rollup reads: a region's InfluxDB (or the central one) and the regions whose sites it holds. */
export interface RollupSource {
  name: string;
  connection: InfluxConnection;
  regions: string[];
}

/**
 * The databases to read: each region with an InfluxDB of its own, and the central one for the registry's other
 * regions (all of them when no region has its own). Points whose region tag is not among a source's regions are not
 * counted there (in the central database: what was stored before its region had an InfluxDB of its own).
 */
export function rollupSources(regions: InfluxRegions, registry: Registry): RollupSource[] {
  const own = regions.regions();
  const listed = new Set(own.map(([region]) => region));
  const sources: RollupSource[] = own.map(([region, connection]) => ({ name: region, connection, regions: [region] }));
  const others = [...registry.regions.keys()].filter((r) => !listed.has(r));
  if (others.length > 0 || sources.length === 0) sources.push({ name: "central", connection: regions.central, regions: others });
  return sources;
}

export interface RollupRun {
  /** Local dates, inclusive, YYYY-MM-DD. */
  from: string;
  to: string;
  /** The zone days and months are counted in (rollup.tz). */
  tz: string;
  progress?: (line: string) => void;
}

export interface RollupResult {
  /** Points written per source and measurement. */
  written: Record<string, Record<string, number>>;
  days: number;
  months: string[];
}

/** The local dates from..to inclusive; throws for a range that is not one (at most 366 days). */
export function datesBetween(from: string, to: string): string[] {
  const DATE = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;
  for (const [name, date] of [
    ["from", from],
    ["to", to],
  ] as const)
    if (
      !DATE.test(date) ||
      Number.isNaN(Date.parse(`${date}T00:00:00Z`)) ||
      new Date(`${date}T00:00:00Z`).toISOString().slice(0, 10) !== date
    )
      throw new RangeError(`--${name} ${JSON.stringify(date.slice(0, 40))} is not a date (YYYY-MM-DD)`);
  if (to < from) throw new RangeError(`--to ${to} is before --from ${from}`);
  const dates: string[] = [];
  for (let d = from; d <= to; d = nextDate(d)) {
    dates.push(d);
    if (dates.length > 366) throw new RangeError("at most 366 days at once (run it again for the next range)");
  }
  return dates;
}

/** Gathers the periods of `run` from every source into the central database's `rollup` policy. */
export async function gatherRollups(regions: InfluxRegions, registry: Registry, run: RollupRun): Promise<RollupResult> {
  const dates = datesBetween(run.from, run.to);
  const months = [...new Set(dates.map((d) => d.slice(0, 7)))];
  // A month's points are stamped at 00:00 UTC of its first day, or its local start when that is later (zones west of
  // UTC): within the month either way, and a chart grouping by UTC day draws it on the 1st. A day's at its local midnight.
  const periods: Array<{ period: Period; label: string; from: number; to: number; stamp: number }> = [
    {
      period: "day",
      label: `${run.from}..${run.to}`,
      from: localTimeToUtc(run.from, "00:00", run.tz),
      to: localTimeToUtc(nextDate(run.to), "00:00", run.tz),
      stamp: 0,
    },
    ...months.map((month) => ({
      period: "month" as const,
      label: month,
      ...monthRange(month, run.tz),
      stamp: Math.max(monthRange(month, run.tz).from, Date.parse(`${month}-01T00:00:00Z`)),
    })),
  ];
  const result: RollupResult = { written: {}, days: dates.length, months };
  const central = regions.central.influx;
  for (const source of rollupSources(regions, registry)) {
    const written: Record<string, number> = (result.written[source.name] = {});
    if (source.regions.length === 0) continue;
    const regionWhere = `(${source.regions.map((r) => `"region" = ${lit(r)}`).join(" OR ")})`;
    for (const p of periods) {
      const points: IPoint[] = [];
      for (const spec of ROLLUPS) {
        const by = [...PLACE, ...spec.by].map((t) => `"${t}"`).join(", ");
        const time = `time >= ${ns(p.from)} AND time < ${ns(p.to)}`;
        const where = [time, regionWhere, spec.where].filter(Boolean).join(" AND ");
        const grouping = p.period === "day" ? `GROUP BY time(1d), ${by} fill(none) tz(${lit(run.tz)})` : `GROUP BY ${by}`;
        const rows = await source.connection.influx.query<Row>(
          `SELECT ${spec.select} FROM ${INFLUXQL[spec.from].FROM} WHERE ${where} ${grouping}`,
        );
        let n = 0;
        for (const row of rows) {
          const tags: Record<string, string> = { period: p.period };
          for (const tag of [...PLACE, ...spec.by]) {
            const value = row[tag];
            if (typeof value === "string" && value !== "") tags[tag] = value;
          }
          const fields: Record<string, number> = {};
          for (const [key, value] of Object.entries(row)) if (typeof value === "number" && key !== "time") fields[key] = value;
          if (Object.keys(fields).length === 0) continue;
          points.push({
            measurement: spec.into,
            tags,
            fields,
            timestamp: p.period === "day" ? `${row.time.getTime()}000000` : ns(p.stamp),
          });
          n++;
        }
        written[spec.into] = (written[spec.into] ?? 0) + n;
      }
      // Replaced whole: what an earlier run wrote for these regions and this period goes first.
      for (const spec of ROLLUPS)
        await central.query(
          `DELETE FROM "${spec.into}" WHERE ${regionWhere} AND "period" = ${lit(p.period)} AND time >= ${ns(p.from)} AND time < ${ns(p.to)}`,
        );
      for (let i = 0; i < points.length; i += 5000)
        await central.writePoints(points.slice(i, i + 5000), { retentionPolicy: "rollup", precision: "n" });
      run.progress?.(`${source.name}: ${p.period === "day" ? "days" : "month"} ${p.label}: ${points.length} rollup points`);
    }
  }
  return result;
}
