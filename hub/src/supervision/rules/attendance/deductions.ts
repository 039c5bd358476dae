import type { ScoringRules } from "../../settings.ts";
import type { Deduction } from "../rule.ts";
import type { Judgement } from "./judge.ts";

const ATTENDANCE_RULE = { late: "late", early_leave: "early_leave", absent: "absent", left_post: "left_post" } as const;

/** The `rule` tags of the deductions attendance computes. */
export const ATTENDANCE_DEDUCTION_RULES = [...Object.values(ATTENDANCE_RULE), "pro_rata"] as const;

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
