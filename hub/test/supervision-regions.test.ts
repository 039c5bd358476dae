/**
 * InfluxDB by region, the rules' side: a site's rules read its region's InfluxDB and write their derived points
 * there, whatever the central database or another region holds.
 */
import { localTimeToUtc, type Reading } from "@supervision/firmware-protocols";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WarningEvent } from "../src/controller/extension.ts";
import { createSupervisionExtension, SupervisionSettings } from "../src/supervision/index.ts";
import { countPoints, provinceContext, provinceRegistry, type ProvinceInfluxd, startProvinceInfluxd } from "./regions-fixtures.ts";
import { runNow, type Routes, writeReadings } from "./supervision-fixtures.ts";
import { checkTrails } from "../src/audit/trail.ts";
import { itemMonth } from "../src/items/counts.ts";
import { siteDatabases } from "../src/influx/regions.ts";
import { monthlyReport } from "../src/supervision/report.ts";
import type { InfluxDB } from "influx";

const TZ = "Asia/Shanghai";
let influxd: ProvinceInfluxd;
beforeAll(async () => {
  influxd = await startProvinceInfluxd();
}, 90_000);
afterAll(() => influxd?.close());

let seq = 0;
function rating(device: "kp1" | "kp2", ts: number, level: "very_satisfied" | "satisfied" | "average" | "dissatisfied"): Reading {
  const [windowId, clerkId] = device === "kp1" ? ["w1", "p1"] : ["w2", "p2"];
  const key = { very_satisfied: 1, satisfied: 2, average: 3, dissatisfied: 4 }[level];
  return {
    kind: "rating",
    v: 1,
    deviceId: device,
    seq: ++seq,
    ts,
    rxTs: ts,
    windowId,
    clerkId,
    outcome: "rated",
    scale: "four",
    key,
    level,
  } as Reading;
}

