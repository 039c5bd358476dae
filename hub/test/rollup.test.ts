/**
 * Province rollups on real influxd processes (two regions and the central database): every number gathered is
 * checked against a recount of the points written, day by day and month by month in the province's zone; re-runs
 * change nothing, a changed region is followed exactly, and `hub rollup` refuses bad input with a usage error.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { localDate, localTimeToUtc } from "@supervision/firmware-protocols";
import type { IPoint } from "influx";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { rollupCommand } from "../src/cli/rollup.ts";
import type { HubContext } from "../src/controller/extension.ts";
import { InfluxRegions } from "../src/influx/regions.ts";
import { createRollupExtension } from "../src/rollup/extension.ts";
import { waitFor } from "./ingest-fixtures.ts";
import { datesBetween, gatherRollups, ROLLUPS, rollupSources } from "../src/rollup/gather.ts";
import { provinceContext, provinceRegistry, type ProvinceInfluxd, startProvinceInfluxd } from "./regions-fixtures.ts";
import type { TestInfluxd } from "@supervision/test-support";

const TZ = "Asia/Shanghai";
let influxd: ProvinceInfluxd;
beforeAll(async () => {
  influxd = await startProvinceInfluxd();
}, 90_000);
afterAll(() => influxd?.close());

/** A point as written, with where it went. */
interface Written {
  db: "central" | "east" | "west";
  point: IPoint & { timestamp: number };
}

const PLACES = {
  east: { region: "east", town: "t1", site: "hall1" },
  west: { region: "west", town: "t2", site: "hall2" },
  north: { region: "north", town: "t3", site: "hall3" },
};

/** Deterministic points of every counted kind: the two days judged, the evening before, and the month before. */
function generate(seed: number): Written[] {
  let state = seed;
  const rand = (n: number) => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return Math.floor(state / 65_536) % n; // the high bits: an LCG's low bits repeat with a short period
  };
  const out: Written[] = [];
  let ms = 0;
  const times = [
    localTimeToUtc("2026-11-16", "00:00", TZ), // the first local minute of the day (16:00 UTC the day before)
    localTimeToUtc("2026-11-16", "10:00", TZ),
    localTimeToUtc("2026-11-17", "23:30", TZ),
    localTimeToUtc("2026-11-15", "23:59", TZ), // the evening before: in the month, not in the days gathered
    localTimeToUtc("2026-10-31", "12:00", TZ), // last month: in neither
  ];
  const sources: Array<[Written["db"], keyof typeof PLACES]> = [
    ["east", "east"],
    ["west", "west"],
    ["central", "north"],
    ["central", "east"], // stored centrally before east had its own InfluxDB: not counted
  ];
  for (const [db, placeName] of sources) {
    const place = PLACES[placeName];
    for (const base of times) {
      const at = () => base + ++ms * 1000;
      for (let i = 0, n = 1 + rand(6); i < n; i++) {
        const positive = rand(3) > 0 ? 1 : 0;
        out.push({
          db,
          point: {
            measurement: "rating",
            tags: { ...place, department: rand(2) ? "tax" : "lic", window: "w", clerk: "c", device: `kp${i}` },
            fields: { seq: i, rated: 1, positive, negative: positive ? 0 : rand(2) },
            timestamp: at(),
          },
        });
      }
      for (let i = 0, n = rand(4); i < n; i++)
        out.push({
          db,
          point: {
            measurement: "attendance",
            tags: { ...place, person: `p${i}`, role: "clerk", status: ["on_time", "late", "absent"][rand(3)]! },
            fields: { level: rand(3) },
            timestamp: at(),
          },
        });
      for (let i = 0, n = rand(4); i < n; i++)
        out.push({
          db,
          point: {
            measurement: "card",
            tags: { ...place, subject_kind: "clerk", subject: `p${i}`, color: ["green", "yellow", "red"][rand(3)]! },
            fields: { level: rand(3) },
            timestamp: at(),
          },
        });
      for (let i = 0, n = rand(5); i < n; i++)
        out.push({
          db,
          point: {
            measurement: "warning",
            tags: { ...place, category: ["people", "equipment", "items"][rand(3)]!, subject_kind: "window", subject: `w${i}`, rule: "r" },
            fields: { active: rand(2), message: "m" },
            timestamp: at(),
          },
        });
      for (let i = 0, n = rand(4); i < n; i++)
        out.push({
          db,
          point: {
            measurement: "item_event",
            tags: { ...place, department: rand(2) ? "tax" : "lic", item: "i1", device: "sys", type: ["accepted", "completed"][rand(2)]! },
            fields: { seq: ms, application: `a${i}` },
            timestamp: at(),
          },
        });
    }
  }
  return out;
}

