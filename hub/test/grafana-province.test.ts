/**
 * Grafana for a province: a data source per region provisioned beside the central one (the dashboards of sites' data
 * choose theirs in a variable), and the province dashboard's queries, run as Grafana sends them against the central
 * database after `hub rollup` gathered two regions and the central one, return the exact totals.
 */
import { EventEmitter } from "node:events";
import { allDashboards, DATASOURCE_UID, UIDS } from "@supervision/dashboards";
import { localTimeToUtc } from "@supervision/firmware-protocols";
import { freePort } from "@supervision/test-support";
import type { IPoint } from "influx";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HubContext, HubEvents } from "../src/controller/extension.ts";
import { connectInflux } from "../src/influx/client.ts";
import { InfluxRegions } from "../src/influx/regions.ts";
import { createGrafanaExtension } from "../src/grafana/index.ts";
import { gatherRollups } from "../src/rollup/gather.ts";
import { startContractGrafana } from "./grafana-contract-server.ts";
import { asGrafanaSends } from "./grafana-queries.ts";
import { waitFor } from "./ingest-fixtures.ts";
import { provinceContext, provinceRegistry, type ProvinceInfluxd, startProvinceInfluxd } from "./regions-fixtures.ts";

const TZ = "Asia/Shanghai";
const TOKEN = "glsa_province";

describe("grafana: a data source per region", () => {
  it("provisions the central data source and one per region (grafana.regions where given), then leaves them unchanged", async () => {
    const server = await startContractGrafana({ port: await freePort(), token: TOKEN });
    const { registry } = provinceRegistry();
    const regions = new InfluxRegions(
      connectInflux("http://127.0.0.1:8086", "supervision"),
      new Map([
        ["east", connectInflux("http://127.0.0.1:8186", "supervision")],
        ["west", connectInflux("http://127.0.0.1:8286", "west_db")],
      ]),
      () => registry,
    );
    const ctx = {
      logger: pino({ level: "silent" }),
      events: new EventEmitter<HubEvents>(),
      registry: { current: () => registry, onChange: () => () => {} },
      regions,
    } as unknown as HubContext;
    const settings = {
      url: server.url,
      serviceAccountToken: TOKEN,
      retryIntervalMs: 50,
      datasource: { url: "http://influx-central:8086", database: "supervision", user: "grafana", password: "secret" },
      regions: { west: { url: "http://influx-west:8086" } },
    };
    try {
      for (const round of ["first", "second"]) {
        const ext = createGrafanaExtension(settings);
        await ext.start(ctx);
        try {
          await waitFor(() => (ext.status().state === "ready" ? true : undefined), 10_000, "grafana provisioned");
          const kept = round === "first" ? "created" : "unchanged";
          expect(ext.status().lastReport).toMatchObject({ datasource: kept, regionDatasources: { east: kept, west: kept } });
        } finally {
          await ext.stop();
        }
      }
      expect(server.violations).toEqual([]);
      const sources = [...server.dataSources.values()].map((d) => [
        d.uid,
        d.name,
        d.url,
        (d.jsonData as { dbName: string }).dbName,
        d.user,
      ]);
      expect(sources).toEqual([
        [DATASOURCE_UID, "Supervision InfluxDB", "http://influx-central:8086", "supervision", "grafana"],
        [`${DATASOURCE_UID}-east`, "Supervision InfluxDB · 东区", "http://127.0.0.1:8186", "supervision", "grafana"],
        [`${DATASOURCE_UID}-west`, "Supervision InfluxDB · 西区", "http://influx-west:8086", "west_db", "grafana"],
      ]);
      // The data source variable offers exactly these (its regex), the central one chosen.
      const hall = server.dashboards.get(UIDS.hall)!.dashboard as { templating: { list: Array<{ type: string; regex?: string }> } };
      const regex = hall.templating.list[0]!.regex!.slice(1, -1);
      expect(sources.map(([, name]) => new RegExp(regex).test(String(name)))).toEqual([true, true, true]);
      expect(new RegExp(regex).test("Prometheus")).toBe(false);
      const province = server.dashboards.get(UIDS.province)!.dashboard as { panels: Array<{ datasource: { uid: string } }> };
      expect(province.panels.every((p) => p.datasource.uid === DATASOURCE_UID)).toBe(true);
    } finally {
      await server.close();
    }
  });
});

