/**
 * A small simulated day for the dashboard query tests: one hall with two windows and one construction site.
 *
 * Raw readings go through the real ingest mapping (readingToPoint, gatewayHealthPoint, integrityAlertPoint).
 * They are written by hand here because the simulators' generateDay (@supervision/firmware-protocols/sim) did
 * not exist yet; swap `readings()` for generateDay(demoHallScenario/demoSiteScenario) once it does.
 * The DERIVED SERIES (attendance, warning, card, deduction, score_monthly) are a fixture following
 * hub/SCHEMA.md's measurement and tag names, standing in for the supervision rules' output; their fields
 * (attendance `level`, card `level`/`reasons`, deduction `points`, score `score`/`deductions`/`bonuses`) are
 * what the dashboards read.
 */
import type { Reading } from "@supervision/firmware-protocols";
import type { IPoint } from "influx";
import { gatewayHealthPoint, integrityAlertPoint, readingToPoint } from "../src/ingest/points.ts";
import type { Registry } from "../src/registry/schema.ts";

const PEM = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----";

export function dayRegistry(): Registry {
  const map = <T extends { id: string }>(items: T[]) => new Map(items.map((item) => [item.id, item]));
  return {
    version: 1,
    regions: map([{ id: "north", name: "North" }]),
    towns: map([{ id: "riverton", name: "Riverton", region: "north" }]),
    departments: map([{ id: "permits", name: "Permits" }]),
    sites: map([
      { id: "hall-1", kind: "hall" as const, name: "Service hall 1", town: "riverton", tz: "UTC", gateway: "gw-hall-1" },
      { id: "site-a", kind: "site" as const, name: "Bridge works", town: "riverton", tz: "UTC", gateway: "gw-site-a" },
    ]),
    windows: map([
      { id: "w1", site: "hall-1", name: "Window 1", department: "permits", unattendedAfterMinutes: 30 },
      { id: "w2", site: "hall-1", name: "Window 2", department: "permits", unattendedAfterMinutes: 30 },
    ]),
    people: map([
      { id: "c1", name: "Clerk One", role: "clerk" as const, post: "", site: "hall-1", window: "w1", roster: "office" },
      { id: "c2", name: "Clerk Two", role: "clerk" as const, post: "", site: "hall-1", window: "w2", roster: "office" },
      { id: "s1", name: "Supervisor One", role: "supervisor" as const, post: "", site: "site-a", roster: "office" },
      { id: "s2", name: "Supervisor Two", role: "supervisor" as const, post: "", site: "site-a", roster: "office" },
    ]),
    rosters: map([
      {
        id: "office",
        shifts: [{ start: "09:00", end: "17:00" }],
        workingDays: ["mon" as const],
        graceMinutes: 5,
        absentAfterMinutes: 60,
        holidays: [],
        workdays: [],
        exceptions: [],
      },
    ]),
    gateways: map([
      { id: "gw-hall-1", site: "hall-1", publicKey: PEM },
      { id: "gw-site-a", site: "site-a", publicKey: PEM },
    ]),
    devices: map([
      { id: "kp-w1", kind: "keypad" as const, site: "hall-1", window: "w1", heartbeatS: 60, scale: "five" as const },
      { id: "kp-w2", kind: "keypad" as const, site: "hall-1", window: "w2", heartbeatS: 60, scale: "five" as const },
      { id: "term-hall", kind: "terminal" as const, site: "hall-1", heartbeatS: 60, scale: "four" as const },
      { id: "term-site", kind: "terminal" as const, site: "site-a", heartbeatS: 60, scale: "four" as const },
      { id: "cam-w1", kind: "camera" as const, site: "hall-1", window: "w1", cameraId: "cam-w1", heartbeatS: 60, scale: "four" as const },
      { id: "cam-w2", kind: "camera" as const, site: "hall-1", window: "w2", cameraId: "cam-w2", heartbeatS: 60, scale: "four" as const },
    ]),
  };
}

const MIN = 60_000;

