import type { Reading } from "@supervision/firmware-protocols";
import { describe, expect, it } from "vitest";
import { readingTimestampNs, readingToPoint, retentionPolicyFor } from "../src/ingest/points.ts";
import { rating, testRegistry } from "./ingest-fixtures.ts";

const { registry } = testRegistry();
const T = 1_763_800_000_123;

describe("readingToPoint", () => {
  it("maps a rating with placement tags and counted fields; seq is a field", () => {
    const p = readingToPoint(rating(7, T), registry);
    expect(p).toEqual({
      measurement: "rating",
      timestamp: `${T}000007`,
      tags: {
        region: "r1",
        town: "t1",
        site: "hall1",
        window: "w1",
        department: "tax",
        clerk: "p1",
        device: "kp1",
        outcome: "rated",
        level: "very_satisfied",
        scale: "four",
      },
      fields: { seq: 7, rx_ts: T + 5, key: 1, txn: "", rated: 1, positive: 1, negative: 0 },
    });
  });

  it("a timeout has no level tag nor key, and an unsolicited press counts in neither rate", () => {
    const timeout = readingToPoint(rating(1, T, { outcome: "timeout", key: undefined, level: undefined }), registry);
    expect(timeout).toMatchObject({ tags: { outcome: "timeout" }, fields: { rated: 0, positive: 0, negative: 0 } });
    expect("level" in (timeout as { tags: object }).tags).toBe(false);
    const unsolicited = readingToPoint(rating(2, T, { outcome: "unsolicited", key: 4, level: "dissatisfied" }), registry);
    expect(unsolicited).toMatchObject({ fields: { rated: 0, positive: 0, negative: 0 } });
  });

  it("two readings of one device in the same millisecond get two timestamps; a replay the same one", () => {
    const a = readingToPoint(rating(1_000_001, T), registry) as { timestamp: string };
    const b = readingToPoint(rating(1_000_002, T), registry) as { timestamp: string };
    expect(a.timestamp).not.toBe(b.timestamp);
    expect(readingToPoint(rating(1_000_001, T), registry)).toEqual(a);
    expect(readingTimestampNs(T, 1_000_001)).toBe(`${T}000001`);
  });

  it("keeps a reading of an unknown device with the tags it has", () => {
    const p = readingToPoint(rating(3, T, { deviceId: "ghost", windowId: "nowhere", clerkId: undefined }), registry);
    expect(p).toMatchObject({ measurement: "rating", tags: { device: "ghost", window: "nowhere" } });
    expect("site" in (p as { tags: object }).tags).toBe(false);
  });

  it("maps sign-ins with role, window, delay and a suspect clock", () => {
    const r = {
      kind: "signin",
      v: 1,
      deviceId: "term1",
      seq: 5,
      ts: T,
      rxTs: T + 90_000,
      personId: "p1",
      method: "face",
      direction: "in",
    } as Reading;
    expect(readingToPoint(r, registry)).toEqual({
      measurement: "signin",
      timestamp: `${T}000005`,
      tags: {
        region: "r1",
        town: "t1",
        site: "hall1",
        site_kind: "hall",
        person: "p1",
        role: "clerk",
        window: "w1",
        device: "term1",
        method: "face",
        direction: "in",
      },
      fields: { seq: 5, rx_ts: T + 90_000, delay_s: 90, time_suspect: false },
    });
    const ahead = readingToPoint({ ...r, rxTs: T - 120_000 } as Reading, registry);
    expect(ahead).toMatchObject({ fields: { time_suspect: true } });
    // An ADMS terminal found 6 hours behind: its time is kept, the offset recorded, the sign-in flagged.
    const behind = readingToPoint({ ...r, clockOffsetS: -21_600 } as Reading, registry);
    expect(behind).toMatchObject({ timestamp: `${T}000005`, fields: { clock_offset_s: -21_600, time_suspect: true } });
    const slight = readingToPoint({ ...r, clockOffsetS: 30 } as Reading, registry);
    expect(slight).toMatchObject({ fields: { clock_offset_s: 30, time_suspect: false } });
  });

  it("maps motion and heartbeat; heartbeat goes to the health policy", () => {
    const m = {
      kind: "motion",
      v: 1,
      deviceId: "cam1",
      seq: 1,
      ts: T,
      rxTs: T,
      cameraId: "cam1",
      state: "start",
      source: "onvif",
    } as Reading;
    expect(readingToPoint(m, registry)).toMatchObject({
      measurement: "motion",
      tags: { site: "hall1", window: "w1", camera: "cam1", state: "start", source: "onvif" },
      fields: { active: 1 },
    });
    const sha = "a".repeat(64);
    expect(readingToPoint({ ...m, state: "end", snapshotSha256: sha } as Reading, registry)).toMatchObject({
      fields: { active: 0, snapshot_sha256: sha },
    });
    expect(readingToPoint({ ...m, snapshotSha256: "not-a-hash" } as Reading, registry)).toHaveProperty("error");
    const h = { kind: "heartbeat", v: 1, deviceId: "kp1", seq: 9, ts: T, rxTs: T, intervalS: 60, uptimeS: 100, rssi: -50 } as Reading;
    expect(readingToPoint(h, registry)).toMatchObject({
      measurement: "heartbeat",
      tags: { site: "hall1", device: "kp1", device_kind: "keypad" },
      fields: { seq: 9, uptime_s: 100, interval_s: 60, rssi: -50 },
    });
    expect(retentionPolicyFor("heartbeat")).toBe("health");
    expect(retentionPolicyFor("rating")).toBe("raw");
  });

  it("returns a typed error for malformed, hostile and unknown readings, never throws", () => {
    const bad: unknown[] = [
      rating(1, T, { level: "ecstatic" }),
      rating(1, T, { windowId: "../../etc" }),
      rating(1, T, { extra: "x".repeat(10_000) }),
      { kind: "signin", deviceId: "term1", seq: 1, ts: T, rxTs: T },
      { kind: "teleport", deviceId: "kp1", seq: 1, ts: T, rxTs: T },
      { kind: "rating", deviceId: "kp1", seq: 1, ts: T, rxTs: T, __proto__: { windowId: "w1" } },
    ];
    for (const r of bad) {
      const p = readingToPoint(r as Reading, registry);
      expect(p).toMatchObject({ error: { code: "malformed" } });
    }
  });
});
