/**
 * The hall, sites, fleet and assessment dashboards at a scripted moment (grafana-day-fixture.ts: one hall with two
 * windows, one construction site, the gateway's health, derived series): each panel's query, as Grafana sends it,
 * on a real influxd, must show the rows a person would count by hand from the fixture. The centre's own panels are
 * grafana-centre.test.ts's.
 */
import { allDashboards, UIDS } from "@supervision/dashboards";
import { startInfluxd, type TestInfluxd } from "@supervision/test-support";
import { InfluxDB } from "influx";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureDatabase } from "../src/influx/setup.ts";
import { retentionPolicyFor } from "../src/ingest/points.ts";
import { dayPoints } from "./grafana-day-fixture.ts";
import { asGrafanaSends } from "./grafana-queries.ts";

const DATABASE = "supervision";
const NOW = Date.now();
let influxd: TestInfluxd;

beforeAll(async () => {
  influxd = await startInfluxd();
  const influx = new InfluxDB({ host: "127.0.0.1", port: influxd.port, database: DATABASE });
  await ensureDatabase(influx, DATABASE, pino({ level: "silent" }));
  const byPolicy = new Map<string, ReturnType<typeof dayPoints>>();
  for (const point of dayPoints(NOW)) {
    const policy = retentionPolicyFor(point.measurement ?? "");
    byPolicy.set(policy, [...(byPolicy.get(policy) ?? []), point]);
  }
  for (const [retentionPolicy, points] of byPolicy) await influx.writePoints(points, { retentionPolicy, precision: "n" });
});

afterAll(async () => {
  await influxd?.close();
});

