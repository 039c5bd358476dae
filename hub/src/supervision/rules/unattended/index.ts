import type { DayRule, Findings } from "../rule.ts";
import { cameraUp, fusedEpisodes, type MotionEvent } from "./episodes.ts";

/**
 * A window with nobody seen during its clerks' working hours, judged from what cameras can really tell: motion,
 * keypad ratings and sign-ins at the window, and only while the window's camera could see; see README.md.
 */
export const unattended: DayRule = {
  scope: "day",
  name: "unattended",
  deductionRules: ["unattended"],
  async judge(ctx) {
    const [motionRows, heartbeatRows, ratingRows, signinRows] = await Promise.all([
      ctx.readings.motion(),
      ctx.readings.cameraHeartbeats(),
      ctx.readings.windowRatings(),
      ctx.readings.signins(),
    ]);
    const { settings, now, text } = ctx;
    const findings: Required<Pick<Findings, "warnings" | "deductions" | "judged">> = { warnings: [], deductions: [], judged: [] };
    for (const w of ctx.windows) {
      // Working hours are the periods of the window's clerks.
      const staff = ctx.people.find((p) => p.window === w.id && ctx.onDuty.has(p.id));
      if (!staff) continue;
      const ps = ctx.onDuty.get(staff.id)!.periods;
      const windowMotion = motionRows.filter((r) => r.window === w.id);
      const motion: MotionEvent[] = windowMotion.map((r) => ({ ts: r.time.getTime(), active: Number(r.active) === 1 }));
      const cameras = [...ctx.registry.devices.values()].filter((d) => d.kind === "camera" && d.window === w.id).map((d) => d.id);
      const up = cameraUp(
        heartbeatRows
          .filter((h) => cameras.includes(String(h.device)))
          .map((h) => ({ ts: h.time.getTime(), intervalS: Number(h.interval_s) || 60 })),
        motion.map((m) => m.ts),
        { from: 0, to: Number.MAX_SAFE_INTEGER },
      );
      const clerks = new Set(ctx.people.filter((p) => p.window === w.id).map((p) => p.id));
      const activity = [
        ...ratingRows.filter((r) => r.window === w.id).map((r) => r.time.getTime()),
        ...signinRows.filter((s) => clerks.has(String(s.person)) && s.direction === "in").map((s) => s.time.getTime()),
      ];
      const { episodes, blind } = fusedEpisodes({
        periods: ps,
        motion,
        up,
        activity,
        minutes: w.unattendedAfterMinutes,
        activityMinutes: settings.unattended.activityMinutes,
        cooldownMinutes: settings.unattended.cooldownMinutes,
        now,
      });
      const workEnd = Math.min(now, ps[ps.length - 1]!.end);
      // No motion data because the camera was offline or is missing: an equipment fault, never a penalty.
      for (const b of blind) {
        const subject = cameras[0] ?? w.id;
        const message =
          cameras.length === 0
            ? text.windowWithoutCamera({ window: w.name, from: b.from, to: b.to })
            : text.cameraSilent({ cameras: cameras.join(", "), window: w.name, from: b.from, to: b.to });
        findings.warnings.push({
          event: {
            ts: b.from,
            site: ctx.site.id,
            category: "equipment",
            subjectKind: cameras.length === 0 ? "window" : "device",
            subject,
            rule: "camera_offline",
            severity: "warning",
            active: true,
            message,
          },
          active: b.to < workEnd ? 0 : 1,
          figures: { minutes: Math.round((b.to - b.from) / 60_000) },
        });
      }
      episodes.forEach((e, i) => {
        const severity = i + 1 >= settings.cards.redAfter ? "escalation" : "warning";
        // The evidence: the snapshot taken when the last motion before the stretch ended.
        const evidenceRow = windowMotion
          .filter((r) => r.time.getTime() <= e.from && typeof r.snapshot_sha256 === "string")
          .sort((a, b) => b.time.getTime() - a.time.getTime())[0];
        const evidence = evidenceRow?.snapshot_sha256 as string | undefined;
        const message = text.unattended({ window: w.name, minutes: e.minutes, ...(evidence ? { snapshot: evidence } : {}) });
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
          active: e.to < workEnd ? 0 : 1,
          figures: { minutes: e.minutes },
          ...(evidence && typeof evidenceRow?.device === "string" ? { evidence: { device: evidenceRow.device, sha256: evidence } } : {}),
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
        faults: episodes.map((e) => text.unattendedFault({ minutes: e.minutes, from: e.from })),
      });
    }
    return findings;
  },
};
