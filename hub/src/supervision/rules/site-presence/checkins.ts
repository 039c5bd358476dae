/**
 * Chief supervisors who run several projects do not sit on one site all day: their roster asks for N check-ins a
 * week, or check-ins at set times of the day (before 8:30, at midday, late afternoon). Each one missed counts as
 * missing from post.
 */

export type CheckinRule =
  /** At least `perWeek` days of the week with a check-in (several on one day count once). */
  | { kind: "weekly"; perWeek: number }
  /** Each window of each working day needs a check-in inside it (UTC ms spans, from the calendar). */
  | { kind: "daily"; windows: { from: number; to: number }[] };

/** How many required check-ins were missed. `days`: the local dates of the check-ins (weekly); `times`: their times (daily). */
export function missedCheckins(rule: CheckinRule, checkins: { date: string; ts: number }[]): number {
  if (rule.kind === "weekly") return Math.max(0, rule.perWeek - new Set(checkins.map((c) => c.date)).size);
  return rule.windows.filter((w) => !checkins.some((c) => c.ts >= w.from && c.ts <= w.to)).length;
}
