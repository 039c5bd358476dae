/**
 * The big screen at a scripted moment: each centre panel's query, as Grafana sends it, on a real influxd holding
 * exactly the situation below, must show the number or rows a supervisor would count by hand. The board (sv-centre)
 * holds the numbers; the rows behind them are on its detail dashboard (sv-centre-detail); both are tested here.
 */
import { allDashboards, UIDS } from "@supervision/dashboards";
import { startInfluxd, type TestInfluxd } from "@supervision/test-support";
import { type IPoint, InfluxDB } from "influx";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureDatabase } from "../src/influx/setup.ts";
import { asGrafanaSends } from "./grafana-queries.ts";

const DATABASE = "supervision";
const MIN = 60_000;
const NOW = Date.now();
const PLACE = { region: "north", town: "riverton" };

let influxd: TestInfluxd;

const motion = (site: string, window: string, state: "start" | "end", minutesAgo: number, seq: number): IPoint => ({
  measurement: "motion",
  tags: { ...PLACE, site, window, device: `cam-${window}`, camera: `cam-${window}`, state, source: "onvif" },
  fields: { seq, active: state === "start" ? 1 : 0, rx_ts: NOW - minutesAgo * MIN },
  timestamp: NOW - minutesAgo * MIN,
});
const attendance = (person: string, status: string, period: number, minutesAgo: number): IPoint => ({
  measurement: "attendance",
  tags: { ...PLACE, site: "hall-1", site_kind: "hall", person, role: "clerk", window: "w1", status },
  fields: { period, minutes: 10, level: status === "absent" ? 2 : status === "on_time" ? 0 : 1 },
  timestamp: NOW - minutesAgo * MIN,
});
const card = (
  subjectKind: string,
  subject: string,
  color: string,
  level: number,
  reasons: string,
  minutesAgo: number,
  department?: string,
): IPoint => ({
  measurement: "card",
  tags: { ...PLACE, site: "hall-1", subject_kind: subjectKind, subject, color, ...(department ? { department } : {}) },
  fields: { level, reasons },
  timestamp: NOW - minutesAgo * MIN,
});

const SHA = "c3".repeat(32);
const warning = (subject: string, handling: string, overdue: 0 | 1, minutesAgo: number, handledBy = "", snapshot?: string): IPoint => ({
  measurement: "warning",
  tags: { ...PLACE, site: "hall-1", category: "people", subject_kind: "window", subject, rule: "unattended", severity: "warning" },
  fields: {
    active: 1,
    message: `窗口 ${subject} 无人值守`,
    handling,
    handled_by: handledBy,
    handling_overdue: overdue,
    ...(snapshot ? { snapshot_device: `cam-${subject}`, snapshot_sha256: snapshot } : {}),
  },
  timestamp: NOW - minutesAgo * MIN,
});

const toVerify = (device: string, seq: number, clerk: string, window: string, minutesAgo: number, state = "to_verify"): IPoint => ({
  measurement: "dissatisfaction",
  tags: { ...PLACE, site: "hall-1", window, department: "tax", clerk, state },
  fields: { rating_id: `${device}:${seq}`, rating_seq: seq, device, by: "" },
  timestamp: NOW - minutesAgo * MIN,
});
const duty = (site: string, person: string, role: string, period: number, signedIn: 0 | 1, minutesAgo: number): IPoint => ({
  measurement: "duty",
  tags: { ...PLACE, site, site_kind: "site", person, role },
  fields: { period, signed_in: signedIn },
  timestamp: NOW - minutesAgo * MIN,
});
/** A window's camera silent (the unattended rule's camera_offline warning of one episode): active 1 while it goes on. */
const cameraOffline = (window: string, active: 0 | 1, minutesAgo: number): IPoint => ({
  measurement: "warning",
  tags: {
    ...PLACE,
    site: "hall-1",
    category: "equipment",
    subject_kind: "device",
    subject: `cam-${window}`,
    rule: "camera_offline",
    severity: "warning",
  },
  fields: { active, message: `cam-${window} silent`, minutes: 30 },
  timestamp: NOW - minutesAgo * MIN,
});

