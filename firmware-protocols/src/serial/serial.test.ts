import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { DeviceCommand } from "../commands.ts";
import type { DeviceEvent } from "../events.ts";
import { crc16modbus, decodeFrame, encodeFrame, FrameDecoder, MAX_PAYLOAD } from "./frame.ts";
import { decodeCommandFrame, decodeEventFrame, encodeCommandFrame, encodeEventFrame } from "./payload.ts";

const NOW = Date.UTC(2026, 10, 23, 2, 0);
const TS = NOW - 1000;

describe("CRC-16/MODBUS", () => {
  it("gives the catalogue check value for '123456789'", () => {
    expect(crc16modbus(Buffer.from("123456789"))).toBe(0x4b37);
    expect(crc16modbus(new Uint8Array())).toBe(0xffff);
  });
});

describe("frames", () => {
  it("are laid out byte by byte as PROTOCOL.md says (the worked example)", () => {
    const poll = encodeFrame({ address: 3, command: 0x01, seq: 17, payload: new Uint8Array() });
    // CRC-16/MODBUS over 03 03 01 11 is 0xFC31 (computed independently), sent low byte first.
    expect(poll.toString("hex")).toBe("a503030111" + "31fc");
  });

  it("refuse to encode what does not fit", () => {
    expect(() => encodeFrame({ address: 3, command: 0x01, seq: 0, payload: new Uint8Array(MAX_PAYLOAD + 1) })).toThrow(/at most 252/);
    expect(() => encodeFrame({ address: 248, command: 0x01, seq: 0, payload: new Uint8Array() })).toThrow(/0\.\.247/);
    expect(decodeFrame(new Uint8Array(400)).ok).toBe(false);
  });

  const events: DeviceEvent[] = [
    {
      kind: "rating",
      v: 1,
      deviceId: "kp-1",
      seq: 4_000_000_000,
      ts: TS,
      windowId: "w1",
      clerkId: "c1",
      txnId: "T-1",
      outcome: "rated",
      scale: "four",
      key: 2,
      level: "satisfied",
    },
    { kind: "rating", v: 1, deviceId: "kp-1", seq: 1, ts: TS, windowId: "w1", outcome: "timeout", scale: "five" },
    {
      kind: "signin",
      v: 1,
      deviceId: "kp-1",
      seq: 2,
      ts: TS,
      personId: "p-1",
      method: "pin",
      direction: "out",
      location: { lat: -33.8688, lon: 151.2093, accuracyM: 12 },
    },
    { kind: "motion", v: 1, deviceId: "kp-1", seq: 3, ts: TS, cameraId: "cam-1", state: "end", source: "ai" },
    { kind: "heartbeat", v: 1, deviceId: "kp-1", seq: 4, ts: TS, intervalS: 30, uptimeS: 12, fw: "1.0", rssi: -90, pending: 0 },
  ];
  it.each(events.map((e) => [e.kind, e] as const))("carry every field of a %s event", (_k, event) => {
    const frame = decodeFrame(encodeEventFrame(event, 9, 200));
    if (!frame.ok) throw new Error(frame.error.message);
    expect(frame.value).toMatchObject({ address: 9, seq: 200 });
    expect(decodeEventFrame(frame.value, "kp-1", { now: NOW })).toEqual({ ok: true, value: event });
  });

  const commands: DeviceCommand[] = [
    {
      name: "display",
      payload: { v: 1, cmdId: "c", ts: NOW, windowId: "w1", clerk: { id: "c1", name: "李娜", post: "税务", photoUrl: "https://x/y.jpg" } },
    },
    { name: "prompt", payload: { v: 1, cmdId: "c", ts: NOW, windowId: "w1", txnId: "T-1", timeoutS: 30 } },
    { name: "time", payload: { v: 1, cmdId: "c", ts: NOW, tz: "Asia/Shanghai" } },
    { name: "config", payload: { v: 1, cmdId: "c", ts: NOW, heartbeatS: 60 } },
  ];
  it.each(commands.map((c) => [c.name, c] as const))("carry a %s command", (_n, command) => {
    const frame = decodeFrame(encodeCommandFrame(command, 4, 1));
    if (!frame.ok) throw new Error(frame.error.message);
    expect(decodeCommandFrame(frame.value)).toEqual({ ok: true, value: command });
  });
});

