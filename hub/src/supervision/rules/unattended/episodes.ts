import type { Period } from "../../calendar.ts";

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
