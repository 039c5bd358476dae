import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodePoint } from "../src/influx/line-protocol.ts";
import { lineDigest, ManifestBuilder, parseEntries } from "../src/ingest/manifest.ts";
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

  it("entries name each line's reading (kind, device, timestamp as written, seq, digest), in about a third of the bytes", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            device: fc.stringMatching(/^[a-z0-9][a-z0-9_.-]{0,20}$/),
            ts: fc.oneof(fc.integer({ min: T - 10 * DAY, max: T + DAY }), fc.constant(T)),
            seq: fc.oneof(fc.nat(), fc.integer({ min: 0, max: 2 ** 40 })),
            // The timestamp's last six digits: seq's, as encodeBatch writes them, or anything.
            sub: fc.option(fc.integer({ min: 0, max: 999_999 })),
            partial: fc.boolean(),
            kind: fc.constantFrom("rating", "signin", "motion", "item", "queue"),
          }),
          { minLength: 1, maxLength: 60 },
        ),
        (readings) => {
          const groups = new LineGroups();
          const manifest = new ManifestBuilder();
          const expected = readings.map((r) => {
            const ns = `${r.ts}${String(r.sub ?? r.seq % 1_000_000).padStart(6, "0")}`;
            const text = `${r.kind},device=${r.device} seq=${r.seq} ${ns}`;
            manifest.add(r.kind, r.device, r.seq, r.ts, groups.add("raw", text, r.ts), r.partial);
            return { kind: r.kind, partial: r.partial, device: r.device, ns, seq: r.seq, digest: lineDigest(text) };
          });
          const parts = manifest.points({ gatewayId: "gw1", epoch: "e", seq: 1, hash: "h" }, undefined);
          const entries = parts.flatMap((p) => parseEntries(String(p.fields.entries)));
          // A part per day of the readings' times (in the order the days first come), each in write order.
          const days = [...new Set(readings.map((r) => Math.floor(r.ts / DAY)))];
          const inParts = days.flatMap((day) => expected.filter((_, i) => Math.floor((readings[i] as { ts: number }).ts / DAY) === day));
          expect(entries).toEqual(inParts);
        },
      ),
      { numRuns: 300 },
    );
    // The bench's batch: 1,000 ratings of 50 keypads a millisecond apart, seq and time rising together.
    const groups = new LineGroups();
    const manifest = new ManifestBuilder();
    for (let i = 0; i < 1000; i++) {
      const text = `rating,device=kp-w${i % 50} seq=${5000 + i} ${T + i}${String(5000 + i).padStart(6, "0")}`;
      manifest.add("rating", `kp-w${i % 50}`, 5000 + i, T + i, groups.add("raw", text, T + i), false);
    }
    const [part] = manifest.points({ gatewayId: "gw1", epoch: "e", seq: 1, hash: "h" }, undefined);
    const entries = String(part?.fields.entries);
    expect(entries.startsWith("v2 kp-w0 kp-w1 ")).toBe(true);
    expect(entries.length / 1000).toBeLessThan(19); // the first form: 42 bytes per reading
    expect(parseEntries(entries)[999]).toMatchObject({ device: "kp-w49", seq: 5999, ns: `${T + 999}005999` });
  });

  it("reads the first form (manifests stored before the compact one) and refuses text in neither", () => {
    expect(parseEntries(`r kp1 ${T}000017 17 0a1b2c3d;sp door-2 ${T + 5}000018 18 ffffffff`)).toEqual([
      { kind: "rating", partial: false, device: "kp1", ns: `${T}000017`, seq: 17, digest: "0a1b2c3d" },
      { kind: "signin", partial: true, device: "door-2", ns: `${T + 5}000018`, seq: 18, digest: "ffffffff" },
    ]);
    expect(parseEntries(`v2 kp1 door-2;r0 ${T} 17 0a1b2c3d;sp1 5 1 ffffffff 42`)).toEqual([
      { kind: "rating", partial: false, device: "kp1", ns: `${T}000017`, seq: 17, digest: "0a1b2c3d" },
      { kind: "signin", partial: true, device: "door-2", ns: `${T + 5}000042`, seq: 18, digest: "ffffffff" },
    ]);
    for (const hostile of [
      "v2 kp1;r1 1 1 0a1b2c3d", // no device 1
      "v2 kp1;x0 1 1 0a1b2c3d", // no such kind
      "v2 kp1;r0 1 1 0a1b2c3", // short digest
      "v2 kp1;r0 -5 1 0a1b2c3d", // before 1970
      "v2 kp1;r0 1 1 0a1b2c3d 1234567", // seven digits after the millisecond
      `v2 kp1;r0 ${"9".repeat(400)} 1 0a1b2c3d`,
      "r kp1 notanumber 1 0a1b2c3d",
    ])
      expect(() => parseEntries(hostile), hostile).toThrow(/cannot be read/);
  });
});
