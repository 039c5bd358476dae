import { createHash, sign, verify } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type BatchBodyV2,
  type BatchBodyV3,
  GENESIS_HASH,
  generateGatewayKeys,
  loadPrivateKey,
  loadPublicKey,
  openBatch,
  parseBatchReading,
  READING_KINDS,
  READING_SCHEMAS,
  signBatch,
  signSerializedBatch,
} from "./envelope.ts";
import { READING_LAYOUTS, readingFromRow, readingRow, readingRowsJson } from "./envelope-v2.ts";

const keys = generateGatewayKeys();
const privateKey = loadPrivateKey(keys.privateKeyPem);
const publicKey = loadPublicKey(keys.publicKeyPem);
const T = Date.UTC(2026, 10, 23, 2, 0);
const header = { gatewayId: "gw-1", epoch: "0123456789abcdef", seq: 1, prevHash: GENESIS_HASH, createdAt: T };
const rating = {
  kind: "rating",
  v: 1,
  deviceId: "kp-1",
  seq: 1,
  ts: T,
  rxTs: T + 5,
  windowId: "w1",
  clerkId: "p1",
  outcome: "rated",
  scale: "four",
  key: 1,
  level: "very_satisfied",
};
const heartbeat = { kind: "heartbeat", deviceId: "kp-1", seq: 2, ts: T, rxTs: T, intervalS: 60, uptimeS: 1, fw: 'v1.2 "β" 中' };

/** The fields of a kind's schema, as zod names them. */
const schemaFields = (kind: (typeof READING_KINDS)[number]) => Object.keys((READING_SCHEMAS[kind] as unknown as { shape: object }).shape);

describe("v2 layouts", () => {
  it("name every field of each kind's schema once (but kind and v), identity first: a schema change needs a new layout", () => {
    for (const [layout, kinds] of Object.entries(READING_LAYOUTS)) {
      expect(Object.keys(kinds).sort(), layout).toEqual([...READING_KINDS].sort());
      for (const kind of READING_KINDS) {
        const columns: readonly string[] = kinds[kind];
        expect(new Set(columns).size, kind).toBe(columns.length);
        expect([...columns].sort(), kind).toEqual(
          schemaFields(kind)
            .filter((f) => f !== "kind" && f !== "v")
            .sort(),
        );
        expect(columns.slice(0, 4), kind).toEqual(["deviceId", "seq", "ts", "rxTs"]);
      }
    }
  });

  it("can use null for absent: no reading field accepts null", () => {
    const valid = { ...rating };
    for (const field of schemaFields("rating").filter((f) => f !== "kind"))
      expect(READING_SCHEMAS.rating.safeParse({ ...valid, [field]: null }).success, field).toBe(false);
    for (const kind of READING_KINDS)
      for (const field of schemaFields(kind)) {
        const shape = (READING_SCHEMAS[kind] as unknown as { shape: Record<string, { safeParse(v: unknown): { success: boolean } }> })
          .shape;
        expect(shape[field]!.safeParse(null).success, `${kind}.${field}`).toBe(false);
      }
  });
});

describe("v2 rows", () => {
  it("carry a reading and give it back, trailing absent fields left off and absent ones null", () => {
    const row = readingRow(rating);
    expect(row).toEqual(["rating", "kp-1", 1, T, T + 5, "w1", "rated", "four", 1, "very_satisfied", "p1"]);
    expect(readingFromRow(row, 1)).toEqual({ ok: true, value: omitV(rating) });
    const { key: _key, level: _level, v: _v, ...timeout } = { ...rating, outcome: "timeout" };
    expect(readingRow(timeout)).toEqual(["rating", "kp-1", 1, T, T + 5, "w1", "timeout", "four", null, null, "p1"]);
    expect(readingRow(heartbeat)).toEqual(["heartbeat", "kp-1", 2, T, T, 60, 1, 'v1.2 "β" 中']);
  });

  it("refuse what the layout cannot carry, so the gateway seals that batch as v1", () => {
    expect(readingRow({ ...rating, battery: 3 })).toBeUndefined();
    expect(readingRow({ ...rating, clerkId: null })).toBeUndefined();
    expect(readingRow({ ...rating, v: 2 })).toBeUndefined();
    expect(readingRow({ ...rating, kind: "alarm" })).toBeUndefined();
    expect(readingRow({ ...rating, kind: "toString" })).toBeUndefined();
    const json = (rs: unknown[]) => Buffer.from(rs.map((r) => JSON.stringify(r)).join(","), "utf8");
    expect(readingRowsJson(json([rating, heartbeat]))?.toString("utf8")).toBe(
      `${JSON.stringify(readingRow(rating))},${JSON.stringify(readingRow(heartbeat))}`,
    );
    expect(readingRowsJson(json([rating, { ...heartbeat, extra: 1 }]))).toBeUndefined();
    expect(readingRowsJson(json([rating, [1]]))).toBeUndefined();
    expect(readingRowsJson(Buffer.from("{"))).toBeUndefined();
  });
});

