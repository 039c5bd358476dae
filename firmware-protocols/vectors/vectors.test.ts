import { createHash, verify } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadPublicKey, openBatch, parseBatchReading, parseReading, readingFromRow, validateDeviceMessage } from "../src/index.ts";
import { decodeEventFrame, FrameDecoder } from "../src/serial/index.ts";

const load = (file: string) => JSON.parse(readFileSync(join(import.meta.dirname, file), "utf8"));
const mqtt = load("mqtt-payloads.json") as {
  now: number;
  retentionDays: Record<string, number>;
  cases: { name: string; topic: string; payload: string; expect: { ok: boolean; code?: string; event?: unknown } }[];
};
const serial = load("serial-frames.json") as {
  now: number;
  cases: {
    name: string;
    chunks: string[];
    end?: boolean;
    deviceId?: string;
    expect: unknown[];
    event?: { ok: boolean; code?: string; event?: unknown };
  }[];
};

const readings = load("uplink-readings.json") as {
  cases: { name: string; reading: unknown; expect: { ok: boolean; code?: string; path?: string } }[];
};

const rows = load("uplink-rows.json") as {
  layout: 1;
  cases: { name: string; row: unknown; expect: { ok: boolean; code?: string; path?: string; reading?: unknown } }[];
};

const batches = load("uplink-batches.json") as {
  gatewayId: string;
  publicKeyPem: string;
  v3Context: string;
  cases: {
    name: string;
    wire: string;
    expect: { ok: boolean; v?: number; hash?: string; readings?: number; code?: string; path?: string };
  }[];
};

describe("test vectors", () => {
  it("are at least 40, valid and invalid, covering every required error", () => {
    expect(mqtt.cases.length + serial.cases.length).toBeGreaterThanOrEqual(40);
    const codes = new Set([
      ...mqtt.cases.map((c) => c.expect.code),
      ...serial.cases.flatMap((c) => [...(c.expect as { code?: string }[]).map((e) => e.code), c.event?.code]),
    ]);
    for (const code of [
      "bad_crc",
      "truncated",
      "bad_length",
      "unknown_command",
      "bad_level",
      "missing_field",
      "future_timestamp",
      "oversized",
      "invalid_field",
      "unknown_field",
      "beyond_retention",
    ])
      expect(codes).toContain(code);
  });

  it.each(readings.cases.map((c) => [c.name, c] as const))("uplink reading: %s", (_name, c) => {
    const result = parseReading(c.reading);
    expect(result.ok ? { ok: true } : { ok: false, code: result.error.code, path: result.error.path }).toEqual(c.expect);
  });

  it.each(rows.cases.map((c) => [c.name, c] as const))("uplink v2 row: %s", (_name, c) => {
    const result = parseBatchReading({ v: 2, layout: rows.layout }, c.row);
    const decoded = readingFromRow(c.row, rows.layout);
    expect(
      result.ok
        ? { ok: true, reading: decoded.ok ? decoded.value : undefined }
        : { ok: false, code: result.error.code, path: result.error.path },
    ).toEqual(c.expect);
  });

  it("v2 row vectors cover every way a row is refused", () => {
    const codes = new Set(rows.cases.map((c) => c.expect.code));
    for (const code of ["missing_field", "unknown_field", "invalid_field", "bad_level"]) expect(codes).toContain(code);
  });

  it.each(mqtt.cases.map((c) => [c.name, c] as const))("MQTT: %s", (_name, c) => {
    const result = validateDeviceMessage(c.topic, c.payload, { now: mqtt.now, retentionDays: mqtt.retentionDays });
    expect(result.ok ? { ok: true, event: result.value } : { ok: false, code: result.error.code }).toEqual(c.expect);
  });

  it.each(serial.cases.map((c) => [c.name, c] as const))("serial: %s", (_name, c) => {
    const decoder = new FrameDecoder();
    const results = [...c.chunks.flatMap((h) => decoder.push(Buffer.from(h, "hex"))), ...(c.end ? decoder.end() : [])];
    expect(
      results.map((r) =>
        r.ok
          ? {
              ok: true,
              frame: {
                address: r.value.address,
                command: r.value.command,
                seq: r.value.seq,
                payload: Buffer.from(r.value.payload).toString("hex"),
              },
            }
          : { ok: false, code: r.error.code },
      ),
    ).toEqual(c.expect);
    if (c.deviceId) {
      const frame = results.find((r) => r.ok);
      if (!frame?.ok) throw new Error("vector expects an event but has no frame");
      const decoded = decodeEventFrame(frame.value, c.deviceId, { now: serial.now });
      expect(decoded.ok ? { ok: true, event: decoded.value } : { ok: false, code: decoded.error.code }).toEqual(c.event);
    }
  });

  it.each(batches.cases.map((c) => [c.name, c] as const))("uplink batch: %s", (_name, c) => {
    const key = loadPublicKey(batches.publicKeyPem);
    const opened = openBatch(batches.gatewayId, Buffer.from(c.wire), () => key);
    expect(
      opened.ok
        ? { ok: true, v: opened.value.body.v, hash: opened.value.hash, readings: opened.value.body.readings.length }
        : { ok: false, code: opened.error.code, ...("path" in opened.error && opened.error.path ? { path: opened.error.path } : {}) },
    ).toEqual(c.expect);
  });

  it("uplink batch v3: the signature is over the context text and the body's SHA-256, as PROTOCOL.md 4.3 says", () => {
    const v3 = batches.cases.find((c) => c.expect.ok && c.expect.v === 3)!;
    const lf = v3.wire.lastIndexOf("\n");
    const digest = createHash("sha256").update(v3.wire.slice(0, lf)).digest();
    expect(digest.toString("hex")).toBe(v3.expect.hash);
    const message = Buffer.concat([Buffer.from(batches.v3Context, "ascii"), digest]);
    expect(message).toHaveLength(61);
    expect(verify(null, message, loadPublicKey(batches.publicKeyPem), Buffer.from(v3.wire.slice(lf + 1), "base64"))).toBe(true);
  });
});
