/** Every dashboard query runs against a real influxd loaded with a day, and returns data of the panel's shape. */
import { allDashboards } from "@supervision/dashboards";
import { startInfluxd, type TestInfluxd } from "@supervision/test-support";
import { InfluxDB } from "influx";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureDatabase } from "../src/influx/setup.ts";
import { retentionPolicyFor } from "../src/ingest/points.ts";
import { dayPoints, dayRegistry } from "./grafana-day-fixture.ts";
import { localDate } from "@supervision/firmware-protocols";
import { connectInflux } from "../src/influx/client.ts";
import { InfluxRegions } from "../src/influx/regions.ts";
import { gatherRollups } from "../src/rollup/gather.ts";
import { asGrafanaSends, panelQueries } from "./grafana-queries.ts";

const DATABASE = "supervision";
let influxd: TestInfluxd;

beforeAll(async () => {
  influxd = await startInfluxd();
  const influx = new InfluxDB({ host: "127.0.0.1", port: influxd.port, database: DATABASE });
  await ensureDatabase(influx, DATABASE, pino({ level: "silent" }));
  const byPolicy = new Map<string, ReturnType<typeof dayPoints>>();
  for (const point of dayPoints(Date.now())) {
    const policy = retentionPolicyFor(point.measurement ?? "");
    byPolicy.set(policy, [...(byPolicy.get(policy) ?? []), point]);
  }
  for (const [retentionPolicy, points] of byPolicy) await influx.writePoints(points, { retentionPolicy, precision: "n" });
  // The province dashboard reads the rollups `hub rollup` gathers (here from the one database into itself).
  const registry = dayRegistry();
  const regions = new InfluxRegions(connectInflux(influxd.url, DATABASE), new Map(), () => registry);
  const now = Date.now();
  await gatherRollups(regions, registry, { from: localDate(now - 86_400_000, "UTC"), to: localDate(now, "UTC"), tz: "UTC" });
});

afterAll(async () => {
  await influxd?.close();
});

const cases = panelQueries();

describe("dashboard queries on a simulated day", () => {
  it.each(cases)("%s returns data", async (_name, query, panelType) => {
    const answer = await influxd.query(query, DATABASE);
    const [result] = answer.results;
    expect(result?.error).toBeUndefined();
    const series = result?.series ?? [];
    expect(series.length, query).toBeGreaterThan(0);
    const values = series.flatMap((s) => s.values.flatMap((row) => row.slice(1)));
    expect(
      values.some((v) => v !== null),
      query,
    ).toBe(true);
    for (const s of series) expect(s.columns[0]).toBe("time");
    if (panelType === "stat") expect(series).toHaveLength(1); // a stat shows one number per target
  });

  // Query variables ask InfluxDB; a custom one (the items dashboard's state filter) is a list of its own.
  it.each(
    allDashboards().flatMap((d) =>
      d.templating.list.filter((v) => v.type === "query").map((v) => [`${d.uid} $${v.name}`, v.query] as const),
    ),
  )("variable %s lists values", async (_name, query) => {
    const answer = await influxd.query(asGrafanaSends(query, "now/d"), DATABASE);
    const values = answer.results[0]?.series?.flatMap((s) => s.values) ?? [];
    expect(answer.results[0]?.error).toBeUndefined();
    expect(values.length).toBeGreaterThan(0);
  });

  it("the big-screen numbers match the day: one window attended, one unattended, satisfaction from ratings", async () => {
    const centre = allDashboards("en")[0];
    const number = async (title: string) => {
      const query = centre?.panels.find((p) => p.title === title)?.targets[0]?.query ?? "";
      const answer = await influxd.query(asGrafanaSends(query, "now/d"), DATABASE);
      return answer.results[0]?.series?.[0]?.values[0]?.[1];
    };
    expect(await number("Clerks at their post now")).toBe(1);
    expect(await number("Unattended windows now")).toBe(1);
    expect(await number("Ratings today")).toBe(12);
    // 8 of 12 rated presses are very satisfied or satisfied.
    expect(await number("Satisfaction rate today")).toBeCloseTo((8 * 100) / 12, 5);
  });
});