describe("v2 rows from a gateway's stored JSON", () => {
  const json = (rs: unknown[]) => Buffer.from(rs.map((r) => JSON.stringify(r)).join(","), "utf8");
  const expected = (rs: Record<string, unknown>[]) => rs.map((r) => JSON.stringify(readingRow(r))).join(",");

  it("are the rows of every reading, however many pieces the JSON is parsed in", () => {
    const many = Array.from({ length: 3000 }, (_, i) => ({ ...heartbeat, seq: i, fw: i % 7 === 0 ? "fw },{ 中" : "v1" }));
    const rows = readingRowsJson(json(many));
    // A piece split inside a text holding "},{" does not parse: then the batch goes v1 (undefined), never wrong rows.
    if (rows !== undefined) expect(rows.toString("utf8")).toBe(expected(many));
    const plain = many.map((r) => ({ ...r, fw: "v1" }));
    expect(readingRowsJson(json(plain))?.toString("utf8")).toBe(expected(plain));
    expect(json(plain).length).toBeGreaterThan(3 * 64 * 1024);
    expect(readingRowsJson(Buffer.alloc(0))?.length).toBe(0);
  });

  it("property: rows of readings with tricky texts are right or absent, never wrong", () => {
    const text = fc.stringMatching(/^[{},"\\a-z:[\] 中]{0,12}$/);
    fc.assert(
      fc.property(fc.array(text, { minLength: 1, maxLength: 400 }), (texts) => {
        const rs = texts.map((fw, i) => ({ ...heartbeat, seq: i, fw: fw.repeat(20) }));
        const rows = readingRowsJson(json(rs));
        if (rows !== undefined) expect(rows.toString("utf8")).toBe(expected(rs));
      }),
      { numRuns: 100 },
    );
  });
});

function omitV(r: Record<string, unknown>): Record<string, unknown> {
  const { v: _v, ...rest } = r;
  return rest;
}

const rowsOf = (...readings: Record<string, unknown>[]) => readings.map((r) => readingRow(r)!);

describe("v2 (and v3) batches", () => {
  it.each([2, 3] as const)("(v%i) are signed, opened and chained as v1; the serialised seal writes the same bytes", (v) => {
    const body: BatchBodyV2 | BatchBodyV3 = { v, ...header, layout: 1, readings: rowsOf(rating, heartbeat) };
    const signed = signBatch(body, privateKey);
    const opened = openBatch("gw-1", signed.wire, () => publicKey);
    expect(opened).toEqual({ ok: true, value: { body, hash: signed.hash } });
    if (!opened.ok) return;
    expect(opened.value.body.readings.map((r) => parseBatchReading(opened.value.body, r))).toEqual([
      { ok: true, value: omitV(rating) },
      { ok: true, value: heartbeat },
    ]);
    const rowsJson = readingRowsJson(Buffer.from(`${JSON.stringify(rating)},${JSON.stringify(heartbeat)}`))!;
    const serialized = signSerializedBatch({ v, ...header, layout: 1 }, rowsJson, privateKey);
    expect(serialized.wire.equals(signed.wire)).toBe(true);
    expect(serialized.hash).toBe(signed.hash);
  });

  it("are about half the bytes of v1 for the bench's ratings", () => {
    const readings = Array.from({ length: 1000 }, (_, i) => ({ ...rating, deviceId: `kp${i % 50}`, seq: i, ts: T + i, rxTs: T + i + 5 }));
    const v1 = signBatch({ v: 1, ...header, readings: readings as never }, privateKey).wire.length;
    const v2 = signBatch({ v: 2, ...header, layout: 1, readings: rowsOf(...readings) }, privateKey).wire.length;
    expect(v2 / v1).toBeLessThan(0.55);
  });

  it("refuse a whole body of an unknown version or layout, or a v1 body with a layout, each with its reason", () => {
    const sign = (body: object) => signBatch(body as BatchBodyV2, privateKey).wire;
    const rows = rowsOf(rating);
    expect(openBatch("gw-1", sign({ v: 4, ...header, layout: 1, readings: rows }), () => publicKey)).toMatchObject({
      ok: false,
      error: { code: "unsupported_version", path: "v" },
    });
    expect(openBatch("gw-1", sign({ v: "2", ...header, layout: 1, readings: rows }), () => publicKey)).toMatchObject({
      ok: false,
      error: { code: "unsupported_version" },
    });
    expect(openBatch("gw-1", sign({ v: 2, ...header, layout: 2, readings: rows }), () => publicKey)).toMatchObject({
      ok: false,
      error: { code: "invalid_field", path: "layout" },
    });
    expect(openBatch("gw-1", sign({ v: 2, ...header, readings: rows }), () => publicKey)).toMatchObject({
      ok: false,
      error: { code: "missing_field", path: "layout" },
    });
    expect(openBatch("gw-1", sign({ v: 1, ...header, layout: 1, readings: [omitV(rating)] }), () => publicKey)).toMatchObject({
      ok: false,
      error: { code: "unknown_field" },
    });
  });

  it("never throw on hostile rows: each gets a verdict of its own", () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue(), { maxLength: 30 }), (rows) => {
        const wire = signBatch({ v: 2, ...header, layout: 1, readings: rows as unknown[][] }, privateKey).wire;
        const opened = openBatch("gw-1", wire, () => publicKey);
        if (!opened.ok) return;
        for (const row of opened.value.body.readings) expect(typeof parseBatchReading(opened.value.body, row).ok).toBe("boolean");
      }),
      { numRuns: 300 },
    );
  });
});