/** The day's device readings, all within the last five hours before `now`. */
export function readings(now: number): Reading[] {
  let seq = 0;
  const at = (minutesAgo: number, delayMs = 200) => ({ seq: ++seq, ts: now - minutesAgo * MIN, rxTs: now - minutesAgo * MIN + delayMs });
  const levels = ["very_satisfied", "satisfied", "basically_satisfied", "dissatisfied", "very_satisfied", "satisfied"] as const;
  const ratings = levels.flatMap((level, i) => [
    {
      kind: "rating" as const,
      deviceId: "kp-w1",
      windowId: "w1",
      clerkId: "c1",
      outcome: "rated",
      scale: "five",
      key: levels.indexOf(level) + 1,
      level,
      ...at(240 - i * 30),
    },
    {
      kind: "rating" as const,
      deviceId: "kp-w2",
      windowId: "w2",
      clerkId: "c2",
      outcome: "rated",
      scale: "five",
      key: levels.indexOf(level) + 1,
      level,
      ...at(230 - i * 30),
    },
  ]);
  return [
    { kind: "signin", deviceId: "term-hall", personId: "c1", method: "card", direction: "in", ...at(280) },
    { kind: "signin", deviceId: "term-hall", personId: "c2", method: "face", direction: "in", ...at(250) },
    // Signed in at the site while the terminal was offline: arrived 25 minutes late.
    {
      kind: "signin",
      deviceId: "term-site",
      personId: "s1",
      method: "fingerprint",
      direction: "in",
      location: { lat: 30.1, lon: 120.2, accuracyM: 8 },
      ...at(270, 25 * MIN),
    },
    { kind: "signin", deviceId: "term-site", personId: "s1", method: "fingerprint", direction: "out", ...at(30) },
    ...ratings,
    { kind: "rating", deviceId: "kp-w2", windowId: "w2", outcome: "timeout", scale: "five", ...at(100) },
    // w1: somebody there now; w2: left 10 minutes ago.
    { kind: "motion", deviceId: "cam-w1", cameraId: "cam-w1", state: "start", source: "onvif", ...at(5) },
    { kind: "motion", deviceId: "cam-w2", cameraId: "cam-w2", state: "start", source: "onvif", ...at(40) },
    { kind: "motion", deviceId: "cam-w2", cameraId: "cam-w2", state: "end", source: "onvif", ...at(10) },
    { kind: "heartbeat", deviceId: "kp-w1", intervalS: 60, uptimeS: 3600, ...at(2) },
  ];
}

export function healthPoints(now: number, registry: Registry): IPoint[] {
  const points: IPoint[] = [];
  for (const [i, minutesAgo] of [60, 30, 5].entries()) {
    const ts = now - minutesAgo * MIN;
    points.push(
      gatewayHealthPoint(
        {
          v: 1,
          gatewayId: "gw-hall-1",
          state: "online",
          ts,
          configVersion: 1,
          devices: { online: 5, total: 6 },
          buffer: { depth: 10 * i, bytes: 1000, capacityBytes: 1e9, oldestTs: ts - 30_000, deadLetters: 0 },
          uplink: { inFlight: 0, rttMs: 40 + i, drainRatePerS: 50 },
        },
        registry,
        now,
      ),
    );
  }
  points.push(
    integrityAlertPoint({
      gatewayId: "gw-site-a",
      kind: "gap",
      epoch: "e1",
      seq: 7,
      detail: "batch 6 missing",
      atMs: now - 50 * MIN,
      discriminator: 7,
    }),
  );
  return points;
}

