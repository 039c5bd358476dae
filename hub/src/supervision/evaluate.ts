import { localDate, localTimeToUtc } from "@supervision/firmware-protocols";
import { escape, type InfluxDB, type IPoint } from "influx";
import type { CardEvent, WarningEvent } from "../controller/extension.ts";
import type { Registry, Site } from "../registry/schema.ts";
import { judgeAttendance, judgeLeftPost, type Judgement, type Signin } from "./attendance.ts";
import { clockSuspect } from "./clock.ts";
import { dayKind, nextDate, type Period, periods } from "./calendar.ts";
import { attendanceDeductions, cardColor, type Deduction, type Episode, type MotionEvent, proRata, unattendedEpisodes } from "./rules.ts";
import { monthRange } from "./report.ts";
import { satisfactionWarnings } from "./satisfaction.ts";
import type { SupervisionSettings } from "./settings.ts";

/** Measurements and deduction rules that the rules own and recompute; manual entries and decisions are kept. */
export const DERIVED = ["attendance", "warning", "card", "score_daily"] as const;
export const DERIVED_DEDUCTION_RULES = [
  "late",
  "early_leave",
  "absent",
  "left_post",
  "unattended",
  "pro_rata",
  "dissatisfied_clerk",
  "dissatisfied_unit",
];

export interface DayOutcome {
  site: string;
  date: string;
  /** The span of the day's working periods (derived points live here) and of the whole local day. */
  from: number;
  to: number;
  dayFrom: number;
  dayTo: number;
  judgements: Map<string, Judgement[]>;
  unattended: Map<string, Episode[]>;
  deductions: Deduction[];
  points: IPoint[];
  warnings: WarningEvent[];
  cards: CardEvent[];
}

type Row = Record<string, unknown> & { time: { getTime(): number } };
const q = (s: string) => escape.stringLit(s);
/** InfluxDB refuses empty tag values: an unknown tag is left out. */
const tags = (t: Record<string, string | undefined>): Record<string, string> =>
  Object.fromEntries(Object.entries(t).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== ""));
const ns = (ms: number) => `${ms}000000`;

