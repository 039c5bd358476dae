import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { hashSecret, verifySecret } from "./credentials.ts";
import {
  GENESIS_HASH,
  generateGatewayKeys,
  loadPrivateKey,
  loadPublicKey,
  MAX_BATCH_BYTES,
  openBatch,
  parseReading,
  signBatch,
  signSerializedBatch,
} from "./envelope.ts";
import { deviceTopics, parseTopic } from "./topics.ts";
import { validateDeviceMessage } from "./validate.ts";

const NOW = Date.UTC(2026, 10, 23, 2, 0);
const keys = generateGatewayKeys();
const privateKey = loadPrivateKey(keys.privateKeyPem);
const publicKey = loadPublicKey(keys.publicKeyPem);
const body = {
  v: 1 as const,
  gatewayId: "gw-1",
  epoch: "0123456789abcdef",
  seq: 1,
  prevHash: GENESIS_HASH,
  createdAt: NOW,
  readings: [{ kind: "heartbeat" as const, deviceId: "kp-1", seq: 1, ts: NOW, rxTs: NOW, v: 1, intervalS: 60, uptimeS: 1 }],
};

describe("topics", () => {
  it("parses what the builders make and refuses hostile topics", () => {
    expect(parseTopic(deviceTopics.event("kp-1", "rating"))).toEqual({
      ok: true,
      value: { scope: "dev", deviceId: "kp-1", type: "evt", kind: "rating" },
    });
    for (const topic of [
      "",
      "/",
      "sv/v1",
      "sv/v1/dev//evt/rating",
      "sv/v1/dev/kp-1/evt/rating/extra",
      "sv/v1/dev/../evt/rating",
      "sv/v1/dev/kp\u0000/evt/rating",
      `sv/v1/dev/${"a".repeat(65)}/evt/rating`,
      "$SYS/broker",
      "sv/v1/dev/#",
    ])
      expect(parseTopic(topic).ok, topic).toBe(false);
  });
});

describe("uplink envelope", () => {
  it("opens what it signed, with the hash the hub acknowledges", () => {
    const signed = signBatch(body, privateKey);
    const opened = openBatch("gw-1", signed.wire, () => publicKey);
    expect(opened).toEqual({ ok: true, value: { body, hash: signed.hash } });
    if (opened.ok) for (const reading of opened.value.body.readings) expect(parseReading(reading)).toMatchObject({ ok: true });
  });

  it("signs already-serialised readings into the very bytes signBatch writes, and says where they sit", () => {
    const { readings, ...header } = { ...body, readings: [...body.readings, { ...body.readings[0]!, seq: 2, fw: 'v1.2 "β" 中' }] };
    const json = Buffer.from(readings.map((r) => JSON.stringify(r)).join(","), "utf8");
    const serialized = signSerializedBatch(header, json, privateKey);
    const whole = signBatch({ ...header, readings }, privateKey);
    expect(serialized.wire.equals(whole.wire)).toBe(true);
    expect(serialized.hash).toBe(whole.hash);
    expect(serialized.wire.subarray(serialized.readingsAt, serialized.readingsAt + json.length).equals(json)).toBe(true);
  });

  it("refuses a batch altered in any byte, signed by another key, on another gateway's topic, oversized or cut", () => {
    const signed = signBatch(body, privateKey);
    for (let i = 0; i < signed.wire.length; i += 7) {
      const altered = Buffer.from(signed.wire);
      altered[i] = altered[i]! ^ 0x20;
      expect(openBatch("gw-1", altered, () => publicKey).ok).toBe(false);
    }
    const other = loadPublicKey(generateGatewayKeys().publicKeyPem);
    expect(openBatch("gw-1", signed.wire, () => other)).toMatchObject({ ok: false, error: { code: "bad_signature" } });
    expect(openBatch("gw-2", signed.wire, () => publicKey)).toMatchObject({ ok: false, error: { code: "malformed" } });
    expect(openBatch("gw-1", signed.wire, () => undefined)).toMatchObject({ ok: false, error: { code: "unknown_gateway" } });
    expect(openBatch("gw-1", Buffer.alloc(MAX_BATCH_BYTES + 1), () => publicKey)).toMatchObject({
      ok: false,
      error: { code: "oversized" },
    });
    expect(openBatch("gw-1", signed.wire.subarray(0, signed.wire.length - 10), () => publicKey)).toMatchObject({
      ok: false,
      error: { code: "malformed" },
    });
  });

  it("never throws on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => {
        const r = openBatch("gw-1", bytes, () => publicKey);
        expect(r.ok).toBe(false);
      }),
      { numRuns: 1000 },
    );
  });
});

