/**
 * Scripted days through the supervision rules, on a real influxd: readings are written the way the hub's ingest
 * writes them, the rules recompute the day from InfluxDB, and the derived points are read back.
 */
import { EventEmitter } from "node:events";
import { localTimeToUtc, type Reading } from "@supervision/firmware-protocols";
import { startInfluxd, type TestInfluxd } from "@supervision/test-support";
import { InfluxDB, type IPoint } from "influx";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HubEvents } from "../src/controller/extension.ts";
import { ensureDatabase } from "../src/influx/setup.ts";
import { readingToPoint } from "../src/ingest/points.ts";
import type { Registry } from "../src/registry/schema.ts";
import { judgeAttendance } from "../src/supervision/rules/attendance/judge.ts";
import { dayKind, periods } from "../src/supervision/calendar.ts";
import { createSupervisionExtension, SupervisionSettings } from "../src/supervision/index.ts";
import { unattendedEpisodes } from "../src/supervision/rules/unattended/episodes.ts";
import { judge, type Routes, rulesContext, writeReadings } from "./supervision-fixtures.ts";

const TZ = "Asia/Shanghai";
const DAY = "2026-11-18"; // a Wednesday
const HOLIDAY = "2026-11-19";
const at = (hhmm: string, date = DAY) => localTimeToUtc(date, hhmm, TZ);

const office = {
  id: "office",
  shifts: [
    { start: "09:00", end: "12:00" },
    { start: "13:30", end: "17:30" },
  ],
  workingDays: ["mon", "tue", "wed", "thu", "fri"],
  graceMinutes: 5,
  absentAfterMinutes: 60,
  holidays: [HOLIDAY],
  workdays: [],
  exceptions: [],
} as const;
const siteDay = { ...office, id: "site-day", shifts: [{ start: "08:00", end: "17:00" }] } as const;
const registry: Registry = {
  version: 1,
  regions: new Map([["east", { id: "east", name: "East" }]]),
  towns: new Map([["riverside", { id: "riverside", name: "Riverside", region: "east" }]]),
  departments: new Map([["tax", { id: "tax", name: "Tax" }]]),
  sites: new Map([
    ["hall-1", { id: "hall-1", kind: "hall", name: "Hall", town: "riverside", tz: TZ, gateway: "gw-1" }],
    ["site-1", { id: "site-1", kind: "site", name: "Site", town: "riverside", tz: TZ, gateway: "gw-2" }],
  ]),
  windows: new Map([["w1", { id: "w1", site: "hall-1", name: "Window 1", department: "tax", unattendedAfterMinutes: 30 }]]),
  people: new Map([
    ["c1", { id: "c1", name: "Li Na", role: "clerk", post: "Tax clerk", site: "hall-1", window: "w1", roster: "office" }],
    ["s1", { id: "s1", name: "Sun Hao", role: "supervisor", post: "Chief supervisor", site: "site-1", roster: "site-day" }],
  ]),
  rosters: new Map([
    [
      "office",
      {
        ...office,
        workingDays: [...office.workingDays],
        holidays: [...office.holidays],
        shifts: [...office.shifts],
        workdays: [],
        exceptions: [],
      },
    ],
    [
      "site-day",
      { ...siteDay, workingDays: [...siteDay.workingDays], holidays: [HOLIDAY], shifts: [...siteDay.shifts], workdays: [], exceptions: [] },
    ],
  ]),
  gateways: new Map(),
  devices: new Map([
    ["kp1", { id: "kp1", kind: "keypad", site: "hall-1", window: "w1", heartbeatS: 60, scale: "four" }],
    ["term1", { id: "term1", kind: "terminal", site: "hall-1", heartbeatS: 60, scale: "four" }],
    ["cam1", { id: "cam1", kind: "camera", site: "hall-1", window: "w1", cameraId: "cam1", heartbeatS: 60, scale: "four" }],
    ["sterm", { id: "sterm", kind: "terminal", site: "site-1", heartbeatS: 60, scale: "four" }],
  ]),
};