/** The rollups a recount of `points` gives for local days from..to and the months they touch: key → fields. */
function recount(points: Written[], from: string, to: string): Map<string, Record<string, number>> {
  const days = new Set(datesBetween(from, to));
  const months = new Set([...days].map((d) => d.slice(0, 7)));
  const expected = new Map<string, Record<string, number>>();
  const add = (key: string, fields: Record<string, number>) => {
    const into = expected.get(key) ?? {};
    for (const [f, v] of Object.entries(fields)) into[f] = (into[f] ?? 0) + v;
    expected.set(key, into);
  };
  for (const { db, point } of points) {
    const tags = point.tags!;
    if (db === "central" && tags.region !== "north") continue; // east's old points in the central database
    const spec = ROLLUPS.find((r) => r.from === point.measurement)!;
    if (spec.where && point.fields!.active !== 1) continue;
    const date = localDate(point.timestamp, TZ);
    const byTags = [...["region", "town", "site"], ...spec.by].map((t) => `${t}=${tags[t]}`).join(",");
    const f = point.fields as Record<string, number>;
    const fields: Record<string, number> =
      spec.into === "province_rating"
        ? { rated: f.rated!, positive: f.positive!, negative: f.negative! }
        : spec.into === "province_warning"
          ? { raised: 1 }
          : { count: 1 };
    if (days.has(date)) add(`${spec.into}|day|${localTimeToUtc(date, "00:00", TZ)}|${byTags}`, fields);
    if (months.has(date.slice(0, 7))) add(`${spec.into}|month|${Date.parse(`${date.slice(0, 7)}-01T00:00:00Z`)}|${byTags}`, fields);
  }
  return expected;
}

/** What the central database holds of the province rollups, in recount()'s keys. */
async function gathered(central: TestInfluxd, database: string): Promise<Map<string, Record<string, number>>> {
  const found = new Map<string, Record<string, number>>();
  for (const spec of ROLLUPS) {
    const res = await central.query(`SELECT * FROM "rollup"."${spec.into}" GROUP BY *`, database);
    for (const series of res.results[0]?.series ?? []) {
      const tags = series.tags ?? {};
      const byTags = [...["region", "town", "site"], ...spec.by].map((t) => `${t}=${tags[t]}`).join(",");
      for (const row of series.values) {
        const fields: Record<string, number> = {};
        series.columns.forEach((c, i) => {
          if (c !== "time" && typeof row[i] === "number") fields[c] = row[i] as number;
        });
        found.set(`${spec.into}|${tags.period}|${row[0] as number}|${byTags}`, fields);
      }
    }
  }
  return found;
}

async function writeAll(ctx: HubContext, points: Written[]): Promise<void> {
  const regions = ctx.regions!;
  for (const db of ["central", "east", "west"] as const) {
    const connection = db === "central" ? regions.central : regions.forRegion(db);
    const mine = points.filter((p) => p.db === db).map((p) => ({ ...p.point, timestamp: new Date(p.point.timestamp) }));
    if (mine.length > 0) await connection.influx.writePoints(mine, { retentionPolicy: "raw" });
  }
}

const sorted = (m: Map<string, Record<string, number>>) => [...m].sort(([a], [b]) => a.localeCompare(b));