/** A panel's rows (every target's): its series' tags and columns, without the time unless asked, sorted. */
async function panelRows(uid: string, title: string, { time = false } = {}): Promise<Record<string, unknown>[]> {
  const board = allDashboards("en").find((d) => d.uid === uid);
  const panel = board?.panels.find((p) => p.title === title);
  if (!board || !panel) throw new Error(`no panel "${title}" on ${uid}`);
  const shown: Record<string, unknown>[] = [];
  for (const t of panel.targets) {
    const answer = await influxd.query(asGrafanaSends(t.query, board.time.from), DATABASE);
    expect(answer.results[0]?.error, t.query).toBeUndefined();
    for (const s of answer.results[0]?.series ?? [])
      for (const v of s.values) {
        const row: Record<string, unknown> = { ...s.tags };
        s.columns.forEach((c, i) => {
          if (c !== "time" || time) row[c] = v[i];
        });
        shown.push(row);
      }
  }
  return shown.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

const MIN = 60_000;

describe("the hall dashboard", () => {
  it("shows who is signed in now at each window, since when", async () => {
    expect(await panelRows(UIDS.hall, "Who is signed in at each window", { time: true })).toEqual([
      { window: "w1", person: "c1", time: NOW - 280 * MIN, state: "in" },
      { window: "w2", person: "c2", time: NOW - 250 * MIN, state: "in" },
    ]);
  });

  it("counts each window's and clerk's ratings: 4 satisfied, 1 dissatisfied, 1 in between; a timeout counts in none", async () => {
    expect(await panelRows(UIDS.hall, "Ratings per window and clerk")).toEqual([
      { window: "w2", clerk: "", positive: 0, negative: 0, neutral: 0 },
      { window: "w1", clerk: "c1", positive: 4, negative: 1, neutral: 1 },
      { window: "w2", clerk: "c2", positive: 4, negative: 1, neutral: 1 },
    ]);
  });

  it("draws each person's attendance per status with its level", async () => {
    const rows = await panelRows(UIDS.hall, "Attendance timeline");
    expect(rows.map((r) => `${String(r.person)} ${String(r.status)} ${String(r.last)}`).sort()).toEqual([
      "c1 left_post 1",
      "c1 on_time 0",
      "c2 late 1",
      "s1 absent 2",
      "s1 on_time 0",
    ]);
  });

  it("counts motion starts per camera: one at each window", async () => {
    const rows = await panelRows(UIDS.hall, "Motion per camera");
    const starts = new Map<string, number>();
    for (const r of rows) starts.set(String(r.camera), (starts.get(String(r.camera)) ?? 0) + Number(r.sum));
    expect(Object.fromEntries(starts)).toEqual({ "cam-w1": 1, "cam-w2": 1 });
  });

  it("lists the cards with their reasons", async () => {
    expect(await panelRows(UIDS.hall, "Cards and reasons")).toEqual([
      { level: 0, reasons: "", color: "green", subject: "c1" },
      { level: 1, reasons: "late; dissatisfied rating", color: "yellow", subject: "c2" },
      { level: 2, reasons: "absent", color: "red", subject: "s1" },
    ]);
  });
});

describe("the construction sites dashboard", () => {
  it("draws the supervisor's sign-ins per hour: in and out, one each", async () => {
    const rows = await panelRows(UIDS.sites, "Supervisors' sign-in timeline");
    expect(rows).toEqual([
      { site: "site-a", person: "s1", count: 1 },
      { site: "site-a", person: "s1", count: 1 },
    ]);
  });

  it("counts half days by status and absences per site", async () => {
    expect(await panelRows(UIDS.sites, "Supervisor attendance by status")).toEqual([
      { status: "absent", "half days": 1 },
      { status: "on_time", "half days": 1 },
    ]);
    expect(await panelRows(UIDS.sites, "Absences per site")).toEqual([{ site: "site-a", absences: 1 }]);
  });

  it("lists the sign-in an offline terminal delivered 25 minutes late", async () => {
    expect(await panelRows(UIDS.sites, "Late sign-ins from offline terminals")).toEqual([
      { delay_s: 1500, person: "s1", device: "term-site" },
    ]);
  });

  it("counts and lists sign-ins outside the site and missed check-ins", async () => {
    expect(await panelRows(UIDS.sites, "Sign-ins outside the site and missed check-ins per site")).toEqual([
      { site: "site-a", "missed check-ins": 1 },
      { site: "site-a", "outside radius": 1 },
    ]);
    expect(await panelRows(UIDS.sites, "Sign-ins outside the site")).toEqual([{ person: "s1", "distance m": 500, "beyond m": 300 }]);
  });
});

describe("the gateway fleet dashboard", () => {
  it("shows each gateway's last health: online, 5 of 6 devices, 20 readings waiting, 30 s old, 42 ms", async () => {
    expect(await panelRows(UIDS.fleet, "Gateways")).toEqual([
      {
        gateway: "gw-hall-1",
        site: "hall-1",
        online: 1,
        "devices online": 5,
        "devices total": 6,
        "buffer depth": 20,
        "oldest unsent s": 30,
        "rtt ms": 42,
      },
    ]);
  });

  it("draws buffer depth, oldest unsent and round trip over time", async () => {
    const values = async (title: string) =>
      (await panelRows(UIDS.fleet, title)).map((r) => Object.values(r).find((v) => typeof v === "number"));
    expect(await values("Buffer depth")).toEqual([0, 10, 20]);
    expect(await values("Oldest unsent reading")).toEqual([30, 30, 30]);
    expect(await values("Uplink round trip")).toEqual([40, 41, 42]);
  });

  it("shows each device's availability per hour and rejected readings per gateway and reason", async () => {
    expect(await panelRows(UIDS.fleet, "Device availability per hour (%)")).toEqual([{ device: "kp-w1", last: 99.5 }]);
    expect(await panelRows(UIDS.fleet, "Rejected readings by reason")).toEqual([{ gateway: "gw-site-a", kind: "gap", rejected: 1 }]);
  });
});

describe("the assessment dashboard", () => {
  it("shows each clerk's latest monthly score with deductions and bonuses", async () => {
    expect(await panelRows(UIDS.assessment, "Monthly scores")).toEqual([
      { subject_kind: "clerk", subject: "c1", department: "permits", score: 99, deductions: 0, bonuses: 0 },
      { subject_kind: "clerk", subject: "c2", department: "permits", score: 96, deductions: 3, bonuses: 0 },
    ]);
  });

  it("sums deductions by rule", async () => {
    expect(await panelRows(UIDS.assessment, "Deductions by rule")).toEqual([
      { rule: "dissatisfied", points: -1 },
      { rule: "late", points: -2 },
    ]);
  });

  it("draws each subject's score across months", async () => {
    const rows = await panelRows(UIDS.assessment, "Score trend across months");
    const bySubject = new Map<string, number[]>();
    for (const r of rows) bySubject.set(String(r.subject), [...(bySubject.get(String(r.subject)) ?? []), Number(r.mean)]);
    expect(Object.fromEntries([...bySubject].map(([s, v]) => [s, v.sort((a, b) => a - b)]))).toEqual({ c1: [99, 100], c2: [96, 97] });
  });
});
