/**
 * `npm run faults` at CI size: every fault of the matrix strikes once at a random moment of a stream through a real
 * gateway process, hub process and managed influxd; every reading is then accounted for. Needs root (the gateway's
 * data directory is a tmpfs it fills) and libfaketime, as CI has.
 */
import { describe, expect, it } from "vitest";
import { BRIDGE_OUTAGES, formatComparison, runBridgeBaseline } from "../faults/bridge.ts";
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

describe("the improvised baseline: a hall Mosquitto bridged to a central one", () => {
  it("loses what the hall broker acknowledged and held in memory when it restarts during an uplink cut", { timeout: 120_000 }, async () => {
    const outage = 40;
    const bridge = await runBridgeBaseline({ readings: 1000, keypads: 4, seed: 7, outage, progress: () => undefined });
    expect(bridge.rounds.map((r) => r.outage)).toEqual([...BRIDGE_OUTAGES]);
    expect(bridge.acknowledged).toBe(1000);
    // Everything acknowledged while the line was down, before the restart, lived only in the hall broker's memory.
    expect(bridge.lost).toBeGreaterThanOrEqual(outage);
    expect(bridge.arrived).toBe(bridge.acknowledged - bridge.lost);
    const table = formatComparison(
      { acknowledged: 1000, stored: 1000, deadLetteredReadings: 0, lost: 0, doubled: 0, rounds: [1, 2] },
      bridge,
      outage,
    );
    expect(table).toContain(
      `| 1000 | ${bridge.arrived} | - | ${bridge.lost} (${((100 * bridge.lost) / 1000).toFixed(1)} %) | ${bridge.doubled} |`,
    );
  });
});
