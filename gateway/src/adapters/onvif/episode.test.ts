import { afterEach, describe, expect, it, vi } from "vitest";
import { type EpisodeEdge, MotionEpisode } from "./episode.ts";

afterEach(() => vi.useRealTimers());

describe("MotionEpisode", () => {
  it("starts once, ignores repeated states, ends when the camera says stop", () => {
    const edges: EpisodeEdge[] = [];
    const e = new MotionEpisode(60_000, (x) => edges.push(x));
    e.report(false, 1); // Initialized false: nothing
    e.report(true, 10);
    e.report(true, 20); // re-sent state after a resubscription
    e.report(false, 30);
    e.report(false, 40);
    e.dispose();
    expect(edges).toEqual([
      { state: "start", at: 10, why: "camera" },
      { state: "end", at: 30, why: "camera" },
    ]);
  });

  it("ends quietMs after the last motion report for a camera that never says stop; each report extends it", () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const edges: EpisodeEdge[] = [];
    const e = new MotionEpisode(120_000, (x) => edges.push(x));
    e.report(true, 1_000_000);
    vi.advanceTimersByTime(100_000);
    e.report(true, 1_100_000);
    vi.advanceTimersByTime(119_999);
    expect(edges.map((x) => x.state)).toEqual(["start"]);
    vi.advanceTimersByTime(1);
    expect(edges).toEqual([
      { state: "start", at: 1_000_000, why: "camera" },
      { state: "end", at: 1_220_000, why: "quiet" },
    ]);
    e.report(false, 1_300_000); // a late stop after the quiet end: no second end
    expect(edges).toHaveLength(2);
  });

  it("an end is never before the last motion report (camera clocks jump)", () => {
    const edges: EpisodeEdge[] = [];
    const e = new MotionEpisode(60_000, (x) => edges.push(x));
    e.report(true, 500);
    e.report(false, 400);
    e.dispose();
    expect(edges[1]).toEqual({ state: "end", at: 500, why: "camera" });
  });
});