/** An equipment warning as the equipment rule writes it: stamped at the last contact, active 0 once back. */
const equipment = (site: string, kind: "device" | "gateway", subject: string, rule: string, active: 0 | 1, minutesAgo: number): IPoint => ({
  measurement: "warning",
  tags: { ...PLACE, site, category: "equipment", subject_kind: kind, subject, rule, severity: "warning" },
  fields: { active, message: `${subject} ${rule}` },
  timestamp: NOW - minutesAgo * MIN,
});

/**
 * Windows of hall-1: w1 staffed (motion 5 minutes ago), w2 left 10 minutes ago, w3 left 20 minutes ago, w4 left
 * three hours ago, w5 a seated clerk whose camera has said nothing since the start 40 minutes ago.
 */
function situation(): IPoint[] {
  let seq = 0;
  return [
    motion("hall-1", "w1", "start", 5, ++seq),
    motion("hall-1", "w2", "start", 60, ++seq),
    motion("hall-1", "w2", "end", 10, ++seq),
    motion("hall-1", "w3", "start", 90, ++seq),
    motion("hall-1", "w3", "end", 20, ++seq),
    motion("hall-1", "w4", "start", 240, ++seq),
    motion("hall-1", "w4", "end", 180, ++seq),
    motion("hall-1", "w5", "start", 40, ++seq),
    // Cameras: w6's silent since 30 minutes ago (its window not judged); w7's was silent this morning and is back (its
    // second episode closed too); w9's was silent yesterday.
    cameraOffline("w6", 1, 30),
    cameraOffline("w7", 0, 200),
    cameraOffline("w7", 0, 100),
    cameraOffline("w9", 1, 26 * 60),
    // Attendance today: p1 late in both half days (one person), p2 absent all day (one person), p3 left the post,
    // p4 left early, p5 on time; yesterday p6 was absent (not today's business).
    attendance("p1", "late", 0, 200),
    attendance("p1", "late", 1, 100),
    attendance("p2", "absent", 0, 200),
    attendance("p2", "absent", 1, 100),
    attendance("p3", "left_post", 0, 200),
    attendance("p4", "early_leave", 1, 100),
    attendance("p5", "on_time", 0, 200),
    attendance("p6", "absent", 0, 30 * 60),
    // Cards today: the window unit of w2 yellow, clerk p2 red, clerk p1 yellow then back to green (closed);
    // yesterday's red card and a 60-day-old card are not today's.
    card("window", "w2", "yellow", 1, "无人 40 分钟", 240),
    card("clerk", "p2", "red", 2, "缺勤 2 个半天", 240),
    card("clerk", "p1", "yellow", 1, "迟到", 240),
    card("clerk", "p1", "green", 0, "", 230),
    card("clerk", "p7", "red", 2, "yesterday", 26 * 60),
    card("clerk", "p8", "red", 2, "long ago", 60 * 24 * 60),
    // Warnings today: w2 open and past its limit (with its snapshot), w3 open within it, w4 acknowledged, w5 handled, w6 closed;
    // yesterday's open one is not today's.
    warning("w2", "open", 1, 50, "", SHA),
    warning("w3", "open", 0, 10),
    warning("w4", "acknowledged", 0, 40, "王主任"),
    warning("w5", "handled", 0, 45, "王主任"),
    warning("w6", "closed", 0, 47, "王主任"),
    warning("w7", "open", 1, 26 * 60),
    // Department blocks: tax has a red card (its clerk p9) and a green one; permits a yellow window; works a card that
    // went back to green; civil only green; a supervisor's card has no department; yesterday's red is not today's.
    card("clerk", "p9", "red", 2, "缺勤", 240, "tax"),
    card("clerk", "p10", "green", 0, "", 240, "tax"),
    card("window", "w8", "yellow", 1, "无人", 240, "permits"),
    card("clerk", "p11", "yellow", 1, "迟到", 240, "works"),
    card("clerk", "p11", "green", 0, "", 200, "works"),
    card("clerk", "p12", "green", 0, "", 240, "civil"),
    card("supervisor", "s9", "red", 2, "缺勤", 240),
    card("clerk", "p13", "red", 2, "yesterday", 26 * 60, "civil"),
    // Dissatisfied ratings: two waiting (one from last week), one decided; one waiting from 40 days ago is out of range.
    toVerify("kp-w1", 17, "p1", "w1", 90),
    toVerify("kp-w2", 4, "p3", "w2", 6 * 24 * 60),
    toVerify("kp-w1", 12, "p1", "w1", 120, "verified"),
    toVerify("kp-w2", 2, "p3", "w2", 40 * 24 * 60),
    // Supervisors on duty today: s1 not signed in for either shift begun; s2 signed in for the afternoon; s3 on time;
    // a clerk not signed in is not a supervisor; s4 was not signed in yesterday (not today's).
    duty("site-a", "s1", "supervisor", 0, 0, 300),
    duty("site-a", "s1", "supervisor", 1, 0, 60),
    duty("site-a", "s2", "supervisor", 0, 0, 300),
    duty("site-a", "s2", "supervisor", 1, 1, 60),
    duty("site-b", "s3", "supervisor", 0, 1, 300),
    duty("hall-1", "c9", "clerk", 0, 0, 300),
    duty("site-b", "s4", "supervisor", 0, 0, 26 * 60),
    // Equipment: keypad kp-w1 silent for 30 minutes; camera cam-w3 silent earlier and back; terminal term-1 back
    // once and silent again since 20 minutes; the site's gateway silent; the hall's gateway only has a backlog.
    equipment("hall-1", "device", "kp-w1", "offline", 1, 30),
    equipment("hall-1", "device", "cam-w3", "offline", 0, 180),
    equipment("hall-1", "device", "term-1", "offline", 0, 300),
    equipment("hall-1", "device", "term-1", "offline", 1, 20),
    equipment("site-a", "gateway", "gw-site-a", "offline", 1, 15),
    equipment("hall-1", "gateway", "gw-hall-1", "backlog", 1, 10),
  ];
}

