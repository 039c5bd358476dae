import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodePoint } from "../src/influx/line-protocol.ts";
import { ManifestBuilder } from "../src/ingest/manifest.ts";
import { LineGroups } from "../src/ingest/writer.ts";

const DAY = 86_400_000;
const T = Date.UTC(2026, 11, 3, 2, 0);

/** A batch's raw lines with their manifest, built as encodeBatch builds them; `devices` are the readings' device ids. */
function manifestOf(readings: Array<{ device: string; dayOffset: number; partial: boolean }>) {
  const groups = new LineGroups();
  const manifest = new ManifestBuilder();
  readings.forEach((r, i) => {
    const ts = T + r.dayOffset * DAY + i;
    const line = groups.add("raw", `rating,device=${r.device.replace(/([, =\\])/g, "\\$1")} seq=${i},rx_ts=${ts} ${ts}00000${i % 10}`, ts);
    manifest.add("rating", r.device, i, ts, line, r.partial);
  });
  return { groups, manifest };
}

const rawText = (groups: LineGroups) =>
  Buffer.concat((groups.bodies().get("raw") ?? []).flatMap((b) => [b, Buffer.from("\n")])).toString("utf8");

describe("batch manifest lines written as bytes", () => {
  it("are the lines encodePoint gives for points(): parts per day and per 1,000 entries, keyed or not", () => {
    const key = Buffer.alloc(32, 7);
    const batch = { gatewayId: "gw-hall_1", epoch: "0123456789abcdef", seq: 42, hash: "ab".repeat(32) };
    const readings = Array.from({ length: 2300 }, (_, i) => ({
      device: `kp-${i % 37}`,
      dayOffset: i < 1500 ? 0 : 1,
      partial: i % 11 === 0,
    }));
    for (const k of [key, undefined]) {
      const { groups, manifest } = manifestOf(readings);
      const expected = manifest.points(batch, k).map(encodePoint);
      const before = rawText(groups);
      manifest.write(groups, "raw", batch, k);
      const written = rawText(groups).slice(before.length).trimEnd().split("\n");
      expect(expected).toHaveLength(3); // 1,000 + 500 on the first day, 800 on the second
      expect(written).toEqual(expected);
      expect(groups.points).toBe(2300 + 3);
    }
  });

  it("agree with points() for random batches, and take the string way for an id that would need escaping", () => {
    const device = fc.oneof(fc.stringMatching(/^[a-z0-9][a-z0-9_.-]{0,20}$/), fc.constantFrom('k"p', "k\\p", "kp 1", "kp,1", "终端"));
    fc.assert(
      fc.property(
        fc.array(fc.record({ device, dayOffset: fc.integer({ min: 0, max: 2 }), partial: fc.boolean() }), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 2 ** 40 }),
        (readings, seq) => {
          const batch = { gatewayId: "gw1", epoch: "fedcba9876543210", seq, hash: "cd".repeat(32) };
          const { groups, manifest } = manifestOf(readings);
          const expected = manifest.points(batch, undefined).map(encodePoint);
          const before = rawText(groups);
          manifest.write(groups, "raw", batch, undefined);
          expect(rawText(groups).slice(before.length).trimEnd().split("\n")).toEqual(expected);
        },
      ),
      { numRuns: 300 },
    );
  });
});