describe("decoders never throw", () => {
  const good = encodeEventFrame(
    {
      kind: "rating",
      v: 1,
      deviceId: "kp-1",
      seq: 1,
      ts: TS,
      windowId: "w1",
      outcome: "rated",
      scale: "four",
      key: 1,
      level: "very_satisfied",
    },
    3,
    1,
  );

  it("on random bytes: every result is a frame or a typed error", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }), (chunks) => {
        const decoder = new FrameDecoder();
        const results = [...chunks.flatMap((c) => decoder.push(c)), ...decoder.end()];
        for (const r of results) {
          if (r.ok) {
            expect(decodeEventFrame(r.value, "kp-1", { now: NOW }).ok !== undefined).toBe(true);
            expect(decodeCommandFrame(r.value).ok !== undefined).toBe(true);
          } else expect(["bad_start", "bad_length", "truncated", "bad_crc", "unknown_command"]).toContain(r.error.code);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("finds the next good frame after arbitrary noise, however the bytes are chunked", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 1, max: 64 }), (noise, chunkSize) => {
        const stream = Buffer.concat([noise, good, good]);
        const decoder = new FrameDecoder();
        const results = [];
        for (let i = 0; i < stream.length; i += chunkSize) results.push(...decoder.push(stream.subarray(i, i + chunkSize)));
        results.push(...decoder.end());
        const frames = results.filter((r) => r.ok);
        // Noise may swallow at most the first copy (a false start whose length spans into it); the second always survives.
        expect(frames.length).toBeGreaterThanOrEqual(1);
        expect(
          Buffer.from((frames[frames.length - 1] as { value: { payload: Uint8Array } }).value.payload).equals(
            good.subarray(5, good.length - 2),
          ),
        ).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it("on mutated good frames: the frame, or a typed error, never an exception", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: good.length - 1 }), fc.integer({ min: 0, max: 255 }), (at, byte) => {
        const bytes = Buffer.from(good);
        bytes[at] = byte;
        const decoder = new FrameDecoder();
        for (const r of [...decoder.push(bytes), ...decoder.end()]) if (r.ok) decodeEventFrame(r.value, "kp-1", { now: NOW });
      }),
      { numRuns: 3000 },
    );
  });

  it("on frames with valid CRCs around random payloads", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(0x10, 0x11, 0x12, 0x13, 0x20, 0x21, 0x22, 0x23),
        fc.uint8Array({ maxLength: MAX_PAYLOAD }),
        (command, payload) => {
          const frame = decodeFrame(encodeFrame({ address: 1, command: command as 0x10, seq: 0, payload }));
          expect(frame.ok).toBe(true);
          if (!frame.ok) return;
          const event = decodeEventFrame(frame.value, "kp-1", { now: NOW });
          const cmd = decodeCommandFrame(frame.value);
          for (const r of [event, cmd]) if (!r.ok) expect(typeof r.error.code).toBe("string");
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe("PROTOCOL.md", () => {
  it("shows the bytes the codec actually produces in its worked examples", async () => {
    const { readFileSync } = await import("node:fs");
    const doc = readFileSync(new URL("../../PROTOCOL.md", import.meta.url), "utf8");
    const poll = encodeFrame({ address: 3, command: 0x01, seq: 0x11, payload: new Uint8Array() });
    expect(doc).toContain(
      `On the wire: \`${poll
        .toString("hex")
        .toUpperCase()
        .replace(/(..)(?!$)/g, "$1 ")}\``,
    );
    const block = doc.slice(doc.indexOf("A5 2E 03 10 12"), doc.indexOf("CRC 0x7BF5"));
    const bytes = block
      .split("\n")
      .map((line) => line.split(/\s{2,}/)[0]!.trim())
      .join(" ")
      .split(/\s+/)
      .filter((b) => /^[0-9A-F]{2}$/.test(b));
    const rating = encodeEventFrame(
      {
        kind: "rating",
        v: 1,
        deviceId: "kp-w01",
        seq: 101,
        ts: 1795399140000,
        windowId: "w01",
        clerkId: "clerk-01",
        txnId: "T-20261123-0042",
        outcome: "rated",
        scale: "four",
        key: 1,
        level: "very_satisfied",
      },
      3,
      0x12,
    );
    expect(bytes.join("")).toBe(rating.toString("hex").toUpperCase());
  });
});
