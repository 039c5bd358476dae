/**
 * `npm run soak` in small: a few seconds at a low rate through the real gateway, hub and influxd, sampled from /proc;
 * and the growth verdict on made-up samples. The hour at 1,000 readings/s is run on demand, never in CI.
 */
import { describe, expect, it } from "vitest";
import { formatSoak, judgeGrowth, runSoak, type SoakSample } from "../faults/soak.ts";

const sample = (atS: number, hubRss: number, hubFds: number): SoakSample => ({
  atS,
  acknowledged: atS * 10,
  rate: 10,
  waiting: 0,
  processes: { hub: { rssMiB: hubRss, fds: hubFds }, gateway: { rssMiB: 100, fds: 30 } },
});

describe("the soak's growth verdict", () => {
  it("calls memory that keeps climbing and descriptors that pile up growing, and a cache that filled early flat", () => {
    // The first sample is warm-up and left out; then thirds of three samples each.
    const climbing = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => sample(i, 100 + i * 10, 40));
    expect(judgeGrowth(climbing).hub).toMatchObject({ rssFirstMiB: 110, rssLastMiB: 170, growing: true });
    expect(judgeGrowth(climbing).gateway).toMatchObject({ rssFirstMiB: 100, rssLastMiB: 100, growing: false });
    const leakingFds = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => sample(i, 150, 40 + i * 3));
    expect(judgeGrowth(leakingFds).hub).toMatchObject({ fdsFirst: 46, fdsLast: 64, growing: true });
    const cacheFilledEarly = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => sample(i, i === 0 ? 60 : 150 + (i % 2), 40));
    expect(judgeGrowth(cacheFilledEarly).hub?.growing).toBe(false);
    // Garbage collected now and then: the peaks climb between collections, the floor stays.
    const sawTooth = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => sample(i, i % 3 === 0 ? 150 : 150 + (i % 3) * 60, 40));
    expect(judgeGrowth(sawTooth).hub).toMatchObject({ rssFirstMiB: 150, rssLastMiB: 150, growing: false });
  });
});

describe("npm run soak, a few seconds", () => {
  it("samples memory and descriptors of hub, gateway and influxd, and stores every reading", { timeout: 240_000 }, async () => {
    const lines: string[] = [];
    const result = await runSoak({ minutes: 0.2, rate: 100, keypads: 4, sampleS: 2, progress: (l) => lines.push(l) });
    expect(result.acknowledged).toBe(1200);
    expect(result.stored).toBe(1200);
    expect(result.lost).toBe(0);
    expect(result.samples.length).toBeGreaterThanOrEqual(3);
    for (const s of result.samples)
      for (const name of ["hub", "gateway", "influxd"]) {
        expect(s.processes[name]?.rssMiB).toBeGreaterThan(10);
        expect(s.processes[name]?.fds).toBeGreaterThan(3);
      }
    const text = formatSoak(result);
    expect(text).toContain("soak: 1200 acknowledged, 1200 stored, 0 lost");
    for (const name of ["hub", "gateway", "influxd"])
      expect(text).toMatch(new RegExp(`^\\| ${name} \\| \\d+ → \\d+ \\| \\d+ → \\d+ \\| (flat|GROWING) \\|$`, "m"));
  });
});
