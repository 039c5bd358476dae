import type { DayRule, Findings } from "../rule.ts";
import { type MotionEvent, unattendedEpisodes } from "./episodes.ts";

/** A window with nobody seen (no motion in progress) during its clerks' working hours; see README.md. */
export const unattended: DayRule = {
  scope: "day",
  name: "unattended",
  deductionRules: ["unattended"],
  async judge(ctx) {
    const motionRows = await ctx.readings.motion();
    const { settings, now } = ctx;
    const findings: Required<Pick<Findings, "warnings" | "deductions" | "judged">> = { warnings: [], deductions: [], judged: [] };
    for (const w of ctx.windows) {
      // Working hours are the periods of the window's clerks.
      const staff = ctx.people.find((p) => p.window === w.id && ctx.onDuty.has(p.id));
      if (!staff) continue;
      const ps = ctx.onDuty.get(staff.id)!.periods;
      const motion: MotionEvent[] = motionRows
        .filter((r) => r.window === w.id)
        .map((r) => ({ ts: r.time.getTime(), active: Number(r.active) === 1 }));
      const episodes = unattendedEpisodes(ps, motion, w.unattendedAfterMinutes, now);
      episodes.forEach((e, i) => {
        const severity = i + 1 >= settings.cards.redAfter ? "escalation" : "warning";
        const message = `window ${w.name} unattended for ${e.minutes} min`;
        findings.warnings.push({
          event: {
            ts: e.from,
            site: ctx.site.id,
            category: "people",
            subjectKind: "window",
            subject: w.id,
            rule: "unattended",
            severity,
            active: true,
            message,
          },
          active: e.to < Math.min(now, ps[ps.length - 1]!.end) ? 0 : 1,
          figures: { minutes: e.minutes },
        });
        findings.deductions.push({
          subjectKind: "window_unit",
          subject: w.id,
          rule: "unattended",
          points: settings.scoring.unattended,
          at: e.from,
          reason: message,
        });
      });
      findings.judged.push({
        card: "window",
        subject: w.id,
        scoredAs: "window_unit",
        department: w.department,
        faults: episodes.map((e) => `unattended ${e.minutes} min from ${new Date(e.from).toISOString().slice(11, 16)} UTC`),
      });
    }
    return findings;
  },
};