let seq = 0;
const signin = (device: string, person: string, ts: number, direction: "in" | "out", rxTs = ts): Reading => ({
  kind: "signin",
  deviceId: device,
  seq: ++seq,
  ts,
  rxTs,
  personId: person,
  method: "card",
  direction,
});
const motion = (ts: number, state: "start" | "end"): Reading => ({
  kind: "motion",
  deviceId: "cam1",
  seq: ++seq,
  ts,
  rxTs: ts,
  cameraId: "cam1",
  state,
  source: "vmd",
});
const rating = (ts: number, level: string, key: number): Reading => ({
  kind: "rating",
  deviceId: "kp1",
  seq: ++seq,
  ts,
  rxTs: ts,
  windowId: "w1",
  clerkId: "c1",
  outcome: "rated",
  scale: "four",
  key,
  level,
});

const terminalHeartbeat = (deviceId: string, ts: number): Reading => ({
  kind: "heartbeat",
  deviceId,
  seq: ++seq,
  ts,
  rxTs: ts,
  intervalS: 60,
  uptimeS: 60,
});

let influxd: TestInfluxd;
let influx: InfluxDB;
const routes: Routes = new Map();
const context = (now: number) => rulesContext({ influx, registry, now, routes });

/** A fresh extension (as a restarted hub would be) runs once at `now`; its cards and warnings are collected. */
async function runRules(now: number, collected?: { cards: unknown[]; warnings: unknown[] }) {
  const events = new EventEmitter<HubEvents>();
  events.on("card", (c) => collected?.cards.push(c));
  events.on("warning", (w) => collected?.warnings.push(w));
  return judge({ influx, registry, now, routes, events });
}

/** The scripted day only (the rules also re-judge the day before, which had no sign-ins). */
const ON_DAY = `time >= ${at("00:00")}ms AND time < ${at("23:59")}ms`;

async function rows(query: string): Promise<Record<string, unknown>[]> {
  return [...((await influx.query(query)) as unknown as Record<string, unknown>[])];
}

beforeAll(async () => {
  influxd = await startInfluxd();
  influx = new InfluxDB({ host: "127.0.0.1", port: influxd.port, database: "supervision" });
  await ensureDatabase(influx, "supervision", pino({ level: "silent" }));
  const readings: Reading[] = [
    // The terminals have reported for a week: the system existed before the scripted day, so it is judged.
    terminalHeartbeat("term1", at("08:00", "2026-11-11")),
    terminalHeartbeat("sterm", at("08:00", "2026-11-11")),
    // Li Na: 7 minutes late in the morning (grace 5), on time after lunch.
    signin("term1", "c1", at("09:07"), "in"),
    signin("term1", "c1", at("12:01"), "out"),
    signin("term1", "c1", at("13:25"), "in"),
    signin("term1", "c1", at("17:35"), "out"),
    // Window 1: nobody seen from 11:00 to 11:40 in working hours.
    motion(at("09:08"), "start"),
    motion(at("11:00"), "end"),
    motion(at("11:40"), "start"),
    motion(at("12:00"), "end"),
    motion(at("13:26"), "start"),
    motion(at("17:33"), "end"),
    rating(at("10:00"), "dissatisfied", 4),
    rating(at("10:30"), "very_satisfied", 1),
    // Sun Hao signed in on time at the site; the offline terminal delivered it six hours later.
    signin("sterm", "s1", at("07:58"), "in", at("13:58")),
    signin("sterm", "s1", at("17:02"), "out"),
  ];
  await writeReadings(influx, registry, readings);
});
afterAll(() => influxd.close());

