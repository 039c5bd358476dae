import type { Roster } from "../../../registry/schema.ts";
import type { Period } from "../../calendar.ts";
import type { Judgement, Signin } from "./judge.ts";

const MINUTE = 60_000;

/**
 * Leaving the post: inside a period, a sign-out followed by a sign-in more than the grace minutes later. Judged
 * besides the period's arrival (a clerk can be on time and still leave the post), once per period, with the
 * minutes away summed; an unanswered sign-out is early leave, judged by `judgeAttendance` at the period's end.
 */
export function judgeLeftPost(periods: Period[], roster: Roster, signins: Signin[]): Judgement[] {
  const sorted = [...signins].sort((a, b) => a.ts - b.ts);
  const out: Judgement[] = [];
  for (const p of periods) {
    const inside = sorted.filter((s) => s.ts >= p.start && s.ts <= p.end);
    if (inside.some((s) => s.suspect)) continue;
    let minutes = 0;
    let at = 0;
    inside.forEach((s, i) => {
      const back = inside[i + 1];
      if (s.direction !== "out" || back?.direction !== "in") return;
      const away = Math.round((back.ts - s.ts) / MINUTE);
      if (away <= roster.graceMinutes) return;
      minutes += away;
      at ||= s.ts;
    });
    if (minutes > 0) out.push({ period: p.index, status: "left_post", minutes, at });
  }
  return out;
}