describe("province rollups", () => {
  it("gathers each region's days and months into the central database, exactly as a recount", async () => {
    const { registry } = provinceRegistry();
    const database = "province_rollup";
    const ctx = await provinceContext(influxd, registry, database);
    expect(rollupSources(ctx.regions!, registry).map((s) => [s.name, s.regions])).toEqual([
      ["east", ["east"]],
      ["west", ["west"]],
      ["central", ["north"]],
    ]);
    const points = generate(7);
    await writeAll(ctx, points);
    const progress: string[] = [];
    const result = await gatherRollups(ctx.regions!, registry, {
      from: "2026-11-16",
      to: "2026-11-17",
      tz: TZ,
      progress: (l) => progress.push(l),
    });
    expect(result.days).toBe(2);
    expect(result.months).toEqual(["2026-11"]);
    expect(progress).toHaveLength(6); // three sources, the days and the month each
    expect(progress[0]).toMatch(/^east: days 2026-11-16\.\.2026-11-17: \d+ rollup points$/);

    const expected = recount(points, "2026-11-16", "2026-11-17");
    expect(expected.size).toBeGreaterThan(40);
    expect(sorted(await gathered(influxd.central, database))).toEqual(sorted(expected));
    // Nothing of it in the regions' databases.
    const inEast = await influxd.east.query(`SELECT count(*) FROM "rollup"."province_rating"`, database);
    expect(inEast.results[0]?.series).toBeUndefined();

    // A second run changes nothing; a region changed since is followed exactly (no stale rollup left).
    await gatherRollups(ctx.regions!, registry, { from: "2026-11-16", to: "2026-11-17", tz: TZ });
    expect(sorted(await gathered(influxd.central, database))).toEqual(sorted(expected));
    await ctx.regions!.forRegion("west").influx.query(`DELETE FROM "rating" WHERE time >= '2026-11-16T00:00:00Z'`);
    const remaining = points.filter(
      (p) => !(p.db === "west" && p.point.measurement === "rating" && p.point.timestamp >= Date.parse("2026-11-16T00:00:00Z")),
    );
    await gatherRollups(ctx.regions!, registry, { from: "2026-11-16", to: "2026-11-17", tz: TZ });
    expect(sorted(await gathered(influxd.central, database))).toEqual(sorted(recount(remaining, "2026-11-16", "2026-11-17")));
  }, 120_000);

  it("with no region of its own, gathers everything from the one database into itself", async () => {
    const { registry } = provinceRegistry();
    const database = "province_single";
    const ctx = await provinceContext(influxd, registry, database);
    const single = { ...ctx, regions: new InfluxRegions(ctx.regions!.central, new Map(), () => registry) };
    expect(rollupSources(single.regions, registry).map((s) => [s.name, s.regions])).toEqual([["central", ["east", "west", "north"]]]);
    const points = generate(11).map((p) => ({ ...p, db: "central" as const }));
    await writeAll(single, points);
    await gatherRollups(single.regions, registry, { from: "2026-11-17", to: "2026-11-17", tz: TZ });
    // Every region counted from the one database (east's points twice as many: both of generate's east sources).
    const expected = recount(
      points.map((p) => ({ ...p, db: "east" as const })),
      "2026-11-17",
      "2026-11-17",
    );
    expect(sorted(await gathered(influxd.central, database))).toEqual(sorted(expected));
  }, 120_000);
});

describe("the scheduled rollup", () => {
  it("gathers the last rollup.days local days at start and says so in its status", async () => {
    const { registry } = provinceRegistry();
    const database = "province_scheduled";
    const ctx = await provinceContext(influxd, registry, database);
    ctx.now = () => localTimeToUtc("2026-11-17", "08:00", TZ);
    const points = generate(3);
    await writeAll(ctx, points);
    const extension = createRollupExtension({ intervalMinutes: 60, days: 2, tz: TZ });
    await extension.start(ctx);
    try {
      await waitFor(() => (extension.status().lastRunAt ? true : undefined), 30_000, "the first scheduled rollup");
    } finally {
      await extension.stop();
    }
    expect(extension.status()).toMatchObject({ intervalMinutes: 60, error: null, lastRunAt: "2026-11-17T00:00:00.000Z" });
    expect(sorted(await gathered(influxd.central, database))).toEqual(sorted(recount(points, "2026-11-16", "2026-11-17")));
  }, 60_000);
});

