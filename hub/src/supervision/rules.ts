import type { Period } from "./calendar.ts";
import type { Judgement } from "./attendance.ts";
import type { ScoringRules } from "./settings.ts";

const MINUTE = 60_000;

export interface MotionEvent {
  ts: number;
  active: boolean;
}

export interface Episode {
  from: number;
  to: number;
  minutes: number;
}

/**
 * Stretches of a working period with nobody seen at the window (no motion in progress) for at least `minutes`,
 * up to `now`. Motion "start" opens presence and "end" closes it.
 */
export function unattendedEpisodes(periods: Period[], motion: MotionEvent[], minutes: number, now: number): Episode[] {
  const events = [...motion].sort((a, b) => a.ts - b.ts);
  const episodes: Episode[] = [];
  for (const p of periods) {
    const until = Math.min(p.end, now);
    if (until <= p.start) continue;
    // Presence at the period's start: the last motion event before it.
    let present = [...events].reverse().find((e) => e.ts <= p.start)?.active ?? false;
    let gapFrom: number | null = present ? null : p.start;
    for (const e of events.filter((x) => x.ts > p.start && x.ts < until)) {
      if (e.active && !present && gapFrom !== null) {
        if (e.ts - gapFrom >= minutes * MINUTE) episodes.push({ from: gapFrom, to: e.ts, minutes: Math.round((e.ts - gapFrom) / MINUTE) });
        gapFrom = null;
      }
      if (!e.active && present) gapFrom = e.ts;
      present = e.active;
    }
    if (gapFrom !== null && until - gapFrom >= minutes * MINUTE)
      episodes.push({ from: gapFrom, to: until, minutes: Math.round((until - gapFrom) / MINUTE) });
  }
  return episodes;
}

export type CardColor = "green" | "yellow" | "red";

export function cardColor(faults: number, cards: { yellowAfter: number; redAfter: number }): CardColor {
  return faults >= cards.redAfter ? "red" : faults >= cards.yellowAfter ? "yellow" : "green";
}

export interface Deduction {
  subjectKind: "clerk" | "supervisor" | "window_unit";
  subject: string;
  rule: string;
  points: number;
  at: number;
  reason: string;
}

const ATTENDANCE_RULE = { late: "late", early_leave: "early_leave", absent: "absent", left_post: "left_post" } as const;

/** Deductions a person's attendance judgements cost. */
export function attendanceDeductions(
  person: string,
  kind: "clerk" | "supervisor",
  judgements: Judgement[],
  rules: ScoringRules,
): Deduction[] {
  const out: Deduction[] = [];
  for (const j of judgements) {
    if (j.status === "on_time" || j.status === "review") continue;
    const points = { late: rules.late, early_leave: rules.earlyLeave, left_post: rules.leftPost, absent: rules.absentHalfDay }[j.status];
    const reason =
      j.status === "absent"
        ? `absent for half day ${j.period + 1}`
        : j.status === "left_post"
          ? `left the post for ${j.minutes} min`
          : `${j.status.replace("_", " ")} by ${j.minutes} min`;
    out.push({ subjectKind: kind, subject: person, rule: ATTENDANCE_RULE[j.status], points, at: j.at, reason });
  }
  return out;
}

/** The window unit's share of its clerk's losses: every `proRataEvery` points lost cost the unit `proRataPoints`. */
export function proRata(clerkDeductions: Deduction[], windowId: string, rules: ScoringRules, at: number): Deduction | undefined {
  const lost = -clerkDeductions.reduce((sum, d) => sum + Math.min(0, d.points), 0);
  const times = Math.floor(lost / rules.proRataEvery);
  if (times === 0) return undefined;
  const clerk = clerkDeductions[0]!.subject;
  return {
    subjectKind: "window_unit",
    subject: windowId,
    rule: "pro_rata",
    points: times * rules.proRataPoints,
    at,
    reason: `clerk ${clerk} lost ${lost} points`,
  };
}