describe("supervision rules by region", () => {
  it("judge a site in region west from west's InfluxDB and write its warnings, cards and scores there only", async () => {
    const { registry } = provinceRegistry();
    registry.rosters.set("day", {
      id: "day",
      shifts: [{ start: "09:00", end: "17:00" }],
      workingDays: ["mon", "tue", "wed", "thu", "fri"],
      graceMinutes: 5,
      absentAfterMinutes: 60,
      holidays: [],
      workdays: [],
      exceptions: [],
    });
    const database = "province_rules";
    const ctx = await provinceContext(influxd, registry, database);
    const now = localTimeToUtc("2026-11-16", "17:30", TZ); // a Monday
    ctx.now = () => now;
    const at = (minute: number) => localTimeToUtc("2026-11-16", "10:00", TZ) + minute * 60_000;
    // West's clerk p2: 6 of 10 satisfied in west's InfluxDB. The same clerk 10 of 10 very satisfied in the central
    // database and in east's: a rule reading either would find nothing to warn about.
    const westRatings = Array.from({ length: 10 }, (_, i) => rating("kp2", at(i), i < 6 ? "satisfied" : "dissatisfied"));
    const decoys = Array.from({ length: 10 }, (_, i) => rating("kp2", at(20 + i), "very_satisfied"));
    await writeReadings(ctx.regions!.forRegion("west").influx, registry, westRatings);
    await writeReadings(ctx.regions!.central.influx, registry, decoys);
    await writeReadings(ctx.regions!.forRegion("east").influx, registry, decoys);
    // East's hall was heard a week before (so its day is judged), in east's InfluxDB.
    await writeReadings(ctx.regions!.forRegion("east").influx, registry, [
      {
        kind: "heartbeat",
        v: 1,
        deviceId: "kp1",
        seq: ++seq,
        ts: at(0) - 7 * 86_400_000,
        rxTs: at(0) - 7 * 86_400_000,
        intervalS: 60,
        uptimeS: 60,
      } as Reading,
    ]);

    const warnings: WarningEvent[] = [];
    ctx.events.on("warning", (w) => warnings.push(w));
    const routes: Routes = new Map();
    ctx.http = { add: (method, path, handler) => routes.set(`${method} ${path}`, handler) };
    const extension = createSupervisionExtension(SupervisionSettings.parse({ intervalMs: 3_600_000 }));
    await extension.start(ctx);
    try {
      await runNow(routes);
    } finally {
      await extension.stop();
    }
    expect(extension.status().error).toBeNull();

    const satisfaction = warnings
      .filter((w) => w.rule === "satisfaction_day")
      .map((w) => `${w.site}:${w.subjectKind}:${w.subject}:${w.message}`);
    expect(satisfaction.sort()).toEqual([
      "hall2:clerk:p2:工作人员「Clerk 2」今日满意率 60.0%（共 10 次评价），低于 90%",
      "hall2:window:w2:窗口「Window 2」今日满意率 60.0%（共 10 次评价），低于 90%",
    ]);
    const westWhere = `WHERE "site" = 'hall2'`;
    expect(await countPoints(influxd.west, database, "warning", "raw", `${westWhere} AND "rule" = 'satisfaction_day'`)).toBe(2);
    expect(await countPoints(influxd.west, database, "score_daily", "raw", westWhere)).toBeGreaterThan(0);
    for (const other of [influxd.central, influxd.east]) {
      expect(await countPoints(other, database, "warning", "raw", westWhere)).toBe(0);
      expect(await countPoints(other, database, "score_daily", "raw", westWhere)).toBe(0);
      expect(await countPoints(other, database, "card", "raw", westWhere)).toBe(0);
    }
    // East's site is judged in east's InfluxDB: its clerk on duty there (not signed in), and its points are there.
    expect(await countPoints(influxd.east, database, "duty", "raw", `WHERE "site" = 'hall1' AND "person" = 'p1'`)).toBe(1);
    expect(await countPoints(influxd.west, database, "duty", "raw", `WHERE "site" = 'hall1'`)).toBe(0);
    expect(await countPoints(influxd.central, database, "duty")).toBe(0);
  }, 120_000);

  it("records the centre's entries, decisions, warning handling and item events in the site's region, the trail centrally", async () => {
    const { registry } = provinceRegistry();
    registry.rosters.set("day", {
      id: "day",
      shifts: [{ start: "09:00", end: "17:00" }],
      workingDays: ["mon", "tue", "wed", "thu", "fri"],
      graceMinutes: 5,
      absentAfterMinutes: 60,
      holidays: [],
      workdays: [],
      exceptions: [],
    });
    registry.items = new Map([
      [
        "XK-001",
        {
          code: "XK-001",
          name: "食品经营许可",
          department: "tax",
          site: "hall2",
          calendar: "day",
          legalLimit: { days: 20, unit: "working" },
          promisedLimit: { days: 3, unit: "working" },
          fee: 0,
          joint: false,
          handler: { name: "张办", phone: "+8613800000011" },
          head: { name: "赵科长", phone: "+8613800000019" },
        },
      ],
    ] as never);
    registry.approvalSystems = new Map([["tax-sys", { id: "tax-sys", name: "税务审批系统", department: "tax" }]]);
    const database = "province_api";
    const ctx = await provinceContext(influxd, registry, database);
    const now = localTimeToUtc("2026-11-16", "17:30", TZ);
    ctx.now = () => now;
    const at = (minute: number) => localTimeToUtc("2026-11-16", "10:00", TZ) + minute * 60_000;
    // West's clerk: 6 of 10 satisfied (a warning to handle), one of the dissatisfied ratings to verify.
    const westRatings = Array.from({ length: 10 }, (_, i) => rating("kp2", at(i), i < 6 ? "satisfied" : "dissatisfied"));
    await writeReadings(ctx.regions!.forRegion("west").influx, registry, westRatings);
    const routes: Routes = new Map();
    ctx.http = { add: (method, path, handler) => routes.set(`${method} ${path}`, handler) };
    const extension = createSupervisionExtension(SupervisionSettings.parse({ intervalMs: 3_600_000 }));
    await extension.start(ctx);
    const zhou = { name: "zhou", role: "operator" as const };
    const call = (route: string, body: unknown, params: Record<string, string> = {}, identity = zhou, query = new URLSearchParams()) =>
      routes.get(route)!({ params, query, body, identity });
    try {
      await runNow(routes);
      expect(await call("POST /api/entries", { person: "p2", rule: "complaint", points: -2, at: at(30) })).toMatchObject({ status: 201 });
      const verified = westRatings[7]!;
      expect(await call("POST /api/dissatisfaction/:id/verify", {}, { id: `kp2:${verified.seq}` })).toMatchObject({ status: 200 });
      const listed = (await call("GET /api/warnings", undefined, {}, zhou, new URLSearchParams({ days: "31" }))) as {
        status: number;
        body: { warnings: Array<{ id: string; site: string; rule: string; subject: string }> };
      };
      const warning = listed.body.warnings.find((w) => w.site === "hall2" && w.rule === "satisfaction_day" && w.subject === "p2");
      expect(warning, JSON.stringify(listed.body)).toBeDefined();
      expect(await call(`POST /api/warnings/:id/acknowledge`, { note: "已联系" }, { id: warning!.id })).toMatchObject({
        status: 200,
        body: { state: "acknowledged" },
      });
      const record = (await call("GET /api/warnings/:id", undefined, { id: warning!.id })) as {
        status: number;
        body: { steps: unknown[] };
      };
      expect(record).toMatchObject({ status: 200, body: { steps: [{ action: "acknowledge", by: "zhou" }] } });
      const event = { type: "accepted", applicationNo: "XK2026-0001", itemCode: "XK-001", ts: at(40), applicantType: "company" };
      const system = { name: "tax-sys", role: "operator" as const };
      expect(await call("POST /api/items/events", event, {}, system)).toMatchObject({ status: 201 });
      expect(await call("POST /api/items/events", event, {}, system)).toMatchObject({ status: 200, body: { status: "duplicate" } });
    } finally {
      await extension.stop();
    }
    const where = `WHERE "site" = 'hall2'`;
    for (const [m, which] of [
      ["deduction", `"rule" = 'complaint'`],
      ["dissatisfaction", `"state" = 'verified'`],
      ["warning_action", `"action" = 'acknowledge'`],
      ["item_event", `"type" = 'accepted'`],
    ] as const) {
      expect(await countPoints(influxd.west, database, m, "raw", `${where} AND ${which}`), m).toBe(1);
      expect(await countPoints(influxd.central, database, m), m).toBe(0);
      expect(await countPoints(influxd.east, database, m), m).toBe(0);
    }
    // Their trail in the central database, four books, and the audit finds each recorded point where its site is.
    expect(await countPoints(influxd.central, database, "hub_trail")).toBe(4);
    const trailCheck = (siteDatabase?: (site: string) => { influx: InfluxDB; database: string }) =>
      checkTrails(ctx.regions!.central.influx, database, undefined, siteDatabase);
    expect((await trailCheck((site) => ({ influx: ctx.regions!.forSite(site).influx, database }))).flatMap((t) => t.problems)).toEqual([]);
    // Read where they are not, they would all be missing: the check bites.
    expect((await trailCheck()).flatMap((t) => t.problems)).toHaveLength(4);
    // The month's item counts (hub items month, the bulletin) read each hall's region.
    const month = await itemMonth(ctx.regions!.central.influx, registry, "2026-11", (site) => ctx.regions!.forSite(site).influx);
    expect(month.counts.map((c) => [c.site, c.department, c.accepted])).toEqual([["hall2", "tax", 1]]);
    const centralOnly = await itemMonth(ctx.regions!.central.influx, registry, "2026-11");
    expect(centralOnly.counts.reduce((n, c) => n + c.accepted, 0)).toBe(0);
    // The monthly bulletin (hub report) counts each clerk from the clerk's region.
    const databases = {
      all: siteDatabases(ctx).map((d) => d.influx),
      of: (site: string) => ctx.regions!.forSite(site).influx,
    };
    const scoring = SupervisionSettings.parse({}).scoring;
    const report = await monthlyReport(ctx.regions!.central.influx, registry, "2026-11", scoring, undefined, databases);
    expect(report.clerks.find((c) => c.id === "p2")).toMatchObject({ site: "hall2", rated: 10, satisfaction: 0.6, dissatisfied: 4 });
    expect(report.clerks.find((c) => c.id === "p2")!.deductions).toBeLessThanOrEqual(-2);
    const fromCentral = await monthlyReport(ctx.regions!.central.influx, registry, "2026-11", scoring);
    expect(fromCentral.clerks.find((c) => c.id === "p2")).toMatchObject({ rated: 0 });
  }, 120_000);
});
