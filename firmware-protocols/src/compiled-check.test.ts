import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compileCheck } from "./compiled-check.ts";
import { parseBatchReading, parseReading, parseReadingWithZod, READING_KINDS, READING_SCHEMAS } from "./envelope.ts";
import { readingFromRow, readingRow } from "./envelope-v2.ts";
import { LEVELS } from "./events.ts";

const T = Date.UTC(2026, 10, 23, 2, 0);
const id = fc.stringMatching(/^[a-z0-9][a-z0-9_.-]{0,63}$/);
const common = { deviceId: id, seq: fc.integer({ min: 0, max: 0xffffffff }), ts: fc.integer({ min: 0, max: 2 * T }), rxTs: fc.nat() };
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
const withoutUndefined = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

/** Readings of every kind that zod accepts, and some it refuses by its rating rules. */
const validReading = fc
  .oneof(
    fc.record({
      kind: fc.constant("rating"),
      ...common,
      windowId: id,
      clerkId: maybe(id),
      txnId: maybe(fc.string({ minLength: 1, maxLength: 64 })),
      outcome: fc.constantFrom("rated", "timeout", "unsolicited"),
      scale: fc.constantFrom("four", "five"),
      key: maybe(fc.integer({ min: 0, max: 255 })),
      level: maybe(fc.constantFrom(...LEVELS)),
      v: maybe(fc.constant(1)),
    }),
    fc.record({
      kind: fc.constant("signin"),
      ...common,
      personId: id,
      method: fc.constantFrom("card", "face", "fingerprint", "pin"),
      direction: fc.constantFrom("in", "out"),
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
      ...common,
      cameraId: id,
      state: fc.constantFrom("start", "end"),
      source: fc.constantFrom("onvif", "vmd", "pir", "ai"),
      snapshotSha256: maybe(fc.stringMatching(/^[0-9a-f]{64}$/)),
    }),
    fc.record({
      kind: fc.constant("heartbeat"),
      ...common,
      intervalS: fc.integer({ min: 5, max: 3600 }),
      uptimeS: fc.nat(),
      fw: maybe(fc.string({ maxLength: 32 })),
      rssi: maybe(fc.integer({ min: -150, max: 0 })),
      pending: maybe(fc.nat()),
    }),
    // Presence reports, most of them shaped as gateways make them (some break the type rules: zod refuses those).
    fc
      .record({
        kind: fc.constant("presence"),
        ...common,
        type: fc.constantFrom("online", "offline", "summary"),
        intervalS: fc.integer({ min: 5, max: 3600 }),
        lastSeenTs: maybe(fc.integer({ min: 0, max: 2 * T })),
        firstSeenTs: maybe(fc.integer({ min: 0, max: 2 * T })),
        span: fc.integer({ min: 0, max: 3_600_000 }),
        count: fc.integer({ min: 0, max: 1_000_000 }),
        gaps: fc.array(fc.record({ fromTs: fc.integer({ min: 0, max: 2 * T }), toTs: fc.integer({ min: 0, max: 2 * T }) }), {
          maxLength: 4,
        }),
        state: fc.constantFrom("online", "offline"),
        v: maybe(fc.constant(1)),
      })
      .map(({ span, count, gaps, state, firstSeenTs, ...r }) => {
        if (r.type === "summary") return withoutUndefined({ ...r, fromTs: r.ts - span, toTs: r.ts, count, gaps, state, firstSeenTs });
        const lastSeenTs = r.lastSeenTs ?? r.ts;
        return withoutUndefined({ ...r, lastSeenTs, ts: r.type === "online" ? lastSeenTs : lastSeenTs + r.intervalS * 2500 });
      }),
  )
  .map((r) => {
    const out = withoutUndefined(r as Record<string, unknown>);
    if (out.location) out.location = withoutUndefined(out.location as Record<string, unknown>);
    return out;
  });

