/**
 * Leaving the post: a sign-out and a sign-in again inside a working period. Pure judgement, and a scripted day on
 * a real influxd through the running rules.
 */
import { localTimeToUtc, type Reading } from "@supervision/firmware-protocols";
import { startInfluxd, type TestInfluxd } from "@supervision/test-support";
import { InfluxDB } from "influx";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureDatabase } from "../src/influx/setup.ts";
import type { Registry, Roster } from "../src/registry/schema.ts";
import type { Signin } from "../src/supervision/rules/attendance/judge.ts";
import { judgeLeftPost } from "../src/supervision/rules/attendance/left-post.ts";
import { periods } from "../src/supervision/calendar.ts";
import { SupervisionSettings } from "../src/supervision/index.ts";
import { attendanceDeductions } from "../src/supervision/rules/attendance/deductions.ts";
import { supervisionTexts } from "../src/supervision/messages.ts";
import { judge, writeReadings } from "./supervision-fixtures.ts";

const TZ = "Asia/Shanghai";
const DAY = "2026-11-18"; // a Wednesday
const at = (hhmm: string) => localTimeToUtc(DAY, hhmm, TZ);
const roster: Roster = {
  id: "office",
  shifts: [
    { start: "09:00", end: "12:00" },
    { start: "13:30", end: "17:30" },
  ],
  workingDays: ["mon", "tue", "wed", "thu", "fri"],
  graceMinutes: 5,
  absentAfterMinutes: 60,
  holidays: [],
  workdays: [],
  exceptions: [],
};
const scoring = SupervisionSettings.parse({}).scoring;

describe("leaving the post (pure)", () => {
  const ps = periods(roster, DAY, TZ);
  const s = (hhmm: string, direction: "in" | "out", suspect = false): Signin => ({ ts: at(hhmm), direction, suspect });

  it("judges an absence inside a period, sums several, and charges it once per half day", () => {
    const judged = judgeLeftPost(ps, roster, [
      s("08:55", "in"),
      s("10:00", "out"),
      s("10:30", "in"),
      s("11:00", "out"),
      s("11:12", "in"),
      s("12:01", "out"),
    ]);
    expect(judged).toEqual([{ period: 0, status: "left_post", minutes: 42, at: at("10:00") }]);
    expect(attendanceDeductions("c1", "clerk", judged, scoring, supervisionTexts("en"))).toEqual([
      { subjectKind: "clerk", subject: "c1", rule: "left_post", points: -2, at: at("10:00"), reason: "left the post for 42 min" },
    ]);
  });

  it("ignores the lunch break between periods, a short step out within grace, an unanswered sign-out and untrusted clocks", () => {
    expect(judgeLeftPost(ps, roster, [s("09:00", "in"), s("12:01", "out"), s("13:25", "in"), s("17:31", "out")])).toEqual([]);
    expect(judgeLeftPost(ps, roster, [s("09:00", "in"), s("10:00", "out"), s("10:05", "in")])).toEqual([]);
    expect(judgeLeftPost(ps, roster, [s("09:00", "in"), s("10:00", "out")])).toEqual([]);
    expect(judgeLeftPost(ps, roster, [s("09:00", "in"), s("10:00", "out", true), s("10:40", "in")])).toEqual([]);
    expect(judgeLeftPost(ps, roster, [])).toEqual([]);
  });

  it("judges the period the absence falls in, in a night shift past midnight too", () => {
    const night = { ...roster, shifts: [{ start: "22:00", end: "06:00" }] };
    const [p] = periods(night, DAY, TZ);
    const judged = judgeLeftPost([p!], night, [
      { ts: p!.start, direction: "in", suspect: false },
      { ts: p!.start + 3 * 3_600_000, direction: "out", suspect: false },
      { ts: p!.start + 4 * 3_600_000, direction: "in", suspect: false },
    ]);
    expect(judged).toEqual([{ period: 0, status: "left_post", minutes: 60, at: p!.start + 3 * 3_600_000 }]);
  });
});

/** One hall, one window, one clerk, a terminal and a camera at the window. */
function leftPostRegistry(): Registry {
  return {
    version: 1,
    regions: new Map([["east", { id: "east", name: "East" }]]),
    towns: new Map([["riverside", { id: "riverside", name: "Riverside", region: "east" }]]),
    departments: new Map([["tax", { id: "tax", name: "Tax" }]]),
    sites: new Map([["hall-1", { id: "hall-1", kind: "hall", name: "Hall", town: "riverside", tz: TZ, gateway: "gw-1" }]]),
    windows: new Map([["w1", { id: "w1", site: "hall-1", name: "Window 1", department: "tax", unattendedAfterMinutes: 60 }]]),
    people: new Map([
      ["c1", { id: "c1", name: "Li Na", role: "clerk", post: "Tax clerk", site: "hall-1", window: "w1", roster: "office" }],
    ]),
    rosters: new Map([["office", roster]]),
    gateways: new Map(),
    devices: new Map([
      ["term1", { id: "term1", kind: "terminal", site: "hall-1", heartbeatS: 60, scale: "four" }],
      ["cam1", { id: "cam1", kind: "camera", site: "hall-1", window: "w1", cameraId: "cam1", heartbeatS: 60, scale: "four" }],
    ]),
  } as Registry;
}

