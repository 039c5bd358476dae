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
  fc
    .record({
      kind: fc.constant("presence"),
      ...base,
      type: fc.constantFrom("online", "offline", "summary"),
      intervalS: fc.integer({ min: 5, max: 3600 }),
      span: fc.integer({ min: 1, max: 3_600_000 }),
      count: fc.integer({ min: 0, max: 200 }),
      gaps: fc.array(fc.record({ fromTs: fc.integer({ min: 0, max: T }), toTs: fc.integer({ min: 0, max: T }) }), { maxLength: 3 }),
      state: fc.constantFrom("online", "offline"),
    })
    .map(({ span, count, gaps, state, ...r }) =>
      r.type === "summary"
        ? {
            ...r,
            fromTs: r.ts - span,
            toTs: r.ts,
            count,
            gaps: gaps.map((g) => ({ fromTs: Math.min(g.fromTs, g.toTs), toTs: Math.max(g.fromTs, g.toTs) + 1 })),
            state,
            ...(count > 0 ? { firstSeenTs: r.ts - span, lastSeenTs: r.ts } : {}),
          }
        : { ...r, lastSeenTs: r.ts, ts: r.type === "online" ? r.ts : r.ts + r.intervalS * 2500 },
    ),
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
        if (!checked.ok || checked.value.kind === "heartbeat" || checked.value.kind === "presence") return;
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

  it("writes a presence summary and a state change as SCHEMA.md says", () => {
    const summary = {
      kind: "presence",
      deviceId: "kp1",
      seq: 12,
      ts: T,
      rxTs: T,
      type: "summary",
      intervalS: 30,
      fromTs: T - 600_000,
      toTs: T,
      count: 15,
      firstSeenTs: T - 590_000,
      lastSeenTs: T - 10_000,
      gaps: [{ fromTs: T - 500_000, toTs: T - 300_000 }],
      state: "online",
    };
    const checked = parseReading(summary);
    if (!checked.ok) throw new Error(checked.error.message);
    expect(readingLine(checked.value, registry)).toBe(
      `presence,device=kp1,device_kind=keypad,site=hall1,type=summary seq=12,interval_s=30,online=1,last_seen=${T - 10_000},first_seen=${T - 590_000}` +
        `,period_from=${T - 600_000},count=15,gaps="${T - 500_000}-${T - 300_000}",offline_s=200 ${T}000012`,
    );
    const offline = parseReading({
      kind: "presence",
      deviceId: "kp1",
      seq: 13,
      ts: T + 75_000,
      rxTs: T + 75_000,
      type: "offline",
      intervalS: 30,
      lastSeenTs: T,
    });
    if (!offline.ok) throw new Error(offline.error.message);
    expect(readingLine(offline.value, registry)).toBe(
      `presence,device=kp1,device_kind=keypad,site=hall1,type=offline seq=13,interval_s=30,online=0,last_seen=${T} ${T + 75_000}000013`,
    );
    expect(readingLine(offline.value, registry)).toBe(reference(offline.value));
  });
});