const FIELDS = ["kind", "v", "deviceId", "seq", "ts", "rxTs", "windowId", "clerkId", "txnId", "outcome", "scale", "key", "level"]
  .concat([
    "personId",
    "method",
    "direction",
    "location",
    "cameraId",
    "state",
    "source",
    "snapshotSha256",
    "intervalS",
    "uptimeS",
    "fw",
    "rssi",
    "pending",
  ])
  .concat(["type", "lastSeenTs", "fromTs", "toTs", "count", "firstSeenTs", "gaps"])
  .concat(["extra", "__proto__", "constructor", "toString", ""]);
/** Values at and past every edge the schemas draw, and of every wrong type. */
const hostileValue = fc.oneof(
  fc.constantFrom<unknown>(
    undefined,
    null,
    "",
    "x".repeat(65),
    "x".repeat(10_000),
    "KP 1",
    "kp\n1",
    "../../etc",
    "中文",
    [],
    [{ fromTs: 1, toTs: 2 }],
    [{ fromTs: 2, toTs: 1 }],
    [{ fromTs: 1, toTs: 2, x: 1 }],
    [null],
    [, { fromTs: 1, toTs: 2 }],
    Array.from({ length: 501 }, (_, i) => ({ fromTs: i, toTs: i + 1 })),
    -1,
    0,
    -0,
    1.5,
    0xffffffff,
    2 ** 32,
    2 ** 53,
    Number.MAX_SAFE_INTEGER,
    NaN,
    Infinity,
    -Infinity,
    "5",
    true,
    [],
    {},
    [1],
    { lat: 91, lon: 0 },
    { lat: 0, lon: 0, extra: 1 },
    { lat: "0", lon: 0 },
    1,
    2,
    "rating",
    "signin",
    "very_satisfied",
    "average",
    "very_dissatisfied",
    "timeout",
    "rated",
    "five",
  ),
  fc.jsonValue(),
);
/** A valid reading with some fields set to hostile values or deleted. */
const hostileReading = fc
  .tuple(validReading, fc.array(fc.tuple(fc.constantFrom(...FIELDS), hostileValue, fc.boolean()), { minLength: 1, maxLength: 3 }))
  .map(([reading, edits]) => {
    const r: Record<string, unknown> = { ...reading };
    for (const [key, value, remove] of edits) {
      if (remove) delete r[key];
      else Object.defineProperty(r, key, { value, enumerable: true, writable: true, configurable: true });
    }
    return r;
  });

/** The same verdict, the same value and the same error (code, message, path) as zod alone. */
function expectSameAsZod(reading: unknown) {
  expect(parseReading(reading)).toEqual(parseReadingWithZod(reading));
}

describe("compiled reading checks", () => {
  it("compile every reading schema, and pass the readings gateways send", () => {
    for (const kind of READING_KINDS) expect(compileCheck(READING_SCHEMAS[kind]), kind).toBeTypeOf("function");
    const checks = Object.fromEntries(READING_KINDS.map((k) => [k, compileCheck(READING_SCHEMAS[k])]));
    const rating = {
      kind: "rating",
      v: 1,
      deviceId: "kp1",
      seq: 1,
      ts: T,
      rxTs: T,
      windowId: "w1",
      outcome: "rated",
      scale: "four",
      key: 1,
      level: "satisfied",
    };
    expect(checks.rating?.(rating)).toBe(true);
    expect(checks.rating?.({ ...rating, level: "basically_satisfied" })).toBe(false); // a five-level word on a four-key scale
    expect(checks.rating?.(JSON.parse(JSON.stringify(rating).replace("{", '{"__proto__":{},')))).toBe(false);
    const summary = {
      kind: "presence",
      deviceId: "kp1",
      seq: 3,
      ts: T,
      rxTs: T,
      type: "summary",
      intervalS: 30,
      fromTs: T - 600_000,
      toTs: T,
      count: 17,
      firstSeenTs: T - 590_000,
      lastSeenTs: T - 5_000,
      gaps: [{ fromTs: T - 500_000, toTs: T - 200_000 }],
      state: "online",
    };
    expect(checks.presence?.(summary)).toBe(true);
    expect(checks.presence?.({ ...summary, gaps: [{ fromTs: T, toTs: T - 1 }] })).toBe(false); // a gap ending before it starts
    expect(checks.presence?.({ ...summary, type: "online" })).toBe(false); // period fields on a state change
  });

  it("property: random valid readings get zod's verdict and value", () => {
    fc.assert(
      fc.property(validReading, (r) => expectSameAsZod(r)),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(validReading, (r) => expectSameAsZod(JSON.parse(JSON.stringify(r)))),
      { numRuns: 500 },
    );
  });

  it("property: hostile readings get zod's verdict and error code, message and path", () => {
    fc.assert(
      fc.property(hostileReading, (r) => expectSameAsZod(r)),
      { numRuns: 3000 },
    );
    fc.assert(
      fc.property(fc.jsonValue(), (r) => expectSameAsZod(r)),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.anything(), (r) => expectSameAsZod(r)),
      { numRuns: 500 },
    );
    const proto = Object.create({ windowId: "w1" }) as Record<string, unknown>;
    Object.assign(proto, { kind: "rating", deviceId: "kp1", seq: 1, ts: T, rxTs: T, outcome: "timeout", scale: "four" });
    for (const r of [proto, Object.assign(Object.create(null), { kind: "motion" }), JSON.parse('{"kind":"heartbeat","__proto__":{"x":1}}')])
      expectSameAsZod(r);
  });
});