describe("supervision rules on a scripted day", () => {
  it("judges lateness, unattended windows, cards and scores, and a late-delivered sign-in by its own time", async () => {
    const events = {
      cards: [] as { ts: number; subject: string; color: string }[],
      warnings: [] as { ts: number; subject: string; rule: string }[],
    };
    await runRules(at("18:00"), events);

    const attendance = await rows(`SELECT "person", "status", "minutes", "period" FROM "raw"."attendance" WHERE ${ON_DAY}`);
    const of = (person: string) =>
      attendance
        .filter((r) => r.person === person)
        .map((r) => `${r.period}:${r.status}:${r.minutes}`)
        .sort();
    expect(of("c1")).toEqual(["0:late:7", "1:on_time:0"]);
    expect(of("s1")).toEqual(["0:on_time:0"]);

    const deductions = await rows(`SELECT "subject", "rule", "points" FROM "raw"."deduction" WHERE ${ON_DAY}`);
    expect(deductions.map((d) => `${d.subject}:${d.rule}:${d.points}`).sort()).toEqual(["c1:late:-2", "w1:unattended:-5"]);

    const warnings = await rows(`SELECT "subject", "rule", "minutes" FROM "raw"."warning" WHERE ${ON_DAY}`);
    expect(warnings).toMatchObject([{ subject: "w1", rule: "unattended", minutes: 40 }]);
    const cards = await rows(`SELECT "level", "subject", "color" FROM "raw"."card" WHERE ${ON_DAY}`);
    expect(Object.fromEntries(cards.map((c) => [c.subject, c.color]))).toEqual({ c1: "yellow", w1: "yellow", s1: "green" });
    expect(events.warnings.filter((w) => w.ts >= at("00:00"))).toMatchObject([{ subject: "w1", rule: "unattended" }]);
    expect(
      events.cards
        .filter((c) => c.ts >= at("00:00"))
        .map((c) => `${c.subject}:${c.color}`)
        .sort(),
    ).toEqual(["c1:yellow", "w1:yellow"]);

    const scores = await rows(`SELECT "subject", "score" FROM "raw"."score_daily" WHERE ${ON_DAY}`);
    expect(Object.fromEntries(scores.map((s) => [s.subject, s.score]))).toEqual({ c1: 98, w1: 95, s1: 100 });
  });

  it("a dissatisfied rating costs nothing until a supervisor verifies it", async () => {
    await runRules(at("18:00"));
    const toVerify = await rows(`SELECT "rating_id", "clerk" FROM "raw"."dissatisfaction" WHERE "state" = 'to_verify'`);
    expect(toVerify).toHaveLength(1);
    const id = String(toVerify[0]!.rating_id);
    expect(await rows(`SELECT "points" FROM "raw"."deduction" WHERE "rule" = 'dissatisfied_clerk'`)).toHaveLength(0);

    const extension = createSupervisionExtension(SupervisionSettings.parse({ intervalMs: 3_600_000 }));
    await extension.start(context(at("18:00")));
    const verify = routes.get("POST /api/dissatisfaction/:id/verify")!;
    const zhou = { name: "Supervisor Zhou", role: "operator" as const };
    expect((await verify({ params: { id: "nope" }, query: new URLSearchParams(), body: {}, identity: zhou })).status).toBe(400);
    expect((await verify({ params: { id }, query: new URLSearchParams(), body: {} })).status).toBe(401);
    expect((await verify({ params: { id }, query: new URLSearchParams(), body: { by: "x" }, identity: zhou })).status).toBe(400);
    expect((await verify({ params: { id: "kp1:99999" }, query: new URLSearchParams(), body: {}, identity: zhou })).status).toBe(404);
    expect(await verify({ params: { id }, query: new URLSearchParams(), body: {}, identity: zhou })).toMatchObject({
      status: 200,
      body: { state: "verified" },
    });
    await extension.stop();

    expect(await rows(`SELECT "points" FROM "raw"."deduction" WHERE "rule" = 'dissatisfied_clerk'`)).toMatchObject([{ points: -2 }]);
    expect(await rows(`SELECT "rating_id" FROM "raw"."dissatisfaction" WHERE "state" = 'to_verify'`)).toHaveLength(0);
    // The decision is chained in the hub's trail, with who made it (hub/src/audit/trail.ts).
    expect(await rows(`SELECT "seq", "by", "point" FROM "raw"."hub_trail" WHERE "book" = 'decision'`)).toMatchObject([
      { seq: 1, by: zhou.name, point: expect.stringContaining('"state":"verified"') },
    ]);
    const score = await rows(`SELECT "score" FROM "raw"."score_daily" WHERE "subject" = 'c1' AND ${ON_DAY}`);
    expect(score).toMatchObject([{ score: 96 }]);
  });

  it("verifies a dissatisfied rating that names no clerk (the clerk is optional in the protocol)", async () => {
    const friday = "2026-11-20";
    const { clerkId: _omitted, ...withoutClerk } = rating(at("11:00", friday), "dissatisfied", 4);
    await influx.writePoints([readingToPoint(withoutClerk as Reading, registry) as IPoint], { retentionPolicy: "raw", precision: "n" });
    const extension = createSupervisionExtension(SupervisionSettings.parse({ intervalMs: 3_600_000 }));
    await extension.start(context(at("18:00", friday)));
    try {
      const verify = routes.get("POST /api/dissatisfaction/:id/verify")!;
      const id = `kp1:${withoutClerk.seq}`;
      const answer = await verify({
        params: { id },
        query: new URLSearchParams(),
        body: { fault: "unit" },
        identity: { name: "Zhou", role: "operator" },
      });
      expect(answer).toMatchObject({ status: 200, body: { id, state: "verified", by: "Zhou", fault: "unit" } });
      const decided = await rows(
        `SELECT "by", "state", "clerk" FROM "raw"."dissatisfaction" WHERE "rating_id" = '${id}' AND "state" = 'verified'`,
      );
      expect(decided).toMatchObject([{ by: "Zhou", state: "verified", clerk: null }]);
      // The rules' run after the decision stores its outcome too (no empty clerk= tag refused by InfluxDB).
      const run = await routes.get("POST /api/supervision/run")!({ params: {}, query: new URLSearchParams(), body: undefined });
      expect((run.body as { error?: string }).error).toBeUndefined();
      expect(await rows(`SELECT "points" FROM "raw"."deduction" WHERE "rule" = 'dissatisfied_unit' AND "subject" = 'w1'`)).toHaveLength(1);
    } finally {
      await extension.stop();
    }
  });

  it("gives the same outcome after a restart at noon as without it", async () => {
    const snapshot = async () =>
      JSON.stringify(
        await Promise.all(
          ["attendance", "deduction", "warning", "card", "score_daily"].map((m) =>
            rows(`SELECT * FROM "raw"."${m}" WHERE "site" = 'hall-1'`),
          ),
        ),
      );
    await runRules(at("12:00"));
    const noonFirst = await snapshot();
    await runRules(at("12:00")); // a restarted hub, same moment
    expect(await snapshot()).toBe(noonFirst);
    await runRules(at("18:00"));
    const evening = await snapshot();
    await runRules(at("18:00"));
    expect(await snapshot()).toBe(evening);
  });

  it("judges nobody absent on a holiday, and everybody absent on a working day without sign-ins", async () => {
    await runRules(at("18:00", HOLIDAY));
    expect(
      await rows(
        `SELECT "minutes", "status" FROM "raw"."attendance" WHERE time >= ${at("00:00", HOLIDAY)}ms AND time < ${at("23:59", HOLIDAY)}ms`,
      ),
    ).toHaveLength(0);
    const friday = "2026-11-20";
    const fridayAttendance = async () =>
      (
        await rows(
          `SELECT "minutes", "person", "status" FROM "raw"."attendance" WHERE time >= ${at("00:00", friday)}ms AND time < ${at("23:59", friday)}ms`,
        )
      )
        .map((r) => `${r.person}:${r.status}`)
        .sort();
    // Terminals not heard since the morning (cut off, or a replay still catching up): their punches may still come,
    // so nobody is absent yet.
    await writeReadings(influx, registry, [
      terminalHeartbeat("term1", at("07:30", friday)),
      terminalHeartbeat("sterm", at("07:30", friday)),
    ]);
    await runRules(at("18:00", friday));
    expect(await fridayAttendance()).toEqual([]);
    // The hall's terminal heard at 10:30, past the morning's deadline (10:00) but not the afternoon's (14:30).
    await writeReadings(influx, registry, [terminalHeartbeat("term1", at("10:30", friday))]);
    await runRules(at("18:00", friday));
    expect(await fridayAttendance()).toEqual(["c1:absent"]);
    // Both terminals heard after every deadline, and nobody signed in: everybody absent.
    await writeReadings(influx, registry, [
      terminalHeartbeat("term1", at("17:45", friday)),
      terminalHeartbeat("sterm", at("17:45", friday)),
    ]);
    await runRules(at("18:00", friday));
    expect(await fridayAttendance()).toEqual(["c1:absent", "c1:absent", "s1:absent"]);
  });
});