/** Recomputes one site's day from what InfluxDB holds; pure apart from the reads. */
export async function evaluateDay(
  influx: InfluxDB,
  registry: Registry,
  site: Site,
  date: string,
  now: number,
  settings: SupervisionSettings,
): Promise<DayOutcome> {
  const people = [...registry.people.values()].filter((p) => p.site === site.id);
  const windows = [...registry.windows.values()].filter((w) => w.site === site.id);
  const town = registry.towns.get(site.town);
  const where = { region: town?.region ?? "", town: site.town, site: site.id };
  const periodsOf = new Map<string, Period[]>();
  let from = Number.POSITIVE_INFINITY;
  let to = 0;
  for (const person of people) {
    const roster = registry.rosters.get(person.roster);
    if (!roster || !dayKind(roster, person, date).working) continue;
    const ps = periods(roster, date, site.tz);
    periodsOf.set(person.id, ps);
    for (const p of ps) {
      from = Math.min(from, p.start - settings.earlySigninMinutes * 60_000);
      to = Math.max(to, p.end);
    }
  }
  const dayFrom = localTimeToUtc(date, "00:00", site.tz);
  const dayTo = localTimeToUtc(nextDate(date), "00:00", site.tz);
  const outcome: DayOutcome = {
    site: site.id,
    date,
    from,
    to,
    dayFrom,
    dayTo,
    judgements: new Map(),
    unattended: new Map(),
    deductions: [],
    points: [],
    warnings: [],
    cards: [],
  };
  if (periodsOf.size === 0) return outcome;

  const range = `time >= ${ns(from)} AND time <= ${ns(to)} AND "site" = ${q(site.id)}`;
  // Ratings, decisions and people's entries count for the whole local day, not only its working hours.
  const wholeDay = `time >= ${ns(dayFrom)} AND time < ${ns(dayTo)} AND "site" = ${q(site.id)}`;
  const [signinRows, heartbeatRows, motionRows, negativeRows, decisionRows, manualRows] = await Promise.all([
    influx.query<Row>(`SELECT "person", "device", "direction", "time_suspect", "rx_ts" FROM "raw"."signin" WHERE ${range}`),
    // The terminals' heartbeats: was a late-received sign-in's terminal connected when it was made?
    influx.query<Row>(
      `SELECT "device", "seq" FROM "health"."heartbeat" WHERE "site" = ${q(site.id)} AND "device_kind" = 'terminal' AND time >= ${ns(from)} AND time <= ${ns(to)}`,
    ),
    influx.query<Row>(`SELECT "window", "active" FROM "raw"."motion" WHERE ${range}`),
    influx.query<Row>(`SELECT "window", "department", "clerk", "device", "seq" FROM "raw"."rating" WHERE ${wholeDay} AND "negative" = 1`),
    influx.query<Row>(
      `SELECT "rating_id", "fault", "by", "state" FROM "raw"."dissatisfaction" WHERE ${wholeDay} AND "state" != 'to_verify'`,
    ),
    influx.query<Row>(
      `SELECT "subject_kind", "subject", "rule", "points" FROM "raw"."deduction" WHERE ${wholeDay} AND "entered_by" != 'rules'`,
    ),
  ]);

  // Attendance, per person and period.
  for (const person of people) {
    const ps = periodsOf.get(person.id);
    const roster = registry.rosters.get(person.roster);
    if (!ps || !roster) continue;
    const signins: Signin[] = signinRows
      .filter((r) => r.person === person.id)
      .map((r) => {
        const ts = r.time.getTime();
        const heartbeats = heartbeatRows.filter((x) => x.device === r.device).map((x) => x.time.getTime());
        const heartbeatWindowMs = 2 * (registry.devices.get(String(r.device))?.heartbeatS ?? 60) * 1000;
        const stamp = { ts, rxTs: Number(r.rx_ts ?? ts), timeSuspect: r.time_suspect === true };
        return {
          ts,
          direction: r.direction === "out" ? "out" : "in",
          suspect: clockSuspect(stamp, heartbeats, settings.clockToleranceMinutes * 60_000, heartbeatWindowMs),
        };
      });
    const judgements = [...judgeAttendance(ps, roster, signins, now, settings.earlySigninMinutes), ...judgeLeftPost(ps, roster, signins)];
    outcome.judgements.set(person.id, judgements);
    for (const j of judgements) {
      const p = ps[j.period]!;
      outcome.points.push({
        measurement: "attendance",
        timestamp: ns(p.start),
        tags: tags({ ...where, site_kind: site.kind, person: person.id, role: person.role, window: person.window ?? "", status: j.status }),
        // level: 0 on time, 1 a fault or under review, 2 absent (the dashboards colour by it, as cards do).
        fields: { period: j.period, minutes: j.minutes, at: j.at, level: j.status === "on_time" ? 0 : j.status === "absent" ? 2 : 1 },
      });
    }
    const personal = attendanceDeductions(person.id, person.role, judgements, settings.scoring);
    outcome.deductions.push(...personal);
    if (person.window && personal.length > 0) {
      const share = proRata(personal, person.window, settings.scoring, ps[0]!.start);
      if (share) outcome.deductions.push(share);
    }
  }

  // Unattended windows: working hours are the periods of the window's clerks.
  for (const w of windows) {
    const staff = people.filter((p) => p.window === w.id && periodsOf.has(p.id));
    if (staff.length === 0) continue;
    const ps = periodsOf.get(staff[0]!.id)!;
    const motion: MotionEvent[] = motionRows
      .filter((r) => r.window === w.id)
      .map((r) => ({ ts: r.time.getTime(), active: Number(r.active) === 1 }));
    const episodes = unattendedEpisodes(ps, motion, w.unattendedAfterMinutes, now);
    outcome.unattended.set(w.id, episodes);
    episodes.forEach((e, i) => {
      const severity = i + 1 >= settings.cards.redAfter ? "escalation" : "warning";
      const message = `window ${w.name} unattended for ${e.minutes} min`;
      outcome.points.push({
        measurement: "warning",
        timestamp: ns(e.from),
        tags: tags({ ...where, category: "people", subject_kind: "window", subject: w.id, rule: "unattended", severity }),
        fields: { active: e.to < Math.min(now, ps[ps.length - 1]!.end) ? 0 : 1, message, minutes: e.minutes },
      });
      outcome.warnings.push({
        ts: e.from,
        site: site.id,
        category: "people",
        subjectKind: "window",
        subject: w.id,
        rule: "unattended",
        severity,
        active: true,
        message,
      });
      outcome.deductions.push({
        subjectKind: "window_unit",
        subject: w.id,
        rule: "unattended",
        points: settings.scoring.unattended,
        at: e.from,
        reason: message,
      });
    });
  }

  // Dissatisfied ratings: "to verify" until a supervisor decides; only verified ones cost points.
  const decided = new Map(decisionRows.map((r) => [String(r.rating_id), r]));
  for (const r of negativeRows) {
    const id = `${r.device}:${r.seq}`;
    const decision = decided.get(id);
    if (!decision) {
      outcome.points.push({
        measurement: "dissatisfaction",
        timestamp: ns(r.time.getTime()),
        tags: tags({
          ...where,
          window: String(r.window ?? ""),
          department: String(r.department ?? ""),
          clerk: String(r.clerk ?? ""),
          state: "to_verify",
        }),
        fields: { rating_id: id, rating_seq: Number(r.seq), device: String(r.device), by: "" },
      });
    } else if (decision.state === "verified") {
      const unit = decision.fault === "unit";
      outcome.deductions.push({
        subjectKind: unit ? "window_unit" : "clerk",
        subject: unit ? String(r.window) : String(r.clerk),
        rule: unit ? "dissatisfied_unit" : "dissatisfied_clerk",
        points: unit ? settings.scoring.dissatisfiedUnit : settings.scoring.dissatisfiedClerk,
        at: r.time.getTime(),
        reason: `dissatisfied rating ${id} verified by ${decision.by}`,
      });
    }
  }

  for (const d of outcome.deductions) {
    outcome.points.push({
      measurement: "deduction",
      timestamp: ns(d.at),
      tags: tags({ ...where, subject_kind: d.subjectKind, subject: d.subject, rule: d.rule }),
      fields: { points: d.points, reason: d.reason, entered_by: "rules" },
    });
  }

  // Cards and daily scores, for everyone judged today.
  const manual = manualRows.map((r) => ({ subjectKind: String(r.subject_kind), subject: String(r.subject), points: Number(r.points) }));
  const cardAt = Math.min(...[...periodsOf.values()].map((ps) => ps[0]!.start));
  const card = (subjectKind: CardEvent["subjectKind"], subject: string, reasons: string[]) => {
    const color = cardColor(reasons.length, settings.cards);
    outcome.cards.push({ ts: cardAt, site: site.id, subjectKind, subject, color, reasons });
    outcome.points.push({
      measurement: "card",
      timestamp: ns(cardAt),
      tags: tags({ ...where, subject_kind: subjectKind, subject, color }),
      fields: { level: color === "green" ? 0 : color === "yellow" ? 1 : 2, reasons: reasons.join("; ") },
    });
  };
  const score = (subjectKind: Deduction["subjectKind"], subject: string, department: string) => {
    const own = outcome.deductions.filter((d) => d.subjectKind === subjectKind && d.subject === subject);
    const entered = manual.filter((m) => m.subjectKind === subjectKind && m.subject === subject);
    const deductions = [...own.map((d) => d.points), ...entered.map((m) => m.points)];
    outcome.points.push({
      measurement: "score_daily",
      timestamp: ns(cardAt),
      tags: tags({ ...where, department, subject_kind: subjectKind, subject }),
      fields: {
        score: settings.scoring.baseline + deductions.reduce((a, b) => a + b, 0),
        deductions: deductions.filter((p) => p < 0).reduce((a, b) => a + b, 0),
        bonuses: deductions.filter((p) => p > 0).reduce((a, b) => a + b, 0),
      },
    });
  };
  for (const person of people) {
    const judgements = outcome.judgements.get(person.id);
    if (!judgements) continue;
    const reasons = judgements
      .filter((j) => j.status !== "on_time" && j.status !== "review")
      .map((j) => `${j.status.replace("_", " ")} (half day ${j.period + 1})`);
    card(person.role === "supervisor" ? "supervisor" : "clerk", person.id, reasons);
    score(person.role, person.id, person.window ? (registry.windows.get(person.window)?.department ?? "") : "");
  }
  for (const w of windows) {
    const episodes = outcome.unattended.get(w.id);
    if (!episodes) continue;
    card(
      "window",
      w.id,
      episodes.map((e) => `unattended ${e.minutes} min from ${new Date(e.from).toISOString().slice(11, 16)} UTC`),
    );
    score("window_unit", w.id, w.department);
  }
  const satisfaction = await satisfactionWarnings(
    influx,
    registry,
    site,
    { dayFrom, dayTo, monthFrom: monthRange(date.slice(0, 7), site.tz).from, at: to },
    settings.satisfaction,
  );
  outcome.points.push(...satisfaction.points);
  outcome.warnings.push(...satisfaction.warnings);
  return outcome;
}