describe("readings of a received batch", () => {
  const good = body.readings[0];
  it("checks each reading in full against its kind's schema, with the reason", () => {
    expect(parseReading(good)).toMatchObject({ ok: true, value: good });
    const cases: Array<[unknown, string]> = [
      [null, "invalid_field"],
      [[good], "invalid_field"],
      ["heartbeat", "invalid_field"],
      [{ ...good, kind: "toString" }, "invalid_field"],
      [{ ...good, kind: "__proto__" }, "invalid_field"],
      [{ ...good, kind: undefined }, "invalid_field"],
      [{ ...good, rxTs: undefined }, "missing_field"],
      [{ ...good, rxTs: -1 }, "invalid_field"],
      [{ ...good, seq: 2 ** 32 }, "invalid_field"],
      [{ ...good, deviceId: "KP 1" }, "invalid_field"],
      [{ ...good, v: 2 }, "unsupported_version"],
      [{ ...good, extra: true }, "unknown_field"],
      [{ ...good, kind: "rating" }, "missing_field"],
    ];
    for (const [reading, code] of cases)
      expect(parseReading(reading), JSON.stringify(reading)).toMatchObject({ ok: false, error: { code } });
  });

  it("never throws on arbitrary JSON", () => {
    fc.assert(fc.property(fc.jsonValue(), (value) => typeof parseReading(value).ok === "boolean"));
    fc.assert(
      fc.property(
        fc.dictionary(fc.constantFrom("kind", "v", "deviceId", "seq", "ts", "rxTs", "intervalS", "uptimeS"), fc.jsonValue()),
        (value) => typeof parseReading(value).ok === "boolean",
      ),
    );
  });
});

describe("device payload validation", () => {
  it("never throws on arbitrary topics and payloads", () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 80 }),
        fc.oneof(fc.string({ maxLength: 500 }), fc.json(), fc.uint8Array({ maxLength: 500 })),
        (topic, payload) => {
          const r = validateDeviceMessage(topic, payload as string | Uint8Array, { now: NOW });
          if (!r.ok) expect(typeof r.error.code).toBe("string");
        },
      ),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.anything(), (value) => {
        let payload: string;
        try {
          payload = JSON.stringify({ v: 1, deviceId: "kp-1", seq: 1, ts: NOW, windowId: value });
        } catch {
          return;
        }
        const r = validateDeviceMessage(deviceTopics.event("kp-1", "rating"), payload ?? "", { now: NOW });
        expect(r.ok).toBe(false);
      }),
      { numRuns: 1000 },
    );
  });
});

describe("device credentials", () => {
  it("verifies the secret it hashed, and nothing else", async () => {
    const stored = hashSecret("s3cret-keypad");
    expect(stored).toMatch(/^scrypt\$/);
    expect(await verifySecret("s3cret-keypad", stored)).toBe(true);
    expect(await verifySecret("s3cret-keypaD", stored)).toBe(false);
    const hostile = [
      "",
      "scrypt$",
      "scrypt$1$1$1$$",
      "md5$abc",
      `scrypt$${"9".repeat(40)}$8$1$AAAA$AAAA`,
      "scrypt$16384$8$1$AAAA$AAAA",
      `scrypt$1024$100000$1$AAAA$AAAA`,
    ];
    for (const bad of hostile) expect(await verifySecret("x", bad), bad).toBe(false);
  });

  it("checks secrets off the event loop, so a reconnect storm does not stall it", async () => {
    const stored = hashSecret("s3cret-keypad");
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    // Had scrypt run on the loop, these would settle before any timer could fire.
    const results = await Promise.all(Array.from({ length: 4 }, () => verifySecret("s3cret-keypad", stored)));
    clearInterval(timer);
    expect(results).toEqual([true, true, true, true]);
    expect(ticks).toBeGreaterThan(0);
  });
});
