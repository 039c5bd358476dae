/**
 * The unattended-window rule with what cameras can really tell, on a scripted day and a real influxd: a window whose
 * camera goes offline is an equipment fault, not a penalty; a window empty for 40 minutes with a healthy camera gets
 * its warning, card and deduction with the snapshot's hash; a seated clerk whose camera sees no motion but who
 * serves citizens (keypad ratings) is at post.
 */
import { EventEmitter } from "node:events";
import { localTimeToUtc, type Reading } from "@supervision/firmware-protocols";
import { startInfluxd, type TestInfluxd } from "@supervision/test-support";
import { InfluxDB } from "influx";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HubEvents } from "../src/controller/extension.ts";
import { ensureDatabase } from "../src/influx/setup.ts";
import type { Registry } from "../src/registry/schema.ts";
import { judge, type Routes, writeReadings } from "./supervision-fixtures.ts";

const TZ = "Asia/Shanghai";
const DAY = "2026-11-25"; // a Wednesday
const at = (hhmm: string) => localTimeToUtc(DAY, hhmm, TZ);
const SHA = "5e".repeat(32);

const office = {
  id: "office",
  shifts: [
    { start: "09:00", end: "12:00" },
    { start: "13:30", end: "17:30" },
  ],
  workingDays: ["mon", "tue", "wed", "thu", "fri"] as ("mon" | "tue" | "wed" | "thu" | "fri")[],
  graceMinutes: 5,
  absentAfterMinutes: 60,
  holidays: [] as string[],
  workdays: [] as string[],
  exceptions: [],
};
const windows = ["w1", "w2", "w3"];
const registry: Registry = {
  version: 1,
  regions: new Map([["east", { id: "east", name: "East" }]]),
  towns: new Map([["riverside", { id: "riverside", name: "Riverside", region: "east" }]]),
  departments: new Map([["tax", { id: "tax", name: "Tax" }]]),
  sites: new Map([["hall-1", { id: "hall-1", kind: "hall", name: "Hall", town: "riverside", tz: TZ, gateway: "gw-1" }]]),
  windows: new Map(
    windows.map((w, i) => [w, { id: w, site: "hall-1", name: `Window ${i + 1}`, department: "tax", unattendedAfterMinutes: 30 }]),
  ),
  people: new Map(
    windows.map((w, i) => [
      `c${i + 1}`,
      { id: `c${i + 1}`, name: `Clerk ${i + 1}`, role: "clerk" as const, post: "clerk", site: "hall-1", window: w, roster: "office" },
    ]),
  ),
  rosters: new Map([["office", office]]),
  gateways: new Map(),
  devices: new Map<string, unknown>([
    ["term1", { id: "term1", kind: "terminal", site: "hall-1", heartbeatS: 60, scale: "four" }],
    ...windows.flatMap((w, i): [string, unknown][] => [
      [
        `cam${i + 1}`,
        { id: `cam${i + 1}`, kind: "camera", site: "hall-1", window: w, cameraId: `cam${i + 1}`, heartbeatS: 300, scale: "four" },
      ],
      [`kp${i + 1}`, { id: `kp${i + 1}`, kind: "keypad", site: "hall-1", window: w, heartbeatS: 60, scale: "four" }],
    ]),
  ]) as Registry["devices"],
};

let seq = 0;
const signin = (person: string, ts: number, direction: "in" | "out"): Reading => ({
  kind: "signin",
  deviceId: "term1",
  seq: ++seq,
  ts,
  rxTs: ts,
  personId: person,
  method: "card",
  direction,
});
const motion = (cam: string, ts: number, state: "start" | "end", sha?: string): Reading => ({
  kind: "motion",
  deviceId: cam,
  seq: ++seq,
  ts,
  rxTs: ts,
  cameraId: cam,
  state,
  source: "onvif",
  ...(sha ? { snapshotSha256: sha } : {}),
});
const heartbeats = (cam: string, from: string, to: string): Reading[] => {
  const out: Reading[] = [];
  for (let t = at(from); t <= at(to); t += 5 * 60_000)
    out.push({ kind: "heartbeat", deviceId: cam, seq: ++seq, ts: t, rxTs: t, intervalS: 300, uptimeS: 1 });
  return out;
};
const rating = (kp: string, window: string, clerk: string, ts: number): Reading => ({
  kind: "rating",
  deviceId: kp,
  seq: ++seq,
  ts,
  rxTs: ts,
  windowId: window,
  clerkId: clerk,
  outcome: "rated",
  scale: "four",
  key: 1,
  level: "very_satisfied",
});

let influxd: TestInfluxd;
let influx: InfluxDB;
const routes: Routes = new Map();
const ON_DAY = `time >= ${at("00:00")}ms AND time < ${at("23:59")}ms`;
const rows = async (query: string) => [...((await influx.query(query)) as unknown as Record<string, unknown>[])];

