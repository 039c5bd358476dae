/**
 * `npm run faults` at CI size: every fault of the matrix strikes once at a random moment of a stream through a real
 * gateway process, hub process and managed influxd; every reading is then accounted for. Needs root (the gateway's
 * data directory is a tmpfs it fills) and libfaketime, as CI has.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_OPTIONS, FAULTS, formatResult, runFaultMatrix } from "../faults/matrix.ts";

describe("the fault matrix (npm run faults), small", () => {
  it(
    "loses and doubles nothing through every fault; stale and future readings are dead-lettered with their reason",
    { timeout: 300_000 },
    async () => {
      const progress: string[] = [];
      const result = await runFaultMatrix({ ...DEFAULT_OPTIONS, readings: 1600, seed: 7, progress: (line) => progress.push(line) });
      const table = formatResult(result);

      expect(result.rounds.map((r) => r.fault).sort()).toEqual([...FAULTS].sort());
      expect(result.readings).toBe(1600);
      expect(result.stale + result.future).toBeGreaterThan(0);
      expect(result.acknowledged).toBe(1600);
      expect(result.lost).toBe(0);
      expect(result.doubled).toBe(0);
      expect(result.oddStored).toBe(0);
      // Within the 10 minutes of skew the protocol allows, a clock stepped back by 5 minutes refuses no good reading.
      expect(result.ordinaryDeadLettered).toBe(0);
      expect(result.stored).toBe(result.ordinary);
      expect(result.deadLettered).toEqual({ "gateway beyond_retention": result.stale, "gateway future_timestamp": result.future });
      expect(result.ok).toBe(true);

      expect(table).toContain(
        `| ${result.acknowledged} | ${result.ordinary} | ${result.stale + result.future} (gateway beyond_retention ${result.stale}, gateway future_timestamp ${result.future}) | 0 | 0 |`,
      );
      expect(table).toMatch(/verdict: PASS/);
      for (const fault of FAULTS) expect(progress.some((line) => line.includes(`: ${fault} over:`))).toBe(true);
    },
  );
});
