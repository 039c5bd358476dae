/**
 * Nobody is judged for a time the system was not there: a hall whose devices were first heard this morning has no
 * absence yesterday, while a hall heard for days is judged every day. Real influxd, the running rules.
 */
import { localTimeToUtc, type Reading } from "@supervision/firmware-protocols";
import { startInfluxd, type TestInfluxd } from "@supervision/test-support";
import { InfluxDB } from "influx";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureDatabase } from "../src/influx/setup.ts";
import type { Registry, Roster } from "../src/registry/schema.ts";
import { SupervisionSettings } from "../src/supervision/index.ts";
import { judge, writeReadings } from "./supervision-fixtures.ts";

const TZ = "Asia/Shanghai";
const YESTERDAY = "2026-11-17"; // Tuesday
const TODAY = "2026-11-18"; // Wednesday
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
const hall = (id: string) => ({ id, kind: "hall", name: id, town: "riverside", tz: TZ, gateway: `gw-${id}` });
const registry = {
  version: 1,
  regions: new Map([["east", { id: "east", name: "East" }]]),
  towns: new Map([["riverside", { id: "riverside", name: "Riverside", region: "east" }]]),
  departments: new Map(),
  sites: new Map([
    ["new-hall", hall("new-hall")],
    ["old-hall", hall("old-hall")],
    ["kept-hall", hall("kept-hall")],
  ]),
  windows: new Map(),
  people: new Map([
    ["c-new", { id: "c-new", name: "New", role: "clerk", post: "clerk", site: "new-hall", roster: "office" }],
    ["c-old", { id: "c-old", name: "Old", role: "clerk", post: "clerk", site: "old-hall", roster: "office" }],
    ["c-kept", { id: "c-kept", name: "Kept", role: "clerk", post: "clerk", site: "kept-hall", roster: "office" }],
  ]),
  rosters: new Map([["office", roster]]),
  gateways: new Map(),
  devices: new Map([
    ["t-new", { id: "t-new", kind: "terminal", site: "new-hall", heartbeatS: 60, scale: "four" }],
    ["t-old", { id: "t-old", kind: "terminal", site: "old-hall", heartbeatS: 60, scale: "four" }],
    ["t-kept", { id: "t-kept", kind: "terminal", site: "kept-hall", heartbeatS: 60, scale: "four" }],
  ]),
} as Registry;

let influxd: TestInfluxd;
let influx: InfluxDB;
let seq = 0;
const heartbeat = (device: string, ts: number): Reading =>
  ({ kind: "heartbeat", deviceId: device, seq: ++seq, ts, rxTs: ts, intervalS: 60, uptimeS: 60 }) as Reading;
const signin = (device: string, person: string, ts: number): Reading =>
  ({ kind: "signin", deviceId: device, seq: ++seq, ts, rxTs: ts, personId: person, method: "card", direction: "in" }) as Reading;

beforeAll(async () => {
  influxd = await startInfluxd();
  influx = new InfluxDB({ host: "127.0.0.1", port: influxd.port, database: "supervision" });
  await ensureDatabase(influx, "supervision", pino({ level: "silent" }));
  const at = (date: string, hhmm: string) => localTimeToUtc(date, hhmm, TZ);
  await writeReadings(influx, registry, [
    // The new hall's terminal was first heard this morning at 08:40; the old hall's four days ago.
    heartbeat("t-new", at(TODAY, "08:40")),
    heartbeat("t-old", at("2026-11-14", "08:40")),
    heartbeat("t-old", at(TODAY, "08:40")),
    // The kept hall's terminal was offline until this morning (its first heartbeat at 08:40) and then handed over the
    // punch it kept from yesterday: it was there yesterday, so yesterday is judged, by the punch's own time.
    heartbeat("t-kept", at(TODAY, "08:40")),
    { ...signin("t-kept", "c-kept", at(YESTERDAY, "08:58")), rxTs: at(TODAY, "08:41") } as Reading,
    // Both clerks signed in on time today; neither yesterday.
    signin("t-new", "c-new", at(TODAY, "08:55")),
    signin("t-old", "c-old", at(TODAY, "08:55")),
  ]);
  await judge({ influx, registry, now: at(TODAY, "18:00") });
});

afterAll(async () => {
  await influxd?.close();
});

describe("days before the system existed", () => {
  it("judges the new hall only from today, the old hall yesterday too, and a hall whose terminal handed over yesterday's punch yesterday too", async () => {
    const rows = await influx.query<{ person: string; status: string }>(`SELECT "person", "status", "level" FROM "raw"."attendance"`);
    const seen = rows.map((r) => `${r.time.toISOString().slice(0, 10)} ${r.person} ${r.status}`).sort();
    // 09:00 Shanghai is 01:00 UTC the same day.
    // The kept hall today: its terminal heard only up to 08:40, before the absence deadline, so nobody is absent yet.
    expect(seen).toEqual([`${YESTERDAY} c-kept on_time`, `${YESTERDAY} c-old absent`, `${TODAY} c-new on_time`, `${TODAY} c-old on_time`]);
  });

  it("judges nobody before the go-live setting, and takes back what an earlier run judged for that day", async () => {
    const settings = SupervisionSettings.parse({ intervalMs: 3_600_000, since: `${TODAY}T00:00:00+08:00` });
    await judge({ influx, registry, now: localTimeToUtc(TODAY, "18:30", TZ), settings });
    const rows = await influx.query<{ person: string; status: string }>(`SELECT "person", "status", "level" FROM "raw"."attendance"`);
    expect(rows.map((r) => `${r.time.toISOString().slice(0, 10)} ${r.person} ${r.status}`).sort()).toEqual([
      `${TODAY} c-new on_time`,
      `${TODAY} c-old on_time`,
    ]);
    const cards = await influx.query(`SELECT "level" FROM "raw"."card" WHERE time < ${localTimeToUtc(TODAY, "00:00", TZ)}ms`);
    expect(cards.map((c) => JSON.stringify(c))).toEqual([]);
  });

  it("refuses a go-live that is not a date, saying what it takes", () => {
    expect(() => SupervisionSettings.parse({ since: "last tuesday" })).toThrow();
    expect(SupervisionSettings.parse({ since: "2026-11-18" }).since).toBe("2026-11-18");
  });
});
