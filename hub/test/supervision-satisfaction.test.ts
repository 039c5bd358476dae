/**
 * Satisfaction-rate warnings: pure threshold logic, and the day's and month's rates read from ratings written the
 * way the ingest writes them into a real influxd.
 */
import { EventEmitter } from "node:events";
import { localTimeToUtc, type Reading } from "@supervision/firmware-protocols";
import { startInfluxd, type TestInfluxd } from "@supervision/test-support";
import { InfluxDB } from "influx";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HubEvents, WarningEvent } from "../src/controller/extension.ts";
import { ensureDatabase } from "../src/influx/setup.ts";
import type { Registry } from "../src/registry/schema.ts";
import { SupervisionSettings } from "../src/supervision/index.ts";
import { monthlyReport, monthRange, renderReport } from "../src/supervision/report.ts";
import { satisfactionWarnings } from "../src/supervision/rules/satisfaction/index.ts";
import { lowSatisfaction, SatisfactionThresholds } from "../src/supervision/rules/satisfaction/tally.ts";
import { judge, writeReadings } from "./supervision-fixtures.ts";

const TZ = "Asia/Shanghai";
const roster = {
  id: "office",
  shifts: [{ start: "09:00", end: "17:00" }],
  workingDays: ["mon", "tue", "wed", "thu", "fri"],
  graceMinutes: 5,
  absentAfterMinutes: 60,
  holidays: [],
  workdays: [],
  exceptions: [],
};
const registry: Registry = {
  version: 1,
  regions: new Map([["east", { id: "east", name: "East" }]]),
  towns: new Map([["riverside", { id: "riverside", name: "Riverside", region: "east" }]]),
  departments: new Map([["tax", { id: "tax", name: "Tax" }]]),
  sites: new Map([["hall-1", { id: "hall-1", kind: "hall", name: "Hall", town: "riverside", tz: TZ, gateway: "gw-1" }]]),
  windows: new Map([
    ["w1", { id: "w1", site: "hall-1", name: "Window 1", department: "tax", unattendedAfterMinutes: 30 }],
    ["w2", { id: "w2", site: "hall-1", name: "Window 2", department: "tax", unattendedAfterMinutes: 30 }],
  ]),
  people: new Map([
    ["c1", { id: "c1", name: "Li Na", role: "clerk", post: "Tax clerk", site: "hall-1", window: "w1", roster: "office" }],
    ["c2", { id: "c2", name: "Wang Wei", role: "clerk", post: "Tax clerk", site: "hall-1", window: "w2", roster: "office" }],
  ]),
  rosters: new Map([["office", roster]]),
  gateways: new Map(),
  devices: new Map([
    ["kp1", { id: "kp1", kind: "keypad", site: "hall-1", window: "w1", heartbeatS: 60, scale: "four" }],
    ["kp2", { id: "kp2", kind: "keypad", site: "hall-1", window: "w2", heartbeatS: 60, scale: "four" }],
  ]),
} as Registry;

const thresholds = SatisfactionThresholds.parse({});
let seq = 0;
function rating(device: "kp1" | "kp2", ts: number, level: "very_satisfied" | "satisfied" | "average" | "dissatisfied"): Reading {
  const [windowId, clerkId] = device === "kp1" ? ["w1", "c1"] : ["w2", "c2"];
  const key = { very_satisfied: 1, satisfied: 2, average: 3, dissatisfied: 4 }[level];
  return { kind: "rating", deviceId: device, seq: ++seq, ts, rxTs: ts, windowId, clerkId, outcome: "rated", scale: "four", key, level };
}

describe("satisfaction thresholds (pure)", () => {
  it("warns below the rate only with enough ratings, and exactly at the threshold not at all", () => {
    const t = { warnBelow: 0.9, minRated: 10 };
    const low = lowSatisfaction(
      [
        { subjectKind: "clerk", subject: "a", rated: 10, positive: 8 },
        { subjectKind: "clerk", subject: "b", rated: 10, positive: 9 },
        { subjectKind: "clerk", subject: "c", rated: 9, positive: 0 },
        { subjectKind: "window", subject: "w", rated: 0, positive: 0 },
      ],
      t,
    );
    expect(low).toEqual([{ subjectKind: "clerk", subject: "a", rated: 10, positive: 8, rate: 0.8 }]);
  });

  it("rejects thresholds that make no sense with a clear error", () => {
    expect(() => SatisfactionThresholds.parse({ warnBelow: 1.5 })).toThrow(/warnBelow/);
    expect(() => SatisfactionThresholds.parse({ minRated: 0 })).toThrow(/minRated/);
    expect(() => SatisfactionThresholds.parse({ warnbelow: 0.5 })).toThrow(/warnbelow/);
    expect(SatisfactionThresholds.parse({})).toEqual({ warnBelow: 0.9, minRated: 10 });
  });
});