beforeAll(async () => {
  influxd = await startInfluxd();
  const influx = new InfluxDB({ host: "127.0.0.1", port: influxd.port, database: DATABASE });
  await ensureDatabase(influx, DATABASE, pino({ level: "silent" }));
  await influx.writePoints(situation(), { precision: "ms" });
});

afterAll(async () => {
  await influxd?.close();
});

/**
 * A panel of the big screen or of its detail dashboard, found by its English title (the queries are the same in every
 * language); `on` says which of the two must hold it.
 */
function centrePanel(title: string, on: "board" | "detail" = "board") {
  const uid = on === "board" ? UIDS.centre : UIDS.centreDetail;
  const panel = allDashboards("en")
    .find((d) => d.uid === uid)
    ?.panels.find((p) => p.title === title);
  if (!panel) throw new Error(`no panel "${title}" on ${uid}`);
  return panel;
}

async function rows(query: string) {
  const answer = await influxd.query(asGrafanaSends(query, "now/d"), DATABASE);
  expect(answer.results[0]?.error).toBeUndefined();
  return answer.results[0]?.series ?? [];
}

async function statNumbers(title: string): Promise<Record<string, unknown>> {
  const numbers: Record<string, unknown> = {};
  for (const target of centrePanel(title).targets) {
    const series = await rows(target.query);
    expect(series.length, target.query).toBe(1);
    numbers[series[0]?.columns[1] ?? target.refId] = series[0]?.values[0]?.[1];
  }
  return numbers;
}

