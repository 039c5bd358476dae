import { describe, expect, it } from "vitest";
import {
  availability,
  historyFromHeartbeats,
  historyFromPresence,
  mergeHistories,
  parseGaps,
  type PresenceRow,
  seenTimes,
} from "../src/supervision/availability.ts";

const T = Date.UTC(2026, 11, 3, 1, 0);
const S = 1000;
// Every 30 s from T to T + 60 min, silent from T + 20 min (its last heartbeat) to T + 30.5 min.
const beats: number[] = [];
for (let t = T; t <= T + 3600 * S; t += 30 * S) if (t <= T + 1200 * S || t >= T + 1830 * S) beats.push(t);

/** The same heartbeats as a summarising gateway reports them (10-minute summaries). */
const rows: PresenceRow[] = [
  { time: T, type: "online", online: 1, lastSeen: T, firstSeen: undefined, gaps: undefined },
  { time: T + 600 * S, type: "summary", online: 1, lastSeen: T + 570 * S, firstSeen: T, gaps: "" },
  { time: T + 1200 * S, type: "summary", online: 1, lastSeen: T + 1170 * S, firstSeen: T + 600 * S, gaps: "" },
  { time: T + 1275 * S, type: "offline", online: 0, lastSeen: T + 1200 * S, firstSeen: undefined, gaps: undefined },
  { time: T + 1800 * S, type: "summary", online: 0, lastSeen: T + 1200 * S, firstSeen: T + 1200 * S, gaps: "" },
  { time: T + 1830 * S, type: "online", online: 1, lastSeen: T + 1830 * S, firstSeen: undefined, gaps: undefined },
  {
    time: T + 2400 * S,
    type: "summary",
    online: 1,
    lastSeen: T + 2370 * S,
    firstSeen: T + 1830 * S,
    gaps: `${T + 1200 * S}-${T + 1830 * S}`,
  },
  { time: T + 3000 * S, type: "summary", online: 1, lastSeen: T + 2970 * S, firstSeen: T + 2400 * S, gaps: "" },
  { time: T + 3600 * S, type: "summary", online: 1, lastSeen: T + 3570 * S, firstSeen: T + 3000 * S, gaps: "" },
];

describe("device availability", () => {
  it("is the same from heartbeats and from presence reports: 630 s offline in the hour", () => {
    const a = historyFromHeartbeats(
      beats.map((time) => ({ time, intervalS: 30 })),
      T + 3600 * S,
    );
    const b = historyFromPresence(rows);
    expect(a.offline).toEqual([{ from: T + 1200 * S, to: T + 1830 * S }]);
    expect(b.offline).toEqual(a.offline);
    expect(availability(a, T, T + 3600 * S)).toBe(1 - 630 / 3600);
    expect(availability(b, T, T + 3600 * S)).toBe(1 - 630 / 3600);
    expect(mergeHistories(a, b).offline).toEqual(a.offline);
  });

  it("gives the times a summarised device was heard as its heartbeats were, for the rules that read them", () => {
    expect(seenTimes(rows, 30, T, T + 3570 * S)).toEqual(beats.filter((t) => t <= T + 3570 * S));
    // While it is silent now: heard up to its last heartbeat.
    expect(seenTimes(rows.slice(0, 4), 30, T, T + 3600 * S).at(-1)).toBe(T + 1200 * S);
  });

  it("a silence going on counts up to the end of the span asked about", () => {
    const h = historyFromPresence(rows.slice(0, 4));
    expect(h.state).toBe("offline");
    expect(availability(h, T + 1200 * S, T + 1500 * S)).toBe(0);
  });

  it("reads gaps it wrote and skips anything else", () => {
    expect(parseGaps(`1-2,${"9".repeat(400)},x-y,3-4,-1-2,,5-`)).toEqual([
      { from: 1, to: 2 },
      { from: 3, to: 4 },
    ]);
    expect(parseGaps(undefined)).toEqual([]);
  });
});