beforeAll(async () => {
  influxd = await startInfluxd();
  influx = new InfluxDB({ host: "127.0.0.1", port: influxd.port, database: "supervision" });
  await ensureDatabase(influx, "supervision", pino({ level: "silent" }));
  const readings: Reading[] = [
    ...["c1", "c2", "c3"].flatMap((c) => [
      signin(c, at("08:55"), "in"),
      signin(c, at("12:01"), "out"),
      signin(c, at("13:25"), "in"),
      signin(c, at("17:35"), "out"),
    ]),
    // Window 1: its camera goes offline at 10:00 (no heartbeat, no motion after): an equipment fault.
    ...heartbeats("cam1", "08:50", "10:00"),
    motion("cam1", at("08:58"), "start"),
    motion("cam1", at("09:50"), "end"),
    // Window 2: healthy camera, nobody seen from 10:00 to 10:40: warning, card and deduction, with the snapshot.
    ...heartbeats("cam2", "08:50", "17:40"),
    motion("cam2", at("08:58"), "start"),
    motion("cam2", at("10:00"), "end", SHA),
    motion("cam2", at("10:40"), "start", "0".repeat(64)),
    motion("cam2", at("12:00"), "end"),
    motion("cam2", at("13:26"), "start"),
    motion("cam2", at("17:33"), "end"),
    // Window 3: a seated clerk the camera stops seeing at 09:30, who serves a citizen every 15 minutes.
    ...heartbeats("cam3", "08:50", "17:40"),
    motion("cam3", at("08:58"), "start"),
    motion("cam3", at("09:30"), "end"),
    ...["09:40", "09:55", "10:10", "10:25", "10:40", "10:55", "11:10", "11:25", "11:40", "11:55"].map((t) =>
      rating("kp3", "w3", "c3", at(t)),
    ),
    ...[
      "13:35",
      "13:50",
      "14:05",
      "14:20",
      "14:35",
      "14:50",
      "15:05",
      "15:20",
      "15:35",
      "15:50",
      "16:05",
      "16:20",
      "16:35",
      "16:50",
      "17:05",
      "17:20",
    ].map((t) => rating("kp3", "w3", "c3", at(t))),
  ];
  await writeReadings(influx, registry, readings);
});
afterAll(() => influxd.close());

describe("unattended windows judged from what cameras can tell (scripted day, real influxd)", () => {
  it("camera offline: equipment warning and no deduction; empty window with a healthy camera: warning, card, deduction and snapshot hash; seated clerk serving citizens: at post", async () => {
    const events = new EventEmitter<HubEvents>();
    const warned: { ts: number; subject: string; rule: string; category: string; message: string }[] = [];
    events.on("warning", (w) => warned.push(w));
    await judge({ influx, registry, now: at("18:00"), routes, events });

    const deductions = await rows(`SELECT "subject", "rule", "points" FROM "raw"."deduction" WHERE ${ON_DAY}`);
    expect(deductions.map((d) => `${d.subject}:${d.rule}:${d.points}`)).toEqual(["w2:unattended:-5"]);

    const warnings = await rows(
      `SELECT "subject", "rule", "category", "minutes", "message" FROM "raw"."warning" WHERE ${ON_DAY} ORDER BY time`,
    );
    const unattended = warnings.filter((w) => w.rule === "unattended");
    expect(unattended).toMatchObject([{ subject: "w2", category: "people", minutes: 40 }]);
    expect(String(unattended[0]!.message)).toBe(`窗口「Window 2」无人值守 40 分钟（抓拍 SHA-256 ${SHA}）`);
    const offline = warnings.filter((w) => w.rule === "camera_offline");
    // From 10:12:30 (the last heartbeat's 2.5 intervals) to the morning's end, and the whole afternoon.
    expect(offline.map((w) => [w.subject, w.category, w.minutes])).toEqual([
      ["cam1", "equipment", 108],
      ["cam1", "equipment", 240],
    ]);
    const offlineEvents = warned.filter((w) => w.rule === "camera_offline" && w.ts >= at("00:00"));
    expect(offlineEvents.map((w) => [w.subject, w.category])).toEqual([
      ["cam1", "equipment"],
      ["cam1", "equipment"],
    ]);
    // In Chinese by default, with the hall's local time (02:12 UTC is 10:12 in Shanghai).
    expect(offlineEvents[0]!.message).toBe("窗口「Window 1」的摄像机 cam1 在 10:12–12:00 无数据：该时段不判无人值守，请检查摄像机");

    const cards = await rows(`SELECT "level", "subject", "color" FROM "raw"."card" WHERE ${ON_DAY}`);
    const color = Object.fromEntries(cards.map((c) => [c.subject, c.color]));
    expect(color).toMatchObject({ w1: "green", w2: "yellow", w3: "green" });
  });
});