describe("the big screen at a scripted moment", () => {
  it("counts the long-empty windows as unattended, the windows whose camera is offline apart, and the quiet seated clerk as at post", async () => {
    expect(await statNumbers("Unattended windows now")).toEqual({ unattended: 3, "camera offline": 1 });
    expect(Object.values(await statNumbers("Clerks at their post now"))).toEqual([2]);
  });

  it("counts people, not half days, for late, absent and left early or left the post today", async () => {
    expect(await statNumbers("Late, absent, left early or left post today")).toEqual({
      late: 1,
      absent: 1,
      "left early or left post": 2,
    });
  });

  it("lists today's open cards with who and where, and nothing closed, from yesterday or older", async () => {
    const series = await rows(centrePanel("Yellow and red cards today", "detail").targets[0]?.query ?? "");
    const shown = series
      .map((s): Record<string, unknown> => ({ ...s.tags, card: s.values[0]?.[1], reasons: s.values[0]?.[2] }))
      .sort((a, b) => String(a.subject).localeCompare(String(b.subject)));
    expect(shown).toEqual([
      { site: "hall-1", subject_kind: "clerk", subject: "p2", card: 2, reasons: "缺勤 2 个半天" },
      { site: "hall-1", subject_kind: "clerk", subject: "p9", card: 2, reasons: "缺勤" },
      { site: "hall-1", subject_kind: "supervisor", subject: "s9", card: 2, reasons: "缺勤" },
      { site: "hall-1", subject_kind: "window", subject: "w2", card: 1, reasons: "无人 40 分钟" },
      { site: "hall-1", subject_kind: "window", subject: "w8", card: 1, reasons: "无人" },
    ]);
    // The board counts the same rows: two yellow, three red.
    expect(await statNumbers("Cards today")).toEqual({ yellow: 2, red: 3 });
  });
});