describe("supervision calendar and rules (pure)", () => {
  const roster = registry.rosters.get("office")!;
  it("runs a night shift past midnight and judges a late arrival in it", () => {
    const night = { ...roster, shifts: [{ start: "22:00", end: "06:00" }] };
    const [p] = periods(night, DAY, TZ);
    expect(p!.end - p!.start).toBe(8 * 3_600_000);
    const j = judgeAttendance([p!], night, [{ ts: p!.start + 12 * 60_000, direction: "in", suspect: false }], p!.end + 1, 120);
    expect(j).toMatchObject([{ status: "late", minutes: 12 }]);
  });

  it("keeps local shift times across a daylight saving change (Europe/Berlin, 2026-03-29)", () => {
    const [p] = periods(roster, "2026-03-29", "Europe/Berlin");
    expect(new Date(p!.start).toISOString()).toBe("2026-03-29T07:00:00.000Z"); // 09:00 CEST
    const [before] = periods(roster, "2026-03-28", "Europe/Berlin");
    expect(new Date(before!.start).toISOString()).toBe("2026-03-28T08:00:00.000Z"); // 09:00 CET
  });

  it("sends a sign-in with an untrusted clock to review instead of judging it, and knows leave and make-up days", () => {
    const ps = periods(roster, DAY, TZ);
    expect(
      judgeAttendance(ps, roster, [{ ts: ps[0]!.start + 3_600_000 * 2, direction: "in", suspect: true }], ps[1]!.end + 1, 120)[0],
    ).toMatchObject({ status: "review" });
    const person = registry.people.get("c1")!;
    expect(dayKind({ ...roster, exceptions: [{ person: "c1", from: DAY, to: DAY, reason: "annual leave" }] }, person, DAY)).toEqual({
      working: false,
      reason: "annual leave",
    });
    expect(dayKind({ ...roster, workdays: ["2026-11-22"] }, person, "2026-11-22")).toEqual({ working: true });
    expect(dayKind(roster, person, "2026-11-22")).toEqual({ working: false, reason: "weekend" });
  });

  it("finds unattended stretches only in working hours and only as long as the threshold", () => {
    const ps = periods(roster, DAY, TZ);
    const m = (hhmm: string, active: boolean) => ({ ts: at(hhmm), active });
    const episodes = unattendedEpisodes(
      ps,
      [m("09:00", true), m("10:00", false), m("10:20", true), m("11:00", false), m("11:35", true), m("12:00", false), m("13:30", true)],
      30,
      at("18:00"),
    );
    expect(episodes.map((e) => e.minutes)).toEqual([35]);
  });
});