describe("the province dashboard on gathered rollups", () => {
  let influxd: ProvinceInfluxd;
  const database = "province_dashboard";
  beforeAll(async () => {
    influxd = await startProvinceInfluxd();
    const { registry } = provinceRegistry();
    const ctx = await provinceContext(influxd, registry, database);
    let ms = 0;
    const at = (date: string) => new Date(localTimeToUtc(date, "10:00", TZ) + ++ms * 1000);
    const place = (region: "east" | "west" | "north") =>
      ({
        east: { region: "east", town: "t1", site: "hall1" },
        west: { region: "west", town: "t2", site: "hall2" },
        north: { region: "north", town: "t3", site: "hall3" },
      })[region];
    const ratings = (
      region: "east" | "west" | "north",
      date: string,
      department: string,
      positive: number,
      negative: number,
      neutral = 0,
    ): IPoint[] =>
      Array.from({ length: positive + negative + neutral }, (_, i) => ({
        measurement: "rating",
        tags: { ...place(region), department, window: "w", clerk: "c" },
        fields: { seq: i, rated: 1, positive: i < positive ? 1 : 0, negative: i >= positive && i < positive + negative ? 1 : 0 },
        timestamp: at(date),
      }));
    const many = (n: number, point: (i: number) => IPoint): IPoint[] => Array.from({ length: n }, (_, i) => point(i));
    const counted = (
      measurement: string,
      region: "east" | "west",
      date: string,
      tags: Record<string, string>,
      fields: Record<string, number>,
      n: number,
    ) =>
      many(n, (i) => ({
        measurement,
        tags: { ...place(region), subject: `s${i}`, person: `p${i}`, ...tags },
        fields,
        timestamp: at(date),
      }));
    const east: IPoint[] = [
      ...ratings("east", "2026-11-16", "tax", 6, 0),
      ...ratings("east", "2026-11-16", "lic", 3, 1),
      ...ratings("east", "2026-10-20", "tax", 0, 2),
      ...counted("attendance", "east", "2026-11-16", { status: "on_time" }, { level: 0 }, 3),
      ...counted("attendance", "east", "2026-11-16", { status: "late" }, { level: 1 }, 1),
      ...counted("card", "east", "2026-11-16", { color: "green" }, { level: 0 }, 2),
      ...counted("card", "east", "2026-11-16", { color: "red" }, { level: 2 }, 1),
      ...counted("warning", "east", "2026-11-16", { category: "people", rule: "r" }, { active: 1 }, 2),
      ...counted("warning", "east", "2026-11-16", { category: "people", rule: "cleared" }, { active: 0 }, 1),
      ...counted("item_event", "east", "2026-11-16", { department: "tax", type: "accepted", item: "i" }, { seq: 1 }, 3),
      ...counted("item_event", "east", "2026-11-16", { department: "tax", type: "completed", item: "i" }, { seq: 2 }, 1),
    ];
    const west: IPoint[] = [
      ...ratings("west", "2026-11-16", "tax", 3, 2),
      ...counted("attendance", "west", "2026-11-16", { status: "absent" }, { level: 2 }, 2),
      ...counted("card", "west", "2026-11-16", { color: "yellow" }, { level: 1 }, 1),
      ...counted("warning", "west", "2026-11-16", { category: "equipment", rule: "r" }, { active: 1 }, 1),
      ...counted("item_event", "west", "2026-11-16", { department: "tax", type: "accepted", item: "i" }, { seq: 1 }, 2),
    ];
    await ctx.regions!.forRegion("east").influx.writePoints(east, { retentionPolicy: "raw" });
    await ctx.regions!.forRegion("west").influx.writePoints(west, { retentionPolicy: "raw" });
    await ctx.regions!.central.influx.writePoints(ratings("north", "2026-11-16", "tax", 4, 0), { retentionPolicy: "raw" });
    await gatherRollups(ctx.regions!, registry, { from: "2026-10-01", to: "2026-11-30", tz: TZ });
  }, 120_000);
  afterAll(() => influxd?.close());

  const board = allDashboards().find((d) => d.uid === UIDS.province)!;
  /** A panel's query as Grafana sends it (every region, the dashboard's six months), answered by the central database. */
  async function panel(index: number): Promise<Array<{ tags: Record<string, string>; rows: unknown[][] }>> {
    const query = asGrafanaSends(board.panels[index]!.targets[0]!.query, board.time.from);
    const answer = await influxd.central.query(query, database);
    expect(answer.results[0]?.error, query).toBeUndefined();
    return (answer.results[0]?.series ?? []).map((s) => ({ tags: s.tags ?? {}, rows: s.values.map((row) => row.slice(1)) }));
  }
  const byTags = async (index: number, key: (tags: Record<string, string>) => string) =>
    Object.fromEntries((await panel(index)).map((s) => [key(s.tags), s.rows.length === 1 ? s.rows[0] : s.rows]));

  it("shows each region's satisfaction and ratings over the range", async () => {
    expect(board.panels.map((p) => p.title)).toEqual([
      "各地区满意率",
      "各地区评价数",
      "各地区考勤结果",
      "各地区警示牌",
      "各地区预警数",
      "各部门审批事项",
      "各地区每月满意率",
    ]);
    // east: 9 of 12 (October's two dissatisfied count in the six months), west 3 of 5, north 4 of 4.
    expect(await byTags(0, (t) => t.region!)).toEqual({ east: [75], west: [60], north: [100] });
    expect(await byTags(1, (t) => t.region!)).toEqual({ east: [12, 9, 3], west: [5, 3, 2], north: [4, 4, 0] });
  });

  it("counts attendance, cards, warnings raised and item events exactly", async () => {
    expect(await byTags(2, (t) => `${t.region}/${t.status}`)).toEqual({ "east/on_time": [3], "east/late": [1], "west/absent": [2] });
    expect(await byTags(3, (t) => `${t.region}/${t.color}`)).toEqual({ "east/green": [2], "east/red": [1], "west/yellow": [1] });
    expect(await byTags(4, (t) => `${t.region}/${t.category}`)).toEqual({ "east/people": [2], "west/equipment": [1] });
    expect(await byTags(5, (t) => `${t.department}/${t.type}`)).toEqual({ "tax/accepted": [5], "tax/completed": [1] });
  });

  it("draws each region's satisfaction per month from the month rows, on each month's first day", async () => {
    const query = asGrafanaSends(board.panels[6]!.targets[0]!.query, board.time.from);
    const answer = await influxd.central.query(query, database);
    const points = Object.fromEntries((answer.results[0]?.series ?? []).map((s) => [s.tags?.region, s.values]));
    const [october, november] = [Date.UTC(2026, 9, 1), Date.UTC(2026, 10, 1)];
    expect(points).toEqual({
      east: [
        [october, 0],
        [november, 90],
      ],
      west: [[november, 60]],
      north: [[november, 100]],
    });
  });
});