/** A table panel's rows as [tag columns..., value columns...] records, sorted. */
async function tableRows(title: string, on: "board" | "detail" = "detail"): Promise<Record<string, unknown>[]> {
  const series = await rows(centrePanel(title, on).targets[0]?.query ?? "");
  return series
    .flatMap((s) =>
      s.values.map((v): Record<string, unknown> => ({ ...s.tags, ...Object.fromEntries(s.columns.slice(1).map((c, i) => [c, v[i + 1]])) })),
    )
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

describe("the big screen's blocks and lists", () => {
  it("shows each department's worst card today: tax red, permits yellow, works and civil green", async () => {
    expect(await tableRows("Departments now", "board")).toEqual([
      { department: "civil", state: 0 },
      { department: "permits", state: 1 },
      { department: "tax", state: 2 },
      { department: "works", state: 0 },
    ]);
  });

  it("lists the dissatisfied ratings waiting for verification with what an operator needs: device:seq, clerk, window, time", async () => {
    const series = await rows(centrePanel("Dissatisfied ratings to verify", "detail").targets[0]?.query ?? "");
    expect(series).toHaveLength(1);
    expect(series[0]?.columns).toEqual(["time", "rating", "clerk", "window", "site"]);
    expect(series[0]?.values).toEqual([
      [NOW - 90 * MIN, "kp-w1:17", "p1", "w1", "hall-1"],
      [NOW - 6 * 24 * 60 * MIN, "kp-w2:4", "p3", "w2", "hall-1"],
    ]);
    expect(await statNumbers("Ratings to verify")).toEqual({ "to verify": 2 });
  });

  it("lists the site supervisors on duty who have not signed in today", async () => {
    expect(await tableRows("Site supervisors not signed in today")).toEqual([{ site: "site-a", person: "s1", state: 0 }]);
    expect(await statNumbers("Supervisors not signed in")).toEqual({ supervisors: 1 });
  });

  it("counts and lists the devices and gateways offline now", async () => {
    expect(await statNumbers("Devices and gateways offline")).toEqual({ devices: 2, gateways: 1 });
    expect(await tableRows("Offline devices and gateways")).toEqual([
      { site: "hall-1", subject_kind: "device", subject: "kp-w1", state: 1 },
      { site: "hall-1", subject_kind: "device", subject: "term-1", state: 1 },
      { site: "site-a", subject_kind: "gateway", subject: "gw-site-a", state: 1 },
    ]);
  });
});

describe("warnings and their handling on the big screen", () => {
  it("counts today's warnings not yet handled, and those past their limit", async () => {
    expect(await statNumbers("Warnings waiting for handling today")).toEqual({ waiting: 3, overdue: 1 });
  });

  it("lists today's warnings that are not closed, with their state and who handled them, newest first", async () => {
    const series = await rows(centrePanel("Warnings today and their handling", "detail").targets[0]?.query ?? "");
    const shown = series
      .map((s) => ({
        subject: s.tags?.subject,
        warning: s.values[0]?.[1],
        handling: s.values[0]?.[2],
        by: s.values[0]?.[3],
        overdue: s.values[0]?.[4],
        snapshot: [s.values[0]?.[5], s.values[0]?.[6]],
      }))
      .sort((a, b) => String(a.subject).localeCompare(String(b.subject)));
    expect(shown).toEqual([
      { subject: "w2", warning: "窗口 w2 无人值守", handling: "open", by: "", overdue: 1, snapshot: ["cam-w2", SHA] },
      { subject: "w3", warning: "窗口 w3 无人值守", handling: "open", by: "", overdue: 0, snapshot: [null, null] },
      { subject: "w4", warning: "窗口 w4 无人值守", handling: "acknowledged", by: "王主任", overdue: 0, snapshot: [null, null] },
      { subject: "w5", warning: "窗口 w5 无人值守", handling: "handled", by: "王主任", overdue: 0, snapshot: [null, null] },
    ]);
    expect(series[0]?.columns.slice(5)).toEqual(["snapshot_device", "snapshot_sha256"]);
  });

  it("shows the handling states in Chinese", () => {
    const panel = allDashboards()
      .find((d) => d.uid === UIDS.centreDetail)
      ?.panels.find((p) => p.title === "今日预警及处置");
    const options = panel?.fieldConfig.defaults.mappings?.[0]?.options ?? {};
    expect(Object.fromEntries(Object.entries(options).map(([k, v]) => [k, v.text]))).toEqual({
      open: "待处理",
      acknowledged: "已知悉",
      handled: "已处置",
      closed: "已办结",
    });
  });
});

describe("the dashboards speak Chinese by default", () => {
  const han = /\p{Script=Han}/u;
  it("every dashboard, panel, variable label and link title is Chinese", () => {
    for (const d of allDashboards()) {
      expect(d.title, d.uid).toMatch(han);
      expect(d.description, d.uid).toMatch(han);
      for (const p of d.panels) {
        expect(p.title, `${d.uid} panel ${p.id}`).toMatch(han);
        if (p.description !== undefined) expect(p.description, `${d.uid} panel ${p.id}`).toMatch(han);
      }
      for (const v of d.templating.list) expect(v.label, `${d.uid} $${v.name}`).toMatch(han);
      for (const l of d.links) expect(l.title, `${d.uid} link`).toMatch(han);
    }
  });

  it("English is a setting away, with the same queries apart from column names", () => {
    const zh = allDashboards("zh-CN");
    const en = allDashboards("en");
    expect(en.map((d) => d.uid)).toEqual(zh.map((d) => d.uid));
    expect(en[0]?.title).toBe("Supervision centre");
    const strip = (q: string) => q.replace(/ AS "[^"]*"/g, "");
    for (const [i, d] of en.entries()) {
      const other = zh[i];
      expect(d.panels.map((p) => p.targets.map((t) => strip(t.query)))).toEqual(
        other?.panels.map((p) => p.targets.map((t) => strip(t.query))),
      );
    }
  });
});