/** A v2 row checked on the hub's path (row → reading → compiled check, zod on refusal) against zod alone on its reading. */
function expectRowSameAsZod(row: unknown) {
  const decoded = readingFromRow(row, 1);
  expect(parseBatchReading({ v: 2, layout: 1 }, row)).toEqual(decoded.ok ? parseReadingWithZod(decoded.value) : decoded);
}
const withoutV = ({ v: _v, ...r }: Record<string, unknown>) => r;

describe("compiled reading checks on v2 rows", () => {
  it("property: a valid reading sent as a row gets zod's verdict and value, as it does sent as an object", () => {
    fc.assert(
      fc.property(validReading, (r) => {
        const row = readingRow(r);
        expect(row).toBeDefined();
        const sent: unknown = JSON.parse(JSON.stringify(row));
        expectRowSameAsZod(sent);
        const asRow = parseBatchReading({ v: 2, layout: 1 }, sent);
        // As it travels (JSON: -0 arrives as 0), minus the `v` a row leaves to its batch.
        const asObject = parseReadingWithZod(withoutV(JSON.parse(JSON.stringify(r)) as Record<string, unknown>));
        expect(asRow).toEqual(asObject);
      }),
      { numRuns: 2000 },
    );
  });

  it("property: hostile readings as rows, and hostile rows, get zod's verdict and error code, message and path", () => {
    fc.assert(
      fc.property(hostileReading, (r) => {
        const row = readingRow(r);
        if (row) expectRowSameAsZod(JSON.parse(JSON.stringify(row)));
      }),
      { numRuns: 3000 },
    );
    // Valid rows with columns replaced, cut or added.
    const hostileRow = fc
      .tuple(
        validReading,
        fc.array(fc.tuple(fc.integer({ min: 0, max: 18 }), hostileValue, fc.boolean()), { minLength: 1, maxLength: 3 }),
        fc.integer({ min: 0, max: 20 }),
      )
      .map(([reading, edits, cut]) => {
        const row = [...readingRow(reading)!];
        for (const [at, value, remove] of edits) {
          if (remove) row.splice(at, 1);
          else row[at] = value === undefined ? null : value;
        }
        for (let i = 0; i < row.length; i++) if (row[i] === undefined) row[i] = null;
        return cut % 4 === 0 ? row.slice(0, cut) : row;
      });
    fc.assert(
      fc.property(hostileRow, (row) => expectRowSameAsZod(row)),
      { numRuns: 3000 },
    );
    fc.assert(
      fc.property(fc.jsonValue(), (row) => expectRowSameAsZod(row)),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.array(fc.jsonValue(), { maxLength: 20 }), (row) => expectRowSameAsZod(["rating", ...row])),
      { numRuns: 500 },
    );
  });
});