describe("hub rollup", () => {
  async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
    const out: string[] = [];
    const err: string[] = [];
    const log = vi.spyOn(console, "log").mockImplementation((...a: unknown[]) => void out.push(a.join(" ")));
    const error = vi.spyOn(console, "error").mockImplementation((...a: unknown[]) => void err.push(a.join(" ")));
    try {
      const code = await rollupCommand.run(args);
      return { code, out: out.join("\n"), err: err.join("\n") };
    } finally {
      log.mockRestore();
      error.mockRestore();
    }
  }

  function settingsFile(text: string): string {
    const dir = mkdtempSync(join(tmpdir(), "hub-rollup-"));
    const file = join(dir, "hub.yaml");
    writeFileSync(file, text);
    return file;
  }

  it("answers --help, and refuses bad dates and arguments with a usage error", async () => {
    const help = await cli(["--help"]);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/^Usage: hub rollup/);
    const file = settingsFile(`registry: { dir: ${resolve("config/registry")} }\n`);
    for (const [args, message] of [
      [["--from", "2026-13-01"], '--from "2026-13-01" is not a date (YYYY-MM-DD)'],
      [["--from", "2026-02-30"], '--from "2026-02-30" is not a date'],
      [["--from", "x".repeat(10_000)], "is not a date"],
      [["--from", "2026-11-17", "--to", "2026-11-16"], "--to 2026-11-16 is before --from 2026-11-17"],
      [["--from", "2024-01-01", "--to", "2026-01-01"], "at most 366 days"],
      [["--from", "2026-11-16'; DROP DATABASE x; --"], "is not a date"],
      [["--bogus"], "Unknown option '--bogus'"],
    ] as const) {
      const { code, err } = await cli([...args, "--settings", file]);
      expect(code, args.join(" ")).toBe(2);
      expect(err).toContain(message);
    }
  });

  it("names a region the registry does not know at its settings line, and gathers with progress", async () => {
    const unknown = settingsFile(
      `registry: { dir: ${resolve("config/registry")} }\ninflux:\n  url: ${influxd.central.url}\n  regions:\n    nowhere: { url: ${influxd.east.url} }\n`,
    );
    const refused = await cli(["--settings", unknown]);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain(`${unknown}:5: influx.regions.nowhere: the registry has no region "nowhere" (its regions: east)`);

    const file = settingsFile(
      `registry: { dir: ${resolve("config/registry")} }\ninflux:\n  url: ${influxd.central.url}\n  database: cli_rollup\n  regions:\n    east: { url: ${influxd.east.url} }\n`,
    );
    const { registry } = provinceRegistry();
    const ctx = await provinceContext(influxd, registry, "cli_rollup");
    await ctx.regions!.forRegion("east").influx.writePoints(
      [
        {
          measurement: "rating",
          tags: { region: "east", town: "riverside", site: "hall-1", department: "tax" },
          fields: { rated: 1, positive: 1, negative: 0 },
          timestamp: new Date(localTimeToUtc("2026-11-16", "10:00", TZ)),
        },
      ],
      { retentionPolicy: "raw" },
    );
    const run = await cli(["--settings", file, "--from", "2026-11-16", "--to", "2026-11-16", "--json"]);
    expect(run.err).toContain("hub rollup: east: days 2026-11-16..2026-11-16: 1 rollup points");
    expect(run.err).toContain("hub rollup: east: month 2026-11: 1 rollup points");
    expect(run.code).toBe(0);
    expect(JSON.parse(run.out)).toMatchObject({ days: 1, months: ["2026-11"], written: { east: { province_rating: 2 } } });
    const stored = await influxd.central.query(
      `SELECT "rated", "positive" FROM "rollup"."province_rating" WHERE "period" = 'day'`,
      "cli_rollup",
    );
    expect(stored.results[0]?.series?.[0]?.values).toEqual([[localTimeToUtc("2026-11-16", "00:00", TZ), 1, 1]]);
  }, 60_000);
});