/** Stand-in for the supervision rules' output (see the file comment). */
export function derivedSupervisionFixture(now: number): IPoint[] {
  const place = { region: "north", town: "riverton" };
  const hall = { ...place, site: "hall-1", site_kind: "hall" };
  const site = { ...place, site: "site-a", site_kind: "site" };
  const ago = (minutes: number) => new Date(now - minutes * MIN);
  return [
    {
      measurement: "attendance",
      timestamp: ago(200),
      tags: { ...hall, person: "c1", role: "clerk", window: "w1", status: "on_time" },
      fields: { level: 0 },
    },
    {
      measurement: "attendance",
      timestamp: ago(200),
      tags: { ...hall, person: "c2", role: "clerk", window: "w2", status: "late" },
      fields: { level: 1 },
    },
    {
      // c1 stepped away in the afternoon: the big screen counts people who left early or left the post.
      measurement: "attendance",
      timestamp: ago(100),
      tags: { ...hall, person: "c1", role: "clerk", window: "w1", status: "left_post" },
      fields: { level: 1 },
    },
    {
      measurement: "attendance",
      timestamp: ago(190),
      tags: { ...site, person: "s1", role: "supervisor", window: "none", status: "on_time" },
      fields: { level: 0 },
    },
    {
      measurement: "attendance",
      timestamp: ago(20),
      tags: { ...site, person: "s1", role: "supervisor", window: "none", status: "absent" },
      fields: { level: 2 },
    },
    {
      measurement: "site_presence",
      timestamp: ago(185),
      tags: { ...place, site: "site-a", person: "s1", role: "supervisor", finding: "outside_radius" },
      fields: { count: 1, required: 0, distance_m: 500, beyond_m: 300, accuracy_m: 0 },
    },
    {
      measurement: "site_presence",
      timestamp: ago(180),
      tags: { ...place, site: "site-a", person: "s1", role: "supervisor", finding: "missed_checkin" },
      fields: { count: 1, required: 3, distance_m: 0, beyond_m: 0, accuracy_m: 0 },
    },
    {
      measurement: "warning",
      timestamp: ago(10),
      tags: {
        ...place,
        site: "hall-1",
        category: "people",
        subject_kind: "window",
        subject: "w2",
        rule: "unattended",
        severity: "warning",
      },
      // Open, and past its handling limit: the big screen counts it as waiting and overdue.
      fields: { active: 1, message: "window 2 unattended", handling: "open", handled_by: "", handling_overdue: 1 },
    },
    // Window 3's camera silent since 40 minutes ago (the unattended rule's equipment warning, still going on).
    {
      measurement: "warning",
      timestamp: ago(40),
      tags: {
        ...place,
        site: "hall-1",
        category: "equipment",
        subject_kind: "device",
        subject: "cam-w3",
        rule: "camera_offline",
        severity: "warning",
      },
      fields: { active: 1, message: "camera cam-w3 silent", minutes: 40 },
    },
    // Approval items as the items rule leaves them: one at its limit, one overdue (the big screen's items panels).
    {
      measurement: "item_state",
      timestamp: ago(120),
      tags: { ...place, site: "hall-1", department: "permits", item: "XK-001" },
      fields: {
        application: "A-1",
        state: "in_progress",
        stage: "reminded",
        open: 1,
        near: 1,
        overdue: 0,
        left: 1,
        overdue_days: 0,
        due_date: "2026-11-23",
        handler: "Clerk One",
      },
    },
    {
      measurement: "item_state",
      timestamp: ago(110),
      tags: { ...place, site: "hall-1", department: "permits", item: "XK-001" },
      fields: {
        application: "A-2",
        state: "in_progress",
        stage: "red",
        open: 1,
        near: 0,
        overdue: 1,
        left: 0,
        overdue_days: 4,
        due_date: "2026-11-17",
        handler: "Clerk Two",
      },
    },
    // A-1's first two events (the items dashboard's trail).
    {
      measurement: "item_event",
      timestamp: ago(120),
      tags: { ...place, site: "hall-1", department: "permits", item: "XK-001", device: "queue-1", type: "accepted" },
      fields: { seq: 1, application: "A-1", window: "w1", clerk: "c1", applicant: "person" },
    },
    {
      measurement: "item_event",
      timestamp: ago(60),
      tags: { ...place, site: "hall-1", department: "permits", item: "XK-001", device: "permits-sys", type: "step" },
      fields: { seq: 2, application: "A-1", step: "review", handler: "Clerk One", result: "materials complete" },
    },
    // A-1's transaction finished at w1 (the hall dashboard's transactions per window).
    {
      measurement: "queue_event",
      timestamp: ago(118),
      tags: { ...place, site: "hall-1", window: "w1", device: "queue-1", type: "finished" },
      fields: { seq: 3, ticket: "A001", txn: "T-1", clerk: "c1", application: "A-1", item: "XK-001" },
    },
    // ... and its waiting and service time, as the items rule derives them (the hall's waiting and service panel).
    {
      measurement: "transaction",
      timestamp: ago(118),
      tags: { ...place, site: "hall-1", department: "permits", window: "w1" },
      fields: { txn: "T-1", clerk: "c1", item: "XK-001", application: "A-1", waiting_s: 420, service_s: 660 },
    },
    // Who is on duty in a shift begun: s1 signed in, s2 not (the big screen's supervisors not signed in).
    ...(["s1", "s2"] as const).map((person) => ({
      measurement: "duty",
      timestamp: ago(270),
      tags: { ...site, person, role: "supervisor" },
      fields: { period: 0, signed_in: person === "s1" ? 1 : 0 },
    })),
    // c2's dissatisfied rating 110 minutes ago, waiting for a supervisor to verify it.
    {
      measurement: "dissatisfaction",
      timestamp: ago(110),
      tags: { ...place, site: "hall-1", window: "w2", department: "permits", clerk: "c2", state: "to_verify" },
      fields: { rating_id: "kp-w2:8", rating_seq: 8, device: "kp-w2", by: "" },
    },
    // The equipment rule's hourly availability of a keypad: 99.5 % this hour (18 s offline of the hour so far).
    {
      measurement: "device_availability",
      timestamp: new Date(Math.floor(now / 3_600_000) * 3_600_000),
      tags: { ...place, site: "hall-1", device: "kp-w1", device_kind: "keypad" },
      fields: { availability: 0.995, offline_s: 18, span_s: 3600 },
    },
    // The site's gateway and terminal silent for 20 minutes (the equipment rule's warnings, stamped at the last contact).
    ...(
      [
        ["gateway", "gw-site-a"],
        ["device", "term-site"],
      ] as const
    ).map(([kind, subject]) => ({
      measurement: "warning",
      timestamp: ago(20),
      tags: { ...place, site: "site-a", category: "equipment", subject_kind: kind, subject, rule: "offline", severity: "warning" },
      fields: { active: 1, message: `${subject} offline` },
    })),
    {
      measurement: "card",
      timestamp: ago(60),
      tags: { ...place, site: "hall-1", department: "permits", subject_kind: "clerk", subject: "c2", color: "yellow" },
      fields: { level: 1, reasons: "late; dissatisfied rating" },
    },
    {
      measurement: "card",
      timestamp: ago(50),
      tags: { ...place, site: "hall-1", department: "permits", subject_kind: "clerk", subject: "c1", color: "green" },
      fields: { level: 0, reasons: "" },
    },
    // The site supervisor absent this afternoon: a red card (supervisors carry no department).
    {
      measurement: "card",
      timestamp: ago(15),
      tags: { ...place, site: "site-a", subject_kind: "supervisor", subject: "s1", color: "red" },
      fields: { level: 2, reasons: "absent" },
    },
    {
      measurement: "deduction",
      timestamp: ago(150),
      tags: { ...place, site: "hall-1", subject_kind: "clerk", subject: "c2", rule: "late" },
      fields: { points: -2, reason: "late sign-in", entered_by: "rules" },
    },
    {
      measurement: "deduction",
      timestamp: ago(140),
      tags: { ...place, site: "hall-1", subject_kind: "window_unit", subject: "w2", rule: "dissatisfied" },
      fields: { points: -1, reason: "verified dissatisfaction", entered_by: "rules" },
    },
    ...[40 * 24 * 60, 10 * 24 * 60].flatMap((minutes, i) =>
      ["c1", "c2"].map((subject) => ({
        measurement: "score_monthly",
        timestamp: ago(minutes),
        tags: { ...place, site: "hall-1", department: "permits", subject_kind: "clerk", subject },
        fields: { score: 100 - i - (subject === "c2" ? 3 : 0), deductions: subject === "c2" ? 3 : 0, bonuses: 0 },
      })),
    ),
  ];
}

/** All points of the day: ingest-mapped readings, health, and the derived fixture. */
export function dayPoints(now: number): IPoint[] {
  const registry = dayRegistry();
  const mapped = readings(now).map((reading) => {
    const point = readingToPoint(reading, registry);
    if ("error" in point) throw new Error(point.error.message);
    return point;
  });
  return [...mapped, ...healthPoints(now, registry), ...derivedSupervisionFixture(now)];
}
