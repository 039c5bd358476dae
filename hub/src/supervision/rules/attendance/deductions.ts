import type { ScoringRules } from "../../settings.ts";
import type { SupervisionTexts } from "../../messages.ts";
import type { Deduction } from "../rule.ts";
import type { Judgement } from "./judge.ts";

const ATTENDANCE_RULE = { late: "late", early_leave: "early_leave", absent: "absent", left_post: "left_post" } as const;

/** The `rule` tags of a person's own attendance deductions (what a window unit's pro-rata share counts). */
export const PERSONAL_ATTENDANCE_RULES = Object.values(ATTENDANCE_RULE);
/** The `rule` tags of the deductions attendance computes. */
export const ATTENDANCE_DEDUCTION_RULES = [...PERSONAL_ATTENDANCE_RULES, "pro_rata"] as const;

/** Deductions a person's attendance judgements cost. */
export function attendanceDeductions(
  person: string,
  kind: "clerk" | "supervisor",
  judgements: Judgement[],
  rules: ScoringRules,
  text: SupervisionTexts,
): Deduction[] {
  const out: Deduction[] = [];
  for (const j of judgements) {
    if (j.status === "on_time" || j.status === "review") continue;
    const points = { late: rules.late, early_leave: rules.earlyLeave, left_post: rules.leftPost, absent: rules.absentHalfDay }[j.status];
    const reason = text.attendance({ status: j.status, minutes: j.minutes, halfDay: j.period + 1 });
    out.push({ subjectKind: kind, subject: person, rule: ATTENDANCE_RULE[j.status], points, at: j.at, reason });
  }
  return out;
}

/**
 * The window unit's share of its clerk's losses over the month: every `proRataEvery` points the clerk has lost this
 * month cost the unit `proRataPoints` once. The day's share is what today's losses add to the month's count, so a
 * clerk who loses 2 points on each of three days costs the unit once, on the third day.
 */
export function proRata(
  clerkDeductions: Deduction[],
  windowId: string,
  rules: ScoringRules,
  at: number,
  lostBeforeToday: number,
  clerkName: string,
  text: SupervisionTexts,
): Deduction | undefined {
  const lostToday = -clerkDeductions.reduce((sum, d) => sum + Math.min(0, d.points), 0);
  const lostMonth = lostBeforeToday + lostToday;
  const times = Math.floor(lostMonth / rules.proRataEvery) - Math.floor(lostBeforeToday / rules.proRataEvery);
  if (times <= 0) return undefined;
  return {
    subjectKind: "window_unit",
    subject: windowId,
    rule: "pro_rata",
    points: times * rules.proRataPoints,
    at,
    reason: text.proRata({ clerk: clerkName, lostToday, lostMonth }),
  };
}
