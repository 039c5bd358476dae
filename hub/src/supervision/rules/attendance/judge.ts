import type { Roster } from "../../../registry/schema.ts";
import type { Period } from "../../calendar.ts";

export interface Signin {
  /** Device time: when it was made, however late it arrived. */
  ts: number;
  direction: "in" | "out";
  /** The device clock could not be trusted: a person reviews it instead of a rule judging it. */
  suspect: boolean;
}

export type AttendanceStatus = "on_time" | "late" | "early_leave" | "absent" | "left_post" | "review";

export interface Judgement {
  period: number;
  status: AttendanceStatus;
  /** Minutes late or early. */
  minutes: number;
  /** When the judged fact happened (sign-in, sign-out, or the period start for absence). */
  at: number;
}

const MINUTE = 60_000;

/**
 * Judges one person's shift periods of a day from their sign-ins, at `now`. A period is judged absent only once
 * it is too late to be on time, and early leave only after its end, so a judgement never has to be taken back
 * except when late-arriving sign-ins (an offline terminal) prove otherwise: then the recomputation changes it.
 */
export function judgeAttendance(periods: Period[], roster: Roster, signins: Signin[], now: number, earlyMinutes: number): Judgement[] {
  const sorted = [...signins].sort((a, b) => a.ts - b.ts);
  const out: Judgement[] = [];
  for (const p of periods) {
    const window = sorted.filter((s) => s.ts >= p.start - earlyMinutes * MINUTE && s.ts <= p.end);
    if (window.some((s) => s.suspect)) {
      out.push({ period: p.index, status: "review", minutes: 0, at: p.start });
      continue;
    }
    const firstIn = window.find((s) => s.direction === "in");
    const graceEnd = p.start + roster.graceMinutes * MINUTE;
    if (!firstIn) {
      if (now >= p.start + roster.absentAfterMinutes * MINUTE) out.push({ period: p.index, status: "absent", minutes: 0, at: p.start });
      continue;
    }
    const lateMinutes = Math.max(0, Math.round((firstIn.ts - p.start) / MINUTE));
    if (firstIn.ts > graceEnd) {
      out.push(
        lateMinutes > roster.absentAfterMinutes
          ? { period: p.index, status: "absent", minutes: lateMinutes, at: firstIn.ts }
          : { period: p.index, status: "late", minutes: lateMinutes, at: firstIn.ts },
      );
      continue;
    }
    // Early leave only when the period ends signed out; a sign-out answered by a sign-in is leaving the post.
    const last = window[window.length - 1]!;
    const lastOut = last.direction === "out" && last.ts > firstIn.ts ? last : undefined;
    if (lastOut && lastOut.ts < p.end - roster.graceMinutes * MINUTE && now >= p.end) {
      const early = Math.round((p.end - lastOut.ts) / MINUTE);
      out.push({ period: p.index, status: early > roster.absentAfterMinutes ? "absent" : "early_leave", minutes: early, at: lastOut.ts });
      continue;
    }
    out.push({ period: p.index, status: "on_time", minutes: 0, at: firstIn.ts });
  }
  return out;
}