/** The local dates to (re)judge at `now`: today, and yesterday too, for sign-ins that arrive late from offline terminals. */
export function datesToJudge(now: number, tz: string): string[] {
  const today = localDate(now, tz);
  const yesterday = localDate(now - 86_400_000, tz);
  return yesterday === today ? [today] : [yesterday, today];
}

/** The month's score so far per person and window unit of a site: baseline plus every deduction and bonus. */
export async function monthlyScorePoints(
  influx: InfluxDB,
  registry: Registry,
  site: Site,
  month: string,
  baseline: number,
): Promise<{ points: IPoint[]; from: number }> {
  const { from, to } = monthRange(month, site.tz);
  const rows = await influx.query<{ subject_kind: string; subject: string; points: number }>(
    `SELECT "points" FROM "raw"."deduction" WHERE "site" = ${q(site.id)} AND time >= ${ns(from)} AND time < ${ns(to)} GROUP BY "subject_kind", "subject"`,
  );
  const town = registry.towns.get(site.town);
  const where = { region: town?.region ?? "", town: site.town, site: site.id };
  /** The subject's deductions (sign -1) or bonuses (sign 1) this month. */
  const total = (kind: string, subject: string, sign: 1 | -1) =>
    rows
      .filter(
        (r) =>
          r.subject === subject && (kind === "window_unit") === (r.subject_kind === "window_unit") && Math.sign(Number(r.points)) === sign,
      )
      .reduce((a, r) => a + Number(r.points), 0);
  const subjects = [
    ...[...registry.people.values()]
      .filter((p) => p.site === site.id)
      .map((p) => ({ kind: p.role, id: p.id, department: (p.window && registry.windows.get(p.window)?.department) || "" })),
    ...[...registry.windows.values()]
      .filter((w) => w.site === site.id)
      .map((w) => ({ kind: "window_unit", id: w.id, department: w.department })),
  ];
  return {
    from,
    points: subjects.map((s) => ({
      measurement: "score_monthly",
      timestamp: ns(from),
      tags: tags({ ...where, department: s.department, subject_kind: s.kind, subject: s.id }),
      fields: {
        score: baseline + total(s.kind, s.id, -1) + total(s.kind, s.id, 1),
        deductions: total(s.kind, s.id, -1),
        bonuses: total(s.kind, s.id, 1),
        month,
      },
    })),
  };
}
