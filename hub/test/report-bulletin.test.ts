/**
 * The monthly bulletin: rankings, who is commended and who is called in, from a scripted month on a real influxd;
 * then the page itself, rendered by headless Chromium as a person would print it (A4, Chinese, not blank, the
 * ranking in the right order).
 */
import { type IPoint, InfluxDB } from "influx";
import { PNG } from "pngjs";
import pino from "pino";
import { startInfluxd, type TestInfluxd } from "@supervision/test-support";
import { startChromium, type TestChromium } from "@supervision/test-support/chromium";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureDatabase } from "../src/influx/setup.ts";
import type { Registry, Roster } from "../src/registry/schema.ts";
import { SupervisionSettings } from "../src/supervision/index.ts";
import { type MonthlyReport, monthlyReport, renderReport } from "../src/supervision/report.ts";

const TZ = "Asia/Shanghai";
const MONTH = "2026-11";
const roster: Roster = {
  id: "office",
  shifts: [{ start: "09:00", end: "17:00" }],
  workingDays: ["mon", "tue", "wed", "thu", "fri"],
  graceMinutes: 5,
  absentAfterMinutes: 60,
  holidays: [],
  workdays: [],
  exceptions: [],
};
const clerk = (id: string, name: string, window: string) =>
  [id, { id, name, role: "clerk", post: "窗口", site: "hall-1", window, roster: "office" }] as const;
const win = (id: string, name: string, department: string) =>
  [id, { id, site: "hall-1", name, department, unattendedAfterMinutes: 30 }] as const;
const registry = {
  version: 1,
  regions: new Map([["east", { id: "east", name: "东区" }]]),
  towns: new Map([["riverside", { id: "riverside", name: "河畔镇", region: "east" }]]),
  departments: new Map([
    ["tax", { id: "tax", name: "税务局" }],
    ["social", { id: "social", name: "人社局" }],
  ]),
  sites: new Map([["hall-1", { id: "hall-1", kind: "hall", name: "政务服务中心", town: "riverside", tz: TZ, gateway: "gw-1" }]]),
  windows: new Map([
    win("w1", "1号窗口", "tax"),
    win("w2", "2号窗口", "tax"),
    win("w3", "3号窗口", "social"),
    win("w4", "4号窗口", "social"),
  ]),
  people: new Map([
    clerk("c1", "李娜", "w1"),
    clerk("c2", "王芳", "w2"),
    clerk("c3", "张伟", "w3"),
    clerk("c4", "刘洋", "w3"),
    clerk("c5", "陈静", "w4"),
  ]),
  rosters: new Map([["office", roster]]),
  gateways: new Map(),
  devices: new Map(),
} as Registry;

const deduction = (subjectKind: string, subject: string, rule: string, points: number, day: number): IPoint => ({
  measurement: "deduction",
  tags: { region: "east", town: "riverside", site: "hall-1", subject_kind: subjectKind, subject, rule },
  fields: { points, reason: rule, entered_by: "rules" },
  timestamp: new Date(Date.UTC(2026, 10, day, 2, 0)),
});

let influxd: TestInfluxd;
let report: MonthlyReport;
const bulletin = SupervisionSettings.parse({ bulletin: { commendTop: 2, callInBelow: 70, callInBottom: 1 } }).bulletin;

beforeAll(async () => {
  influxd = await startInfluxd();
  const influx = new InfluxDB({ host: "127.0.0.1", port: influxd.port, database: "supervision" });
  await ensureDatabase(influx, "supervision", pino({ level: "silent" }));
  // Clerks: 李娜 100, 王芳 98, 陈静 98, 张伟 95, 刘洋 60. Window units: 1号 100, 2号 95, 3号 66, 4号 90.
  await influx.writePoints(
    [
      deduction("clerk", "c2", "late", -2, 3),
      deduction("clerk", "c5", "late", -2, 4),
      deduction("clerk", "c3", "absent", -5, 5),
      ...Array.from({ length: 8 }, (_, i) => deduction("clerk", "c4", "absent", -5, 6 + i)),
      deduction("window_unit", "w2", "unattended", -5, 6),
      ...Array.from({ length: 6 }, (_, i) => deduction("window_unit", "w3", "unattended", -5, 10 + i)),
      deduction("window_unit", "w3", "pro_rata", -4, 20),
      deduction("window_unit", "w4", "dissatisfied_unit", -10, 21),
    ],
    { retentionPolicy: "raw", precision: "ms" },
  );
  report = await monthlyReport(influx, registry, MONTH, SupervisionSettings.parse({}).scoring, bulletin);
});

