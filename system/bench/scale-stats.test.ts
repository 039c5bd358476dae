import { describe, expect, it } from "vitest";
import { describeUnacked, dueMs, hallOffsetMs, hallPlan, percentile, ratio, shares, withinSplit } from "./scale-stats.ts";

describe("scale bench arithmetic", () => {
  it("percentile: the value at rank floor(p/100 × n), the last for 100, NaN when empty", () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1); // 1..100
    expect(percentile(values, 50)).toBe(51);
    expect(percentile(values, 99)).toBe(100);
    expect(percentile(values, 100)).toBe(100);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile(new Float64Array([1, 2, 3, 4]), 50)).toBe(3);
    expect(percentile([], 99)).toBeNaN();
  });

  it("shares and the 60/40 split", () => {
    expect(shares([30, 70])).toEqual([0.3, 0.7]);
    expect(shares([0, 0])).toEqual([0, 0]);
    expect(withinSplit(shares([45, 55]), 0.6)).toBe(true);
    expect(withinSplit(shares([39, 61]), 0.6)).toBe(false);
  });

  it("hall offsets are distinct within the spread and halls take templates and slices in turn", () => {
    const offsets = new Set(Array.from({ length: 1000 }, (_, g) => hallOffsetMs(g, 30_000)));
    expect(offsets.size).toBe(1000);
    expect(Math.max(...offsets)).toBeLessThan(30_000);
    expect(hallPlan(0, 4, 10)).toEqual({ template: 0, slice: 0 });
    expect(hallPlan(5, 4, 10)).toEqual({ template: 1, slice: 1 });
    expect(hallPlan(43, 4, 10)).toEqual({ template: 3, slice: 0 });
    // 1,000 halls, 4 templates, 10 slices: each (template, slice) played 25 times.
    const counts = new Map<string, number>();
    for (let g = 0; g < 1000; g++) {
      const p = hallPlan(g, 4, 10);
      counts.set(`${p.template}/${p.slice}`, (counts.get(`${p.template}/${p.slice}`) ?? 0) + 1);
    }
    expect(counts.size).toBe(40);
    expect([...counts.values()].every((n) => n === 25)).toBe(true);
  });

  it("due times compress virtual time by the speed; ratios print with two decimals", () => {
    expect(dueMs(600_000, 10)).toBe(60_000);
    expect(dueMs(1500, 1)).toBe(1500);
    expect(ratio(84, 10)).toBe("8.40x");
    expect(ratio(1, 0)).toBe("-");
    expect(ratio(NaN, 2)).toBe("-");
  });

  it("names the gateways whose batches are unacknowledged, most first", () => {
    const unacked = new Map([
      ["gw-a", 1],
      ["gw-b", 3],
      ["gw-c", 0],
      ["gw-d", 3],
    ]);
    expect(describeUnacked(unacked)).toBe("7 batches unacknowledged from 3 gateways: gw-b (3), gw-d (3), gw-a (1)");
    expect(describeUnacked(unacked, 1)).toBe("7 batches unacknowledged from 3 gateways: gw-b (3) and 2 more gateways");
  });
});
