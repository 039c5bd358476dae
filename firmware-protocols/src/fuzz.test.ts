/**
 * Fuzzing of the protocol's decoders: whatever arrives, each answers a Result with a stable code (never throws,
 * never accepts garbage silently). A fixed small budget in CI; FUZZ_RUNS=100000 for a long run on demand.
 */
import { createPrivateKey } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { generateGatewayKeys, loadPublicKey, openBatch, parseReading, signBatch } from "./envelope.ts";
import { PAYLOAD_ERROR_CODES } from "./errors.ts";
import { GatewayConfig } from "./gateway-config.ts";
import { decodeCommandFrame, decodeEventFrame, FrameDecoder } from "./serial/index.ts";
import { validateDeviceMessage, validateDeviceStatus } from "./validate.ts";

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const NOW = Date.UTC(2026, 10, 23, 2, 0, 0);
const CODES = new Set<string>(PAYLOAD_ERROR_CODES);

/** JSON-ish device payloads: near-valid ratings with fields of any type, and arbitrary JSON and bytes. */
const payload = fc.oneof(
  fc
    .record(
      {
        v: fc.oneof(fc.constant(1), fc.anything()),
        deviceId: fc.oneof(fc.constant("kp-1"), fc.string()),
        seq: fc.oneof(fc.nat(), fc.anything()),
        ts: fc.oneof(fc.constant(NOW - 1000), fc.integer(), fc.anything()),
        windowId: fc.oneof(fc.constant("w1"), fc.anything()),
        outcome: fc.oneof(fc.constantFrom("rated", "timeout", "unsolicited"), fc.anything()),
        scale: fc.oneof(fc.constantFrom("four", "five"), fc.anything()),
        key: fc.oneof(fc.integer({ min: 0, max: 6 }), fc.anything()),
        level: fc.oneof(fc.constantFrom("very_satisfied", "satisfied", "dissatisfied"), fc.anything()),
      },
      { requiredKeys: [] },
    )
    .map((o) => JSON.stringify(o)),
  fc.json(),
  fc.string(),
  fc.uint8Array({ maxLength: 5000 }).map((b) => Buffer.from(b).toString("latin1")),
);
const topic = fc.oneof(
  fc.constantFrom("sv/v1/dev/kp-1/evt/rating", "sv/v1/dev/kp-1/evt/heartbeat", "sv/v1/dev/kp-1/status", "sv/v1/dev/kp-1/evt/x"),
  fc.string(),
);

describe("fuzzing the decoders", () => {
  it("device messages: a known code or a valid event, never a throw", () => {
    fc.assert(
      fc.property(topic, payload, (t, p) => {
        const r = validateDeviceMessage(t, p, { now: NOW, retentionDays: { heartbeat: 30 } });
        if (!r.ok) expect(CODES.has(r.error.code)).toBe(true);
        else expect(r.value.deviceId).toBe("kp-1");
        const s = validateDeviceStatus(p);
        if (!s.ok) expect(CODES.has(s.error.code)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it("readings of a batch: parseReading answers a known code for anything", () => {
    fc.assert(
      fc.property(fc.anything(), (reading) => {
        const r = parseReading(reading);
        if (!r.ok) expect(CODES.has(r.error.code)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it("batch envelopes: openBatch refuses altered and random wires with a code", () => {
    const keys = generateGatewayKeys();
    const key = loadPublicKey(keys.publicKeyPem);
    const good = signBatch(
      { v: 1, gatewayId: "gw1", epoch: "0123456789abcdef", seq: 1, prevHash: "0".repeat(64), createdAt: NOW, readings: [] },
      createPrivateKey(keys.privateKeyPem),
    ).wire;
    fc.assert(
      fc.property(
        fc.oneof(fc.uint8Array({ maxLength: 2000 }), fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 1, max: 255 }))),
        (input) => {
          const wire = Array.isArray(input) ? Buffer.from(good) : Buffer.from(input);
          if (Array.isArray(input)) wire[input[0]] = (wire[input[0]] as number) ^ input[1];
          const r = openBatch("gw1", wire, () => key);
          expect(r.ok).toBe(false);
          if (!r.ok) expect(typeof r.error.code).toBe("string");
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("serial byte streams: frames or coded errors, events and commands decoded without a throw", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }), (chunks) => {
        const decoder = new FrameDecoder();
        const results = [...chunks.flatMap((c) => decoder.push(Buffer.from(c))), ...decoder.end()];
        for (const r of results) {
          if (!r.ok) {
            expect(typeof r.error.code).toBe("string");
            continue;
          }
          const e = decodeEventFrame(r.value, "kp-1", { now: NOW });
          if (!e.ok) expect(typeof e.error.code).toBe("string");
          const c = decodeCommandFrame(r.value);
          if (!c.ok) expect(typeof c.error.code).toBe("string");
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("gateway configs: hostile input is refused by the schema, never crashes it", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.anything(),
          fc.json().map((j) => JSON.parse(j) as unknown),
        ),
        (input) => {
          const r = GatewayConfig.safeParse(input);
          expect(typeof r.success).toBe("boolean");
        },
      ),
      { numRuns: RUNS },
    );
  });
});