afterAll(async () => {
  await influxd?.close();
});

describe("the monthly bulletin's figures", () => {
  it("ranks clerks, window units and departments by score, equal scores sharing a place", () => {
    expect(report.ranking.clerks.map((r) => [r.rank, r.line.name, r.line.score])).toEqual([
      [1, "李娜", 100],
      [2, "陈静", 98],
      [2, "王芳", 98],
      [4, "张伟", 95],
      [5, "刘洋", 60],
    ]);
    expect(report.ranking.units.map((r) => [r.rank, r.line.name, r.line.score])).toEqual([
      [1, "1号窗口", 100],
      [2, "2号窗口", 95],
      [3, "4号窗口", 90],
      [4, "3号窗口", 66],
    ]);
    // A department's score is its window units' average: 税务局 (100 + 95) / 2, 人社局 (66 + 90) / 2.
    expect(report.ranking.departments.map((r) => [r.rank, r.line.name, r.line.score, r.line.clerks, r.line.clerkAverage])).toEqual([
      [1, "税务局", 97.5, 2, 99],
      [2, "人社局", 78, 3, 84.3],
    ]);
  });

  it("commends the top two (three clerks, two of them tied) and calls in the units below 70 or at the bottom", () => {
    expect(report.circulation.commended.map((c) => c.name)).toEqual(["李娜", "陈静", "王芳"]);
    expect(report.circulation.calledIn.map((c) => [c.kind, c.name, c.why])).toEqual([
      ["window_unit", "3号窗口", ["below", "bottom"]],
      ["department", "人社局", ["bottom"]],
    ]);
  });
});

describe("the bulletin as printed (headless Chromium)", () => {
  let chromium: TestChromium;
  beforeAll(async () => {
    chromium = await startChromium();
  }, 120_000);
  afterAll(async () => {
    await chromium?.close();
  });

  it("is a Chinese A4 page, not blank, with the ranking in order", { timeout: 120_000 }, async () => {
    const page = await chromium.browser.newPage();
    await page.setViewport({ width: 794, height: 1123 }); // A4 at 96 dpi
    await page.setContent(renderReport(report, registry), { waitUntil: "load" });
    expect(await page.title()).toBe("电子监察月度考核通报（2026 年 11 月）");
    const cells = (table: string) =>
      page.$$eval(`#${table} tbody tr`, (rows) => rows.map((r) => [...r.querySelectorAll("td")].slice(0, 2).map((td) => td.textContent)));
    expect(await cells("ranking-clerks")).toEqual([
      ["1", "李娜"],
      ["2", "陈静"],
      ["2", "王芳"],
      ["4", "张伟"],
      ["5", "刘洋"],
    ]);
    expect(await cells("ranking-departments")).toEqual([
      ["1", "税务局"],
      ["2", "人社局"],
    ]);
    expect(await cells("called-in")).toEqual([
      ["窗口", "3号窗口"],
      ["部门", "人社局"],
    ]);

    // Not blank: a good share of the first screen is ink, not white.
    const png = PNG.sync.read(Buffer.from(await page.screenshot({ type: "png" })));
    let ink = 0;
    for (let i = 0; i < png.data.length; i += 4) if (png.data[i]! < 200 || png.data[i + 1]! < 200 || png.data[i + 2]! < 200) ink++;
    expect(ink / (png.width * png.height)).toBeGreaterThan(0.01);

    // Printed as the page asks (@page size: A4): 595 x 842 points.
    const pdf = Buffer.from(await page.pdf({ preferCSSPageSize: true })).toString("latin1");
    const box = /\/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]/.exec(pdf);
    expect(box && [Math.round(Number(box[1])), Math.round(Number(box[2]))]).toEqual([595, 842]);
    await page.close();
  });

  it("gives each department a copy with its own people in the details and the whole ranking", { timeout: 120_000 }, async () => {
    const page = await chromium.browser.newPage();
    await page.setContent(renderReport(report, registry, { department: "tax" }), { waitUntil: "load" });
    const names = await page.$$eval("#clerks tbody tr td:first-child", (tds) => tds.map((td) => td.textContent));
    expect(names).toEqual(["李娜", "王芳"]);
    expect(await page.$$eval("#ranking-clerks tbody tr", (rows) => rows.length)).toBe(5);
    expect(await page.$eval("p.copy", (p) => p.textContent)).toContain("税务局");
    await page.close();
  });
});