describe("leaving the post on a scripted day", () => {
  let influxd: TestInfluxd;
  let influx: InfluxDB;
  const registry = leftPostRegistry();

  beforeAll(async () => {
    influxd = await startInfluxd();
    influx = new InfluxDB({ host: "127.0.0.1", port: influxd.port, database: "supervision" });
    await ensureDatabase(influx, "supervision", pino({ level: "silent" }));
    let seq = 0;
    const signin = (hhmm: string, direction: "in" | "out"): Reading => ({
      kind: "signin",
      deviceId: "term1",
      seq: ++seq,
      ts: at(hhmm),
      rxTs: at(hhmm),
      personId: "c1",
      method: "card",
      direction,
    });
    const motion = (hhmm: string, state: "start" | "end"): Reading => ({
      kind: "motion",
      deviceId: "cam1",
      seq: ++seq,
      ts: at(hhmm),
      rxTs: at(hhmm),
      cameraId: "cam1",
      state,
      source: "vmd",
    });
    // On time both half days, but away from 10:00 to 10:35 (the window stays under its 60-minute unattended limit).
    const readings = [
      signin("08:58", "in"),
      signin("10:00", "out"),
      signin("10:35", "in"),
      signin("12:01", "out"),
      signin("13:28", "in"),
      signin("17:32", "out"),
      motion("08:59", "start"),
      motion("10:00", "end"),
      motion("10:35", "start"),
      motion("17:31", "end"),
    ];
    await writeReadings(influx, registry, readings);
  });
  afterAll(() => influxd.close());

  it("is on time, left the post once: -2 points, a yellow card saying why, and the same after a second run", async () => {
    await judge({ influx, registry, now: at("18:00"), times: 2 });
    const day = `time >= ${at("00:00")}ms AND time < ${at("23:59")}ms`;
    const attendance = await influx.query<{ status: string; minutes: number; period: number }>(
      `SELECT "status", "minutes", "period" FROM "raw"."attendance" WHERE ${day}`,
    );
    expect(attendance.map((r) => `${r.period}:${r.status}:${r.minutes}`).sort()).toEqual(["0:left_post:35", "0:on_time:0", "1:on_time:0"]);
    const deductions = await influx.query<{ subject: string; rule: string; points: number }>(
      `SELECT "subject", "rule", "points" FROM "raw"."deduction" WHERE ${day}`,
    );
    expect(deductions.map((d) => `${d.subject}:${d.rule}:${d.points}`)).toEqual(["c1:left_post:-2"]);
    const cards = await influx.query<{ subject: string; color: string; reasons: string }>(
      `SELECT "subject", "color", "reasons" FROM "raw"."card" WHERE ${day} AND "subject" = 'c1'`,
    );
    expect(cards.map((c) => `${c.color}:${c.reasons}`)).toEqual(["yellow:上午离岗（10:00）"]);
    const scores = await influx.query<{ subject: string; score: number }>(
      `SELECT "subject", "score" FROM "raw"."score_daily" WHERE ${day}`,
    );
    expect(Object.fromEntries(scores.map((s) => [s.subject, s.score]))).toEqual({ c1: 98, w1: 100 });
  });
});

describe("the window unit's pro-rata share counts the clerk's month, not each day alone", () => {
  let influxd: TestInfluxd;
  let influx: InfluxDB;
  const DAYS = ["2026-11-16", "2026-11-17", "2026-11-18"]; // Monday to Wednesday
  const registry = leftPostRegistry();

  beforeAll(async () => {
    influxd = await startInfluxd();
    influx = new InfluxDB({ host: "127.0.0.1", port: influxd.port, database: "supervision" });
    await ensureDatabase(influx, "supervision", pino({ level: "silent" }));
    let seq = 0;
    const readings: Reading[] = [];
    // Each day on time, but away from 10:00 to 10:35: -2 points a day for leaving the post.
    for (const date of DAYS)
      for (const [hhmm, direction] of [
        ["08:58", "in"],
        ["10:00", "out"],
        ["10:35", "in"],
        ["12:01", "out"],
        ["13:28", "in"],
        ["17:32", "out"],
      ] as const) {
        const ts = localTimeToUtc(date, hhmm, TZ);
        readings.push({ kind: "signin", deviceId: "term1", seq: ++seq, ts, rxTs: ts, personId: "c1", method: "card", direction });
      }
    await writeReadings(influx, registry, readings);
  });
  afterAll(() => influxd.close());

  it("charges the unit -2 on the day the clerk's month reaches 5 lost points, once, whatever the reruns", async () => {
    for (const date of DAYS) await judge({ influx, registry, now: localTimeToUtc(date, "18:00", TZ), times: 2 });
    const rows = await influx.query<{ subject: string; points: number; reason: string }>(
      `SELECT "subject", "points", "reason" FROM "raw"."deduction" WHERE "rule" = 'pro_rata'`,
    );
    // 2 + 2 + 2 = 6 points lost by Wednesday: one share of 5, charged on Wednesday; none on Monday or Tuesday.
    expect(rows.map((r) => [r.time.toISOString().slice(0, 10), r.subject, r.points])).toEqual([["2026-11-18", "w1", -2]]);
    expect(rows[0]!.reason).toBe("窗口工作人员 Li Na 本日扣 2 分，本月累计扣 6 分，窗口单位连带扣分");
    const scores = await influx.query<{ subject: string; score: number }>(
      `SELECT "subject", "score" FROM "raw"."score_daily" WHERE "subject" = 'w1'`,
    );
    expect(scores.map((s) => s.score)).toEqual([100, 100, 98]);
  });
});