describe("v3 batches (PROTOCOL.md 4.3)", () => {
  const body: BatchBodyV3 = { v: 3, ...header, layout: 1, readings: rowsOf(rating, heartbeat) };
  const signed = signBatch(body, privateKey);
  const bodyBytes = signed.wire.subarray(0, signed.wire.lastIndexOf(0x0a));
  const digest = createHash("sha256").update(bodyBytes).digest();
  const context = Buffer.from("supervision uplink v3 sha256\n", "ascii");
  /** A wire of these body bytes and a signature over `message`. */
  const wireOf = (bytes: Buffer, message: Uint8Array) =>
    Buffer.concat([bytes, Buffer.from(`\n${sign(null, message, privateKey).toString("base64")}`, "ascii")]);

  it("are signed over the context and the body's SHA-256, not the body (opened and read as v2's: the describe above)", () => {
    const signature = Buffer.from(signed.wire.subarray(bodyBytes.length + 1).toString("ascii"), "base64");
    expect(verify(null, Buffer.concat([context, digest]), publicKey, signature)).toBe(true);
    expect(verify(null, bodyBytes, publicKey, signature)).toBe(false);
    expect(signed.hash).toBe(digest.toString("hex"));
  });

  it("refuse a signature over anything else, and a version that does not match what was signed", () => {
    const open = (wire: Buffer) => openBatch("gw-1", wire, () => publicKey);
    // A v3 body signed over its bytes (as v2 is), or over its bare digest: not what a v3 signature covers.
    expect(open(wireOf(bodyBytes, bodyBytes))).toMatchObject({ ok: false, error: { code: "bad_signature" } });
    expect(open(wireOf(bodyBytes, digest))).toMatchObject({ ok: false, error: { code: "bad_signature" } });
    // One byte of the body changed after signing.
    const altered = Buffer.from(signed.wire);
    altered[bodyBytes.indexOf("kp-1")] = 0x4b;
    expect(open(altered)).toMatchObject({ ok: false, error: { code: "bad_signature" } });
    // A v2 body signed over its digest: the hub verifies a body not starting {"v":3, over its bytes.
    const v2Bytes = Buffer.from(JSON.stringify({ ...body, v: 2 }));
    const v2Digest = createHash("sha256").update(v2Bytes).digest();
    expect(open(wireOf(v2Bytes, Buffer.concat([context, v2Digest])))).toMatchObject({ ok: false, error: { code: "bad_signature" } });
    // Validly signed, but what the signature says and what the body says disagree: refused, with the reason.
    const spaced = Buffer.from(`{ "v":3,${bodyBytes.subarray(7).toString()}`);
    expect(open(wireOf(spaced, spaced))).toMatchObject({ ok: false, error: { code: "invalid_field", path: "v" } });
    const twice = Buffer.from(`{"v":3,"v":2,${bodyBytes.subarray(7).toString()}`);
    const twiceDigest = createHash("sha256").update(twice).digest();
    const answer = open(wireOf(twice, Buffer.concat([context, twiceDigest])));
    expect(answer).toMatchObject({ ok: false, error: { code: "invalid_field", path: "v" } });
    expect(answer.ok ? "" : answer.error.message).toBe(
      'a v3 body starts with {"v":3, and is signed over its SHA-256; this one is v2 and signed over its SHA-256',
    );
  });
});

describe("PROTOCOL.md 4.2, worked example", () => {
  const text = readFileSync(join(import.meta.dirname, "..", "PROTOCOL.md"), "utf8");
  const section = text.slice(text.indexOf("### 4.2"), text.indexOf("## 5."));
  const blocks = [...section.matchAll(/```json\n(.*)\n```/g)].map((m) => m[1]!);

  it("gives the rows the code writes for its readings, with the byte counts it states", () => {
    expect(blocks).toHaveLength(2);
    const [v1, v2] = blocks as [string, string];
    const readings = JSON.parse(v1) as Record<string, unknown>[];
    expect(readingRowsJson(Buffer.from(v1.slice(1, -1)))?.toString()).toBe(v2.slice(1, -1));
    expect(section).toContain(`as v1 readings (${Buffer.byteLength(v1)} bytes)`);
    expect(section).toContain(`rows of layout 1 (${Buffer.byteLength(v2)} bytes)`);
    const rows = JSON.parse(v2) as unknown[];
    expect(rows.map((row) => readingFromRow(row, 1))).toEqual(readings.map((value) => ({ ok: true, value })));
    for (const row of rows) expect(parseBatchReading({ v: 2, layout: 1 }, row).ok).toBe(true);
  });

  it("names each layout's columns in order, as the code has them", () => {
    for (const kind of READING_KINDS)
      expect(section).toContain(`| \`${kind}\` | ${READING_LAYOUTS[1][kind].map((c) => `\`${c}\``).join(", ")} |`);
  });
});
