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

export interface Interval {
  from: number;
  to: number;
}

/** Sorted, non-overlapping union of intervals. */
export function union(intervals: Interval[]): Interval[] {
  const sorted = intervals.filter((i) => i.to > i.from).sort((a, b) => a.from - b.from);
  const out: Interval[] = [];
  for (const i of sorted) {
    const last = out[out.length - 1];
    if (last && i.from <= last.to) last.to = Math.max(last.to, i.to);
    else out.push({ ...i });
  }
  return out;
}

/** What is left of `a` outside every interval of `cut`. */
export function subtract(a: Interval, cut: Interval[]): Interval[] {
  let pieces: Interval[] = [a];
  for (const c of union(cut)) {
    pieces = pieces.flatMap((p) => {
      if (c.to <= p.from || c.from >= p.to) return [p];
      return [
        { from: p.from, to: c.from },
        { from: c.to, to: p.to },
      ].filter((x) => x.to > x.from);
    });
  }
  return pieces;
}

/**
 * When a window's camera could see: each heartbeat covers 2.5 of its intervals (the silence after which a device
 * counts as offline), each motion report the moment it was made. A camera that sent motion but never a heartbeat
 * is taken as up the whole span (cameras speaking MQTT without heartbeats, as before); one that sent nothing at all
 * was not up at any time.
 */
export function cameraUp(heartbeats: { ts: number; intervalS: number }[], motionTs: number[], span: Interval): Interval[] {
  if (heartbeats.length === 0) return motionTs.length > 0 ? [{ ...span }] : [];
  return union([
    ...heartbeats.map((h) => ({ from: h.ts, to: h.ts + 2.5 * h.intervalS * 1000 })),
    ...motionTs.map((t) => ({ from: t, to: t + 1 })),
  ]);
}

export interface FusedInput {
  periods: Period[];
  motion: MotionEvent[];
  /** When the window's camera could see (see cameraUp). */
  up: Interval[];
  /** Keypad ratings and sign-ins at the window: someone was there. */
  activity: number[];
  minutes: number;
  activityMinutes: number;
  cooldownMinutes: number;
  now: number;
}

/**
 * The fused judgement: stretches with no motion in progress, no keypad rating or sign-in within `activityMinutes`,
 * and the camera up, lasting at least `minutes`; stretches that start within `cooldownMinutes` of the previous
 * one's end are one episode. Separately, `blind`: working time of at least `minutes` when the camera could not see
 * (offline, missing): an equipment fault, never judged as unattended.
 */
export function fusedEpisodes(input: FusedInput): { episodes: Episode[]; blind: Interval[] } {
  const { periods, up, minutes, now } = input;
  const pulses = input.activity.map((t) => ({ from: t - input.activityMinutes * MINUTE, to: t + input.activityMinutes * MINUTE }));
  const working = periods.map((p) => ({ from: p.start, to: Math.min(p.end, now) })).filter((w) => w.to > w.from);
  const blind = working.flatMap((w) => subtract(w, up)).filter((b) => b.to - b.from >= minutes * MINUTE);
  const notSeeing = working.flatMap((w) => subtract(w, up));
  const pieces = unattendedEpisodes(periods, input.motion, 0, now)
    .flatMap((gap) => subtract(gap, [...pulses, ...notSeeing]))
    .filter((p) => p.to - p.from >= minutes * MINUTE)
    .sort((a, b) => a.from - b.from);
  const merged: Interval[] = [];
  for (const p of pieces) {
    const last = merged[merged.length - 1];
    if (last && p.from - last.to < input.cooldownMinutes * MINUTE) last.to = p.to;
    else merged.push({ ...p });
  }
  return { episodes: merged.map((e) => ({ ...e, minutes: Math.round((e.to - e.from) / MINUTE) })), blind };
}
