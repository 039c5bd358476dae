/**
 * Sign-ins with an untrustworthy device clock go to review: pure rule, and a scripted day on a real influxd where a
 * connected terminal's sign-in arrives hours after its device time (review) while an offline terminal's does too
 * (judged by its device time).
 */
import { localTimeToUtc, type Reading } from "@supervision/firmware-protocols";
import { startInfluxd, type TestInfluxd } from "@supervision/test-support";
import { InfluxDB } from "influx";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureDatabase } from "../src/influx/setup.ts";
import type { Registry, Roster } from "../src/registry/schema.ts";
import { clockSuspect } from "../src/supervision/rules/attendance/clock.ts";
import { judge, writeReadings } from "./supervision-fixtures.ts";

const TZ = "Asia/Shanghai";
const DAY = "2026-11-18"; // a Wednesday
const at = (hhmm: string) => localTimeToUtc(DAY, hhmm, TZ);
const MIN = 60_000;

describe("clock trust (pure)", () => {
  const T = at("09:00");
  const heartbeats = [T - 90 * MIN, T - 30_000, T + 30_000];
  it("trusts a sign-in received at once, and one kept back by a terminal that was not connected", () => {
    expect(clockSuspect({ ts: T, rxTs: T + 2_000, timeSuspect: false }, heartbeats, 10 * MIN, 2 * MIN)).toBe(false);
    expect(clockSuspect({ ts: T, rxTs: T + 6 * 60 * MIN, timeSuspect: false }, [T - 90 * MIN], 10 * MIN, 2 * MIN)).toBe(false);
    expect(clockSuspect({ ts: T, rxTs: T + 6 * 60 * MIN, timeSuspect: false }, [], 10 * MIN, 2 * MIN)).toBe(false);
  });
  it("distrusts the terminal's own flag, a time ahead of reception, and a late arrival from a connected terminal", () => {
    expect(clockSuspect({ ts: T, rxTs: T, timeSuspect: true }, [], 10 * MIN, 2 * MIN)).toBe(true);
    expect(clockSuspect({ ts: T + 11 * MIN, rxTs: T, timeSuspect: false }, [], 10 * MIN, 2 * MIN)).toBe(true);
    expect(clockSuspect({ ts: T, rxTs: T + 3 * 60 * MIN, timeSuspect: false }, heartbeats, 10 * MIN, 2 * MIN)).toBe(true);
  });
  it("keeps within the tolerance on both sides", () => {
    expect(clockSuspect({ ts: T + 10 * MIN, rxTs: T, timeSuspect: false }, heartbeats, 10 * MIN, 2 * MIN)).toBe(false);
    expect(clockSuspect({ ts: T, rxTs: T + 10 * MIN, timeSuspect: false }, heartbeats, 10 * MIN, 2 * MIN)).toBe(false);
  });
});

describe("clock trust on a scripted day", () => {
  let influxd: TestInfluxd;
  let influx: InfluxDB;
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
  const registry = {
    version: 1,
    regions: new Map([["east", { id: "east", name: "East" }]]),
    towns: new Map([["riverside", { id: "riverside", name: "Riverside", region: "east" }]]),
    departments: new Map([["tax", { id: "tax", name: "Tax" }]]),
    sites: new Map([["hall-1", { id: "hall-1", kind: "hall", name: "Hall", town: "riverside", tz: TZ, gateway: "gw-1" }]]),
    windows: new Map(),
    people: new Map([
      ["c1", { id: "c1", name: "Li Na", role: "clerk", post: "Tax clerk", site: "hall-1", roster: "office" }],
      ["c2", { id: "c2", name: "Wang Wei", role: "clerk", post: "Tax clerk", site: "hall-1", roster: "office" }],
      ["c3", { id: "c3", name: "Zhao Min", role: "clerk", post: "Tax clerk", site: "hall-1", roster: "office" }],
    ]),
    rosters: new Map([["office", roster]]),
    gateways: new Map(),
    devices: new Map([
      ["term-online", { id: "term-online", kind: "terminal", site: "hall-1", heartbeatS: 60, scale: "four" }],
      ["term-offline", { id: "term-offline", kind: "terminal", site: "hall-1", heartbeatS: 60, scale: "four" }],
    ]),
  } as Registry;

  beforeAll(async () => {
    influxd = await startInfluxd();
    influx = new InfluxDB({ host: "127.0.0.1", port: influxd.port, database: "supervision" });
    await ensureDatabase(influx, "supervision", pino({ level: "silent" }));
    let seq = 0;
    const signin = (device: string, person: string, ts: number, rxTs: number): Reading => ({
      kind: "signin",
      deviceId: device,
      seq: ++seq,
      ts,
      rxTs,
      personId: person,
      method: "card",
      direction: "in",
    });
    const readings: Reading[] = [
      // A connected terminal (heartbeats all morning) whose clock is three hours slow: its 11:58 sign-in says 08:58.
      ...Array.from({ length: 300 }, (_, i): Reading => ({
        kind: "heartbeat",
        deviceId: "term-online",
        seq: ++seq,
        ts: at("07:00") + i * MIN,
        rxTs: at("07:00") + i * MIN,
        intervalS: 60,
        uptimeS: 3600 + i * 60,
      })),
      signin("term-online", "c1", at("08:58"), at("11:58")),
      // An offline terminal (no heartbeats until it reconnects at 14:00) delivering its morning sign-in late.
      ...Array.from({ length: 60 }, (_, i): Reading => ({
        kind: "heartbeat",
        deviceId: "term-offline",
        seq: ++seq,
        ts: at("14:00") + i * MIN,
        rxTs: at("14:00") + i * MIN,
        intervalS: 60,
        uptimeS: 60 + i * 60,
      })),
      signin("term-offline", "c2", at("08:57"), at("14:00")),
      // A sign-in stamped half an hour after the gateway received it.
      signin("term-online", "c3", at("09:40"), at("09:10")),
    ];
    await writeReadings(influx, registry, readings);
  });
  afterAll(() => influxd.close());

  it("sends the connected terminal's late sign-in and the one from the future to review, and judges the offline terminal's", async () => {
    await judge({ influx, registry, now: at("18:00") });
    const rows = await influx.query<{ person: string; status: string }>(
      `SELECT "person", "status", "minutes" FROM "raw"."attendance" WHERE time >= ${at("00:00")}ms AND time < ${at("23:59")}ms`,
    );
    expect(Object.fromEntries(rows.map((r) => [r.person, r.status]))).toEqual({ c1: "review", c2: "on_time", c3: "review" });
    const deductions = await influx.query(`SELECT "points" FROM "raw"."deduction" WHERE time >= ${at("00:00")}ms`);
    expect(deductions).toHaveLength(0);
  });
});
