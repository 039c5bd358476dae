/**
 * Device availability in a mixed fleet, on a real influxd and the real equipment rule: one keypad behind an older
 * gateway (a heartbeat point every 30 s) and one behind a gateway that summarises heartbeats (presence reports, as
 * gateway/src/devices/presence.ts makes them: its test plays the same outage), with the same scripted outage. Both give
 * the exact availability (to the heartbeat interval), and both are warned offline at the same run, stamped at their
 * last heartbeat.
 */
import { localTimeToUtc, type Reading } from "@supervision/firmware-protocols";
import { startInfluxd, type TestInfluxd } from "@supervision/test-support";
import { InfluxDB } from "influx";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureDatabase } from "../src/influx/setup.ts";
import type { Registry } from "../src/registry/schema.ts";
import { judge, writeReadings } from "./supervision-fixtures.ts";

const TZ = "Asia/Shanghai";
const DAY = "2026-11-26";
const at = (hhmm: string, s = 0) => localTimeToUtc(DAY, hhmm, TZ) + s * 1000;

const registry: Registry = {
  version: 1,
  regions: new Map([["east", { id: "east", name: "East" }]]),
  towns: new Map([["riverside", { id: "riverside", name: "Riverside", region: "east" }]]),
  departments: new Map([["tax", { id: "tax", name: "Tax" }]]),
  sites: new Map([["hall-1", { id: "hall-1", kind: "hall", name: "Hall", town: "riverside", tz: TZ, gateway: "gw-1" }]]),
  windows: new Map([["w1", { id: "w1", site: "hall-1", name: "Window 1", department: "tax", unattendedAfterMinutes: 30 }]]),
  people: new Map(),
  rosters: new Map(),
  gateways: new Map(),
  devices: new Map<string, unknown>([
    ["kp-old", { id: "kp-old", kind: "keypad", site: "hall-1", window: "w1", heartbeatS: 30, scale: "four" }],
    ["kp-new", { id: "kp-new", kind: "keypad", site: "hall-1", window: "w1", heartbeatS: 30, scale: "four" }],
  ]) as Registry["devices"],
};

/** The scripted heartbeats: every 30 s from 09:00, silent after 09:20:00 until 09:30:30, then until 10:05:00. */
const beats: number[] = [];
for (let t = at("09:00"); t <= at("10:05"); t += 30_000) if (t <= at("09:20") || t >= at("09:30", 30)) beats.push(t);

/** What an older gateway sends: each heartbeat. */
const heartbeatReadings: Reading[] = beats.map((t, i) => ({
  kind: "heartbeat",
  deviceId: "kp-old",
  seq: i + 1,
  ts: t,
  rxTs: t,
  intervalS: 30,
  uptimeS: i,
}));

/** What a summarising gateway sends for the same heartbeats (10-minute summaries), up to 10:00; `offline` comes later. */
function presenceReadings(): Reading[] {
  let seq = 0;
  const report = (r: Record<string, unknown> & { ts: number }): Reading => ({
    kind: "presence",
    deviceId: "kp-new",
    seq: ++seq,
    intervalS: 30,
    ...r,
    rxTs: r.ts,
  });
  const out: Reading[] = [report({ ts: at("09:00"), type: "online", lastSeenTs: at("09:00") })];
  for (let from = at("09:00"); from < at("10:00"); from += 600_000) {
    const to = from + 600_000;
    if (from === at("09:20")) out.push(report({ ts: at("09:21", 15), type: "offline", lastSeenTs: at("09:20") }));
    if (from === at("09:30")) out.push(report({ ts: at("09:30", 30), type: "online", lastSeenTs: at("09:30", 30) }));
    const seen = beats.filter((t) => t >= from && t < to);
    out.push(
      report({
        ts: to,
        type: "summary",
        fromTs: from,
        toTs: to,
        count: seen.length,
        ...(seen.length > 0 ? { firstSeenTs: seen[0], lastSeenTs: seen.at(-1) } : {}),
        gaps: from === at("09:30") ? [{ fromTs: at("09:20"), toTs: at("09:30", 30) }] : [],
        state: from === at("09:20") ? "offline" : "online",
      }),
    );
  }
  return out;
}

let influxd: TestInfluxd;
let influx: InfluxDB;
const rows = async (query: string) => [...((await influx.query(query)) as unknown as Record<string, unknown>[])];
const deviceWarnings = () =>
  rows(
    `SELECT "active", "subject", "message" FROM "raw"."warning" WHERE "category" = 'equipment' AND "subject_kind" = 'device' AND time > ${at("00:00")}ms`,
  );

beforeAll(async () => {
  influxd = await startInfluxd();
  influx = new InfluxDB({ host: "127.0.0.1", port: influxd.port, database: "supervision" });
  await ensureDatabase(influx, "supervision", pino({ level: "silent" }));
  await writeReadings(influx, registry, [...heartbeatReadings, ...presenceReadings()]);
}, 120_000);

afterAll(() => influxd.close());

describe("device availability from heartbeats and from presence reports", () => {
  it("warns both devices offline at the same run, 2.5 intervals after their last heartbeat, stamped at it", async () => {
    await judge({ influx, registry, now: at("10:06", 14) });
    expect(await deviceWarnings()).toEqual([]);
    // The summarising gateway's offline report, made when the silence passed 75 s (its gateway clock).
    await writeReadings(influx, registry, [
      {
        kind: "presence",
        deviceId: "kp-new",
        seq: 90,
        ts: at("10:06", 15),
        rxTs: at("10:06", 15),
        type: "offline",
        intervalS: 30,
        lastSeenTs: at("10:05"),
      } as Reading,
    ]);
    await judge({ influx, registry, now: at("10:06", 16) });
    const warned = await deviceWarnings();
    expect(warned.map((w) => [w.subject, (w.time as Date).getTime(), w.active]).sort()).toEqual([
      ["kp-new", at("10:05"), 1],
      ["kp-old", at("10:05"), 1],
    ]);
    // The same words for both: silent for one minute.
    const text = (w: Record<string, unknown>) => String(w.message).replace(String(w.subject), "DEVICE");
    expect(text(warned[0]!)).toBe(text(warned[1]!));
    expect(text(warned[0]!)).toMatch(/1/);
  });

  it("gives the same exact availability per hour from either: 630 s offline from 09:00 to 10:00, 76 s of the hour after", async () => {
    const points = await rows(
      `SELECT "availability", "offline_s", "span_s", "device" FROM "raw"."device_availability" WHERE time >= ${at("09:00")}ms`,
    );
    const byDevice = (device: string) =>
      points.filter((p) => p.device === device).map((p) => [(p.time as Date).getTime(), p.availability, p.offline_s, p.span_s]);
    const expected = [
      [at("09:00"), 1 - 630 / 3600, 630, 3600],
      [at("10:00"), 1 - 76 / 376, 76, 376],
    ];
    expect(byDevice("kp-old")).toEqual(expected);
    expect(byDevice("kp-new")).toEqual(expected);
  });
});
