import { type CheckedReading, LEVELS, parseReading } from "@supervision/firmware-protocols";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodePoint, type Point } from "../src/influx/line-protocol.ts";
import { readingToPoint } from "../src/ingest/points.ts";
import { readingLine } from "../src/ingest/reading-lines.ts";
import { storedLine } from "../src/audit/audit.ts";
import { testRegistry } from "./ingest-fixtures.ts";

const T = Date.UTC(2026, 10, 23, 2, 0);
const { registry } = testRegistry();
// Names a supervision centre may type, some needing escapes in line protocol, one that cannot be written at all.
registry.departments.set("tax", { id: "tax", name: "Tax" });
registry.windows.set("w2", { id: "w2", site: "hall1", name: "W2", department: "tax office, north=1", unattendedAfterMinutes: 30 });
registry.windows.set("w3", { id: "w3", site: "hall2", name: "W3", department: "", unattendedAfterMinutes: 30 });
registry.windows.set("w4", { id: "w4", site: "hall1", name: "W4", department: "bad\\dept", unattendedAfterMinutes: 30 });
registry.sites.set("hall2", { id: "hall2", kind: "site", name: "H2", town: "t 2", tz: "Asia/Shanghai", gateway: "gw1" });
registry.towns.set("t 2", { id: "t 2", name: "T2", region: "r,2" });
registry.people.set("p2", { id: "p2", name: "P", role: "supervisor", post: "", site: "hall2", window: "w3", roster: "day" });
registry.devices.set("cam2", { id: "cam2", kind: "camera", site: "hall2", window: "w3", cameraId: "cam2", heartbeatS: 60, scale: "four" });

const ids = fc.constantFrom("kp1", "term1", "cam1", "cam2", "ghost", "w1", "w2", "w3", "w4", "nowhere", "p1", "p2", "x");
const base = {
  deviceId: ids,
  seq: fc.integer({ min: 0, max: 0xffffffff }),
  ts: fc.integer({ min: 0, max: 2 * T }),
  rxTs: fc.integer({ min: 0, max: 2 * T }),
};
const maybe = <V>(arb: fc.Arbitrary<V>) => fc.option(arb, { nil: undefined });
const reading = fc.oneof(
  fc.record({
    kind: fc.constant("rating"),
    ...base,
    windowId: ids,
    clerkId: maybe(ids),
    txnId: maybe(fc.string({ minLength: 1, maxLength: 64 })),
    outcome: fc.constantFrom("rated", "timeout", "unsolicited"),
    scale: fc.constantFrom("four", "five"),
    key: maybe(fc.integer({ min: 0, max: 255 })),
    level: maybe(fc.constantFrom(...LEVELS)),
  }),
  fc.record({
    kind: fc.constant("signin"),
    ...base,
    personId: ids,
    method: fc.constantFrom("card", "face", "fingerprint", "pin"),
    direction: fc.constantFrom("in", "out"),
    clockOffsetS: maybe(fc.integer({ min: -86_400, max: 86_400 })),
    location: maybe(
      fc.record({
        lat: fc.double({ min: -90, max: 90, noNaN: true }),
        lon: fc.double({ min: -180, max: 180, noNaN: true }),
        accuracyM: maybe(fc.double({ min: 0, max: 100000, noNaN: true })),
      }),
    ),
  }),
  fc.record({
    kind: fc.constant("motion"),
    ...base,
    cameraId: ids,
    state: fc.constantFrom("start", "end"),
    source: fc.constantFrom("onvif", "vmd", "pir", "ai"),
    snapshotSha256: maybe(fc.stringMatching(/^[0-9a-f]{64}$/)),
  }),
  fc.record({
    kind: fc.constant("heartbeat"),
    ...base,
    intervalS: fc.integer({ min: 5, max: 3600 }),
    uptimeS: fc.nat(),
    fw: maybe(fc.string({ maxLength: 32 })),
    rssi: maybe(fc.integer({ min: -150, max: 0 })),
    pending: maybe(fc.nat()),
  }),
);

/** The reference: readingToPoint then encodePoint, or the refusal either gives. */
function reference(r: CheckedReading): string {
  const point = readingToPoint(r, registry);
  if ("error" in point) throw new Error(point.error.message);
  return encodePoint(point as Point);
}
const outcome = (f: () => string) => {
  try {
    return { line: f() };
  } catch {
    return { refused: true };
  }
};

describe("readingLine", () => {
  it("property: writes the line readingToPoint + encodePoint write, and refuses what they refuse", () => {
    fc.assert(
      fc.property(reading, (raw) => {
        const checked = parseReading(JSON.parse(JSON.stringify(raw)));
        if (!checked.ok) return; // a rating off its scale: zod refuses it before any line is made
        expect(outcome(() => readingLine(checked.value, registry))).toEqual(outcome(() => reference(checked.value)));
      }),
      { numRuns: 3000 },
    );
  });

  it("property: hub audit rebuilds the line written from the point as InfluxDB returns it (tags, fields, time)", () => {
    fc.assert(
      fc.property(reading, (raw) => {
        const checked = parseReading(JSON.parse(JSON.stringify(raw)));
        if (!checked.ok || checked.value.kind === "heartbeat") return;
        const written = outcome(() => readingLine(checked.value, registry));
        if (!("line" in written)) return;
        const point = readingToPoint(checked.value, registry) as Point;
        const kind = checked.value.kind;
        expect(storedLine(kind, point.tags ?? {}, point.fields, point.timestamp)).toBe(written.line);
      }),
      { numRuns: 2000 },
    );
  });

  it("writes a rating of the fixture hall as SCHEMA.md says, and refuses an unwritable placement", () => {
    const r = {
      kind: "rating",
      deviceId: "kp1",
      seq: 7,
      ts: T,
      rxTs: T + 5,
      windowId: "w1",
      clerkId: "p1",
      outcome: "rated",
      scale: "four",
      key: 1,
      level: "very_satisfied",
    };
    expect(readingLine(r as CheckedReading, registry)).toBe(
      `rating,clerk=p1,department=tax,device=kp1,level=very_satisfied,outcome=rated,region=r1,scale=four,site=hall1,town=t1,window=w1 seq=7,rx_ts=${T + 5},key=1,txn="",rated=1,positive=1,negative=0 ${T}000007`,
    );
    expect(readingLine({ ...r, windowId: "w2" } as CheckedReading, registry)).toContain(",department=tax\\ office\\,\\ north\\=1,");
    expect(() => readingLine({ ...r, windowId: "w4" } as CheckedReading, registry)).toThrow(/cannot be written/);
    expect(() => readingLine({ ...r, ts: 2 ** 52 } as CheckedReading, registry)).toThrow(/timestamp/);
  });
});