/**
 * Each `hub` command spawns node with tsx, which takes 1-2 s on an idle machine and tens of seconds on a loaded shared
 * one (11-35 s each at a load of 30 on 2 cores): the test waits for the processes, so it gets room, not a sleep.
 */
const CLI = { timeout: 300_000 };

describe("hub verify / dismiss", () => {
  it("decide a dissatisfied rating through the running hub's HTTP API, and say what is wrong", CLI, async () => {
    const { execFile } = await import("node:child_process");
    const { HubHttpServer } = await import("../src/http/server.ts");
    const { freePort } = await import("@supervision/test-support");
    const friday = "2026-11-20";
    const reading = rating(at("10:00", friday), "dissatisfied", 4);
    await influx.writePoints([readingToPoint(reading, registry) as IPoint], { retentionPolicy: "raw", precision: "n" });
    const { ApiTokens } = await import("../src/http/auth.ts");
    const { mkdtempSync, rmSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const dir = mkdtempSync(join(tmpdir(), "hub-api-tokens-"));
    const tokenFile = join(dir, "api-tokens.json");
    const tokens = new ApiTokens([
      { name: "Supervisor Zhou", role: "operator", token: "zhou-operator-token-0123456789abcdef" },
      { name: "Zhou", role: "operator", token: "zhou2-operator-token-0123456789abcdef" },
      { name: "Wang", role: "viewer", token: "wang-viewer-token-0123456789abcdef" },
    ]);
    tokens.save(tokenFile);
    const http = new HubHttpServer(pino({ level: "silent" }), { tokens: { current: () => tokens } });
    const port = await http.listen(await freePort(), "127.0.0.1");
    const extension = createSupervisionExtension(SupervisionSettings.parse({ intervalMs: 3_600_000 }));
    await extension.start({ ...context(at("18:00", friday)), http });
    const hub = (args: string[], as = "Supervisor Zhou") =>
      new Promise<{ code: number; out: string; err: string }>((resolve) =>
        execFile(
          process.execPath,
          ["--import", "tsx", "hub/src/cli/main.ts", ...args, "--url", `http://127.0.0.1:${port}`, "--token-file", tokenFile, "--as", as],
          { env: { ...process.env, HUB_API_TOKEN: "" } },
          (error, out, err) => resolve({ code: error ? Number(error.code) : 0, out, err }),
        ),
      );
    try {
      const id = `kp1:${reading.seq}`;
      // Without a token, with a wrong one, a viewer's, or with a typed name: refused, and nothing is written.
      const url = `http://127.0.0.1:${port}/api/dissatisfaction/${id}/verify`;
      const anonymous = await fetch(url, { method: "POST", body: "{}" });
      expect(anonymous.status).toBe(401);
      expect(await anonymous.json()).toMatchObject({ code: "unauthenticated", error: expect.stringMatching(/API token is required/) });
      const wrong = await fetch(url, { method: "POST", body: "{}", headers: { authorization: "Bearer not-a-token-of-this-hub-at-all" } });
      expect(wrong.status).toBe(401);
      expect(await hub(["dismiss", id], "Wang")).toMatchObject({
        code: 1,
        err: expect.stringMatching(/needs the operator role; "Wang" is viewer/),
      });
      const forged = await fetch(`http://127.0.0.1:${port}/api/entries`, {
        method: "POST",
        body: JSON.stringify({ person: "c1", rule: "thanks", by: "Somebody Else" }),
        headers: { authorization: "Bearer zhou-operator-token-0123456789abcdef" },
      });
      expect(forged.status).toBe(400);
      expect(await rows(`SELECT "points" FROM "raw"."deduction" WHERE "entered_by" != 'rules'`)).toHaveLength(0);
      expect(await rows(`SELECT "by" FROM "raw"."dissatisfaction" WHERE "rating_id" = '${id}' AND "state" != 'to_verify'`)).toHaveLength(0);

      expect(await hub(["dismiss", id], "nobody")).toMatchObject({ code: 1, err: expect.stringMatching(/no token named "nobody"/) });
      expect(await hub(["verify", "kp1:424242"])).toMatchObject({
        code: 1,
        err: expect.stringMatching(/no dissatisfied rating/),
      });
      expect(await hub(["verify", id, "--fault", "window"])).toMatchObject({
        code: 1,
        err: expect.stringMatching(/"fault" is "clerk" or "unit"/),
      });
      expect(await hub(["dismiss", id])).toMatchObject({
        code: 0,
        out: expect.stringMatching(/dismissed by Supervisor Zhou/),
      });
      const decided = await rows(`SELECT "by", "state", "rating_id" FROM "raw"."dissatisfaction" WHERE "rating_id" = '${id}'`);
      expect(decided).toMatchObject([{ by: "Supervisor Zhou", state: "dismissed" }]);
      expect(
        // The dismissed rating's own deduction would be stamped at the rating's time (the earlier test's verified
        // rating of the same Friday has one of its own).
        await rows(`SELECT "points" FROM "raw"."deduction" WHERE "rule" =~ /dissatisfied/ AND time = ${at("10:00", friday)}ms`),
      ).toHaveLength(0);

      // People's entries: thanks (+2 by default) and a complaint that needs its points.
      expect(await hub(["entry", "--person", "c1", "--rule", "thanks", "--note", "letter of thanks"])).toMatchObject({
        code: 0,
        out: expect.stringMatching(/thanks for c1: 2 points/),
      });
      expect(await hub(["entry", "--person", "c1", "--rule", "complaint"], "Zhou")).toMatchObject({
        code: 1,
        err: expect.stringMatching(/"points"/),
      });
      expect(await hub(["entry", "--window", "w1", "--rule", "complaint", "--points=-3"], "Zhou")).toMatchObject({ code: 0 });
      expect(await hub(["entry", "--person", "nobody", "--rule", "thanks"], "Zhou")).toMatchObject({
        code: 1,
        err: expect.stringMatching(/no person "nobody"/),
      });
      expect(await hub(["entry", "--person", "c1", "--rule", "late", "--points", "5"], "Zhou")).toMatchObject({
        code: 1,
        err: expect.stringMatching(/not one the rules compute/),
      });
      expect(await hub(["entry", "--rule", "thanks"], "Zhou")).toMatchObject({ code: 2 });
      const entries = await rows(`SELECT "points", "entered_by", "subject", "rule" FROM "raw"."deduction" WHERE "entered_by" != 'rules'`);
      expect(entries.map((e) => `${e.subject}:${e.rule}:${e.points}:${e.entered_by}`).sort()).toEqual([
        "c1:thanks:2:Supervisor Zhou",
        "w1:complaint:-3:Zhou",
      ]);
      // They count in the day's scores: the clerk was absent all Friday (-10) and thanked (+2).
      const scores = await rows(
        `SELECT "score", "subject" FROM "raw"."score_daily" WHERE time >= ${at("00:00", friday)}ms AND time < ${at("23:59", friday)}ms`,
      );
      expect(Object.fromEntries(scores.map((s) => [s.subject, s.score]))).toMatchObject({ c1: 92 });
    } finally {
      await extension.stop();
      await http.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("equipment warnings", () => {
  it("warn about a silent gateway with a growing backlog and a silent device, and close when they recover", async () => {
    const now = at("15:00");
    const health = (ts: number, depth: number, age: number): IPoint => ({
      measurement: "gateway_health",
      timestamp: `${ts}000000`,
      tags: { gateway: "gw-1", site: "hall-1" },
      fields: { online: 1, buffer_depth: depth, oldest_age_s: age },
    });
    const heartbeat = (device: string, ts: number): IPoint => ({
      measurement: "heartbeat",
      timestamp: `${ts}000000`,
      tags: { site: "hall-1", device, device_kind: "keypad" },
      fields: { seq: 1, uptime_s: 1, interval_s: 60 },
    });
    await influx.writePoints(
      [health(now - 10 * 60_000, 25_000, 1200), heartbeat("kp1", now - 10 * 60_000), heartbeat("cam1", now - 30_000)],
      { retentionPolicy: "health", precision: "n" },
    );
    const events = { cards: [] as never[], warnings: [] as { subject: string; rule: string; category: string }[] };
    await runRules(now, events as never);
    // Other days of this file have a clerk on duty and no camera data: the unattended rule's camera_offline
    // warnings (tested in unattended-cameras.test.ts) are not this rule's, nor Friday's terminals' (heard, then silent).
    const equipment = await rows(
      `SELECT "active", "subject", "rule" FROM "raw"."warning" WHERE "category" = 'equipment' AND "rule" != 'camera_offline' AND ${ON_DAY}`,
    );
    expect(equipment.map((w) => `${w.subject}:${w.rule}:${w.active}`).sort()).toEqual([
      "gw-1:backlog:1",
      "gw-1:offline:1",
      "kp1:offline:1",
    ]);
    expect(
      events.warnings
        .filter((w) => w.category === "equipment" && w.rule !== "camera_offline")
        .map((w) => `${w.subject}:${w.rule}`)
        .sort(),
    ).toEqual(["gw-1:backlog", "gw-1:offline", "kp1:offline"]);

    await influx.writePoints([health(now + 60_000, 0, 0), heartbeat("kp1", now + 60_000)], { retentionPolicy: "health", precision: "n" });
    await runRules(now + 90_000);
    const after = await rows(
      `SELECT "active", "subject", "rule" FROM "raw"."warning" WHERE "category" = 'equipment' AND "rule" != 'camera_offline' AND ${ON_DAY}`,
    );
    expect(after.map((w) => `${w.subject}:${w.rule}:${w.active}`).sort()).toEqual(["gw-1:backlog:0", "gw-1:offline:0", "kp1:offline:0"]);
  });
});
