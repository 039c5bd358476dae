import { describe, expect, it } from "vitest";
import { cameraUp, fusedEpisodes, subtract, union } from "./episodes.ts";

const M = 60_000;
const base = { periods: [{ index: 0, start: 0, end: 240 * M }], minutes: 30, activityMinutes: 10, cooldownMinutes: 30, now: 1000 * M };

describe("fused unattended judgement", () => {
  it("interval helpers", () => {
    expect(
      union([
        { from: 5, to: 9 },
        { from: 0, to: 6 },
        { from: 20, to: 30 },
      ]),
    ).toEqual([
      { from: 0, to: 9 },
      { from: 20, to: 30 },
    ]);
    expect(
      subtract({ from: 0, to: 100 }, [
        { from: 10, to: 20 },
        { from: 50, to: 200 },
      ]),
    ).toEqual([
      { from: 0, to: 10 },
      { from: 20, to: 50 },
    ]);
  });

  it("a keypad rating splits a quiet stretch: a seated clerk serving citizens is at post", () => {
    const motion = [
      { ts: 0, active: true },
      { ts: 10 * M, active: false },
    ];
    const up = [{ from: 0, to: 240 * M }];
    const quiet = fusedEpisodes({ ...base, motion, up, activity: [] });
    expect(quiet.episodes.map((e) => [e.from / M, e.to / M])).toEqual([[10, 240]]);
    const serving = fusedEpisodes({ ...base, motion, up, activity: [35, 60, 85, 110, 135, 160, 185, 210, 235].map((t) => t * M) });
    expect(serving.episodes).toEqual([]);
  });

  it("the camera down is blind time, never unattended; under the threshold it is neither", () => {
    const motion = [
      { ts: 0, active: true },
      { ts: 10 * M, active: false },
    ];
    const r = fusedEpisodes({ ...base, motion, up: [{ from: 0, to: 100 * M }], activity: [] });
    expect(r.episodes.map((e) => [e.from / M, e.to / M])).toEqual([[10, 100]]);
    expect(r.blind).toEqual([{ from: 100 * M, to: 240 * M }]);
    const short = fusedEpisodes({ ...base, motion: [{ ts: 0, active: true }], up: [{ from: 0, to: 220 * M }], activity: [] });
    expect(short).toEqual({ episodes: [], blind: [] });
  });

  it("stretches within the cool-down of the previous one are one episode", () => {
    const motion = [
      { ts: 0, active: false },
      { ts: 40 * M, active: true },
      { ts: 50 * M, active: false },
      { ts: 100 * M, active: true },
    ];
    const r = fusedEpisodes({ ...base, motion, up: [{ from: 0, to: 240 * M }], activity: [] });
    expect(r.episodes.map((e) => [e.from / M, e.to / M, e.minutes])).toEqual([[0, 100, 100]]);
    const noCooldown = fusedEpisodes({ ...base, cooldownMinutes: 0, motion, up: [{ from: 0, to: 240 * M }], activity: [] });
    expect(noCooldown.episodes.map((e) => [e.from / M, e.to / M])).toEqual([
      [0, 40],
      [50, 100],
    ]);
  });

  it("camera up from heartbeats (2.5 intervals each) and motion; motion without heartbeats is up; nothing at all is down", () => {
    expect(
      cameraUp(
        [
          { ts: 0, intervalS: 60 },
          { ts: 60_000, intervalS: 60 },
        ],
        [],
        { from: 0, to: 1e9 },
      ),
    ).toEqual([{ from: 0, to: 210_000 }]);
    expect(cameraUp([], [5], { from: 0, to: 1e9 })).toEqual([{ from: 0, to: 1e9 }]);
    expect(cameraUp([], [], { from: 0, to: 1e9 })).toEqual([]);
  });
});
