import { describe, expect, it } from "vitest";
import { ownsSite } from "../src/supervision/index.ts";

describe("supervision partitions", () => {
  it("give every site to exactly one of several hub copies, the same one every time", () => {
    const sites = Array.from({ length: 500 }, (_, i) => `hall-${i}`);
    for (const count of [1, 2, 3, 7]) {
      const owners = sites.map((s) => Array.from({ length: count }, (_, index) => index).filter((index) => ownsSite(s, { index, count })));
      expect(owners.every((o) => o.length === 1)).toBe(true);
      const load = Array.from({ length: count }, (_, index) => owners.filter((o) => o[0] === index).length);
      expect(Math.min(...load)).toBeGreaterThan((sites.length / count) * 0.6); // spread, not all on one copy
      expect(sites.map((s) => ownsSite(s, { index: 0, count }))).toEqual(sites.map((s) => ownsSite(s, { index: 0, count })));
    }
  });
});