describe("satisfaction warnings from InfluxDB", () => {
  let influxd: TestInfluxd;
  let influx: InfluxDB;
  const site = registry.sites.get("hall-1")!;
  const span = (date: string, next: string) => ({
    dayFrom: localTimeToUtc(date, "00:00", TZ),
    dayTo: localTimeToUtc(next, "00:00", TZ),
    monthFrom: monthRange(date.slice(0, 7), TZ).from,
    at: localTimeToUtc(date, "17:00", TZ),
  });

  beforeAll(async () => {
    influxd = await startInfluxd();
    influx = new InfluxDB({ host: "127.0.0.1", port: influxd.port, database: "supervision" });
    await ensureDatabase(influx, "supervision", pino({ level: "silent" }));
    const readings: Reading[] = [];
    const at = (date: string, minute: number) => localTimeToUtc(date, "10:00", TZ) + minute * 60_000;
    // Monday: Li Na 6 of 10 satisfied; Wang Wei 10 of 10. Tuesday: Li Na 10 of 10 (the month stays at 80%).
    for (let i = 0; i < 10; i++)
      readings.push(rating("kp1", at("2026-11-16", i), i < 6 ? "satisfied" : i < 8 ? "average" : "dissatisfied"));
    for (let i = 0; i < 10; i++) readings.push(rating("kp2", at("2026-11-16", i), "very_satisfied"));
    for (let i = 0; i < 10; i++) readings.push(rating("kp1", at("2026-11-17", i), "very_satisfied"));
    // A rating of last month must not count in this month's rate.
    for (let i = 0; i < 20; i++) readings.push(rating("kp2", at("2026-10-30", i), "dissatisfied"));
    await writeReadings(influx, registry, readings);
  });
  afterAll(() => influxd.close());

  it("warns for the clerk and window with a low rate today, and nobody else", async () => {
    const { points, warnings } = await satisfactionWarnings(influx, registry, site, span("2026-11-16", "2026-11-17"), thresholds);
    expect(warnings.map((w) => `${w.rule}:${w.subjectKind}:${w.subject}`).sort()).toEqual([
      "satisfaction_day:clerk:c1",
      "satisfaction_day:window:w1",
      "satisfaction_month:clerk:c1",
      "satisfaction_month:window:w1",
    ]);
    expect(warnings.find((w) => w.subject === "c1")!.message).toBe("工作人员「Li Na」今日满意率 60.0%（共 10 次评价），低于 90%");
    expect(
      points.every(
        (p) =>
          p.measurement === "warning" && p.tags!.category === "people" && p.timestamp === `${span("2026-11-16", "2026-11-17").at}000000`,
      ),
    ).toBe(true);
    expect(points.find((p) => p.tags!.subject === "c1" && p.tags!.rule === "satisfaction_day")!.fields).toMatchObject({
      active: 1,
      rate: 0.6,
      rated: 10,
    });
  });

  it("a good day in a poor month warns for the month only", async () => {
    const { warnings } = await satisfactionWarnings(influx, registry, site, span("2026-11-17", "2026-11-18"), thresholds);
    expect(warnings.map((w) => `${w.rule}:${w.subject}:${w.message}`).sort()).toEqual([
      "satisfaction_month:c1:工作人员「Li Na」本月满意率 80.0%（共 20 次评价），低于 90%",
      "satisfaction_month:w1:窗口「Window 1」本月满意率 80.0%（共 20 次评价），低于 90%",
    ]);
  });

  it("a day without ratings, or a lower threshold, warns nobody", async () => {
    expect(
      (await satisfactionWarnings(influx, registry, site, span("2026-11-19", "2026-11-20"), { warnBelow: 0.5, minRated: 10 })).warnings,
    ).toEqual([]);
    expect(
      (await satisfactionWarnings(influx, registry, site, span("2026-11-16", "2026-11-17"), { warnBelow: 0.6, minRated: 10 })).warnings,
    ).toEqual([]);
  });

  it("runs in the hub's rules: warning points and events, replaced rather than duplicated by a second run, and announced once", async () => {
    const emitted: WarningEvent[] = [];
    const events = new EventEmitter<HubEvents>();
    events.on("warning", (w) => emitted.push(w));
    const stored = async () =>
      (
        await influx.query<{ subject: string; rule: string }>(
          `SELECT "subject", "rule", "message" FROM "raw"."warning" WHERE "rule" =~ /^satisfaction/`,
        )
      )
        .map((r) => `${r.rule}:${r.subject}`)
        .sort();
    await judge({
      influx,
      registry,
      now: localTimeToUtc("2026-11-16", "18:00", TZ),
      events,
      settings: SupervisionSettings.parse({ intervalMs: 3_600_000, satisfaction: { warnBelow: 0.85 } }),
      times: 2,
    });
    expect(await stored()).toEqual(["satisfaction_day:c1", "satisfaction_day:w1", "satisfaction_month:c1", "satisfaction_month:w1"]);
    expect(
      emitted
        .filter((w) => w.rule.startsWith("satisfaction"))
        .map((w) => `${w.rule}:${w.subject}`)
        .sort(),
    ).toEqual(["satisfaction_day:c1", "satisfaction_day:w1", "satisfaction_month:c1", "satisfaction_month:w1"]);
  });

  it("the monthly report gives the rate per window, department and hall, counting only the month's ratings", async () => {
    const report = await monthlyReport(influx, registry, "2026-11", SupervisionSettings.parse({}).scoring);
    const rates = Object.fromEntries(report.rates.map((r) => [`${r.level}:${r.id}`, `${r.positive}/${r.rated}`]));
    expect(rates).toEqual({ "window:w1": "16/20", "window:w2": "10/10", "department:tax": "26/30", "site:hall-1": "26/30" });
    expect(report.rates.find((r) => r.id === "w1")).toMatchObject({ name: "Window 1", satisfaction: 0.8 });
    const html = renderReport(report, registry);
    expect(html).toContain("<td>窗口</td><td>Window 1</td><td>20</td><td>16</td><td>80.0%</td>");
    expect(html).toContain("<td>大厅 / 工地</td><td>Hall</td><td>30</td><td>26</td><td>86.7%</td>");
  });
});
