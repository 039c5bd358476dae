import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type GatewayDevice, parseReading, type Reading } from "@supervision/firmware-protocols";
import { afterEach, describe, expect, it } from "vitest";
import type { ReadingSink } from "../buffer/types.ts";
import { isLowPriority, SealPriority } from "./seal-priority.ts";
import { PresenceTracker, presenceSink } from "./presence.ts";

const T0 = Date.UTC(2026, 11, 3, 8, 0); // a period boundary (10 minutes)
const keypad: GatewayDevice = { id: "kp-1", kind: "keypad", windowId: "w1", heartbeatS: 30 };
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A sink that keeps what it is given, refusing a reading it already has (as the buffer does). */
function memorySink() {
  const readings: Reading[] = [];
  const sink: ReadingSink = {
    async append(r) {
      if (readings.some((x) => x.kind === r.kind && x.deviceId === r.deviceId && x.seq === r.seq && x.ts === r.ts)) return "duplicate";
      readings.push(r);
      return "stored";
    },
    async deadLetter() {},
  };
  return { sink, readings };
}

function setup(dataDir?: string, readings: ReturnType<typeof memorySink> = memorySink(), start = T0) {
  const clock = { t: start };
  const tracker = new PresenceTracker({ sink: readings.sink, dataDir, summaryMs: 600_000, now: () => clock.t });
  tracker.setDevices([keypad]);
  let seq = 100;
  /** A heartbeat sent and received at the clock's time (device and gateway clocks agree). */
  const beat = () =>
    tracker.heartbeat({
      kind: "heartbeat",
      deviceId: "kp-1",
      seq: seq++,
      ts: clock.t,
      rxTs: clock.t,
      intervalS: 30,
      uptimeS: 1,
    } as Reading & { intervalS: number });
  /** Advances the clock second by second, the tracker's timer ticking, with a heartbeat every 30 s while `alive`. */
  const run = async (untilMs: number, alive: boolean) => {
    while (clock.t < untilMs) {
      clock.t += 1000;
      if (alive && (clock.t - T0) % 30_000 === 0) await beat();
      await tracker.tick();
    }
  };
  return { ...readings, tracker, clock, beat, run };
}

describe("heartbeat presence at the gateway", () => {
  it("reports a scripted outage exactly: online, offline 2.5 intervals after the last heartbeat, online, a summary with the gap", async () => {
    const { tracker, beat, run, readings } = setup();
    expect(await beat()).toBe("stored");
    await run(T0 + 120_000, true); // heartbeats at 0, 30, 60, 90, 120 s
    await run(T0 + 300_000, false); // silent from 120 s to 300 s
    await run(T0 + 600_000, true); // back at 330 s (the first heartbeat after the clock passes 300 s)
    await tracker.close();
    for (const r of readings) expect(parseReading(r), JSON.stringify(r)).toMatchObject({ ok: true });
    expect(readings.map((r) => ({ ...r }))).toEqual([
      { kind: "presence", deviceId: "kp-1", seq: 1, ts: T0, rxTs: T0, type: "online", intervalS: 30, lastSeenTs: T0 },
      {
        kind: "presence",
        deviceId: "kp-1",
        seq: 2,
        ts: T0 + 195_000,
        rxTs: T0 + 195_000,
        type: "offline",
        intervalS: 30,
        lastSeenTs: T0 + 120_000,
      },
      {
        kind: "presence",
        deviceId: "kp-1",
        seq: 3,
        ts: T0 + 330_000,
        rxTs: T0 + 330_000,
        type: "online",
        intervalS: 30,
        lastSeenTs: T0 + 330_000,
      },
      {
        kind: "presence",
        deviceId: "kp-1",
        seq: 4,
        ts: T0 + 600_000,
        rxTs: T0 + 600_000,
        type: "summary",
        intervalS: 30,
        fromTs: T0,
        toTs: T0 + 600_000,
        // 0..120 s: 5; 330..600 s: 10
        count: 15,
        firstSeenTs: T0,
        lastSeenTs: T0 + 600_000,
        gaps: [{ fromTs: T0 + 120_000, toTs: T0 + 330_000 }],
        state: "online",
      },
    ]);
    expect(tracker.made).toEqual({ online: 2, offline: 1, summary: 1 });
  });

  it("a heartbeat sent again (its PUBACK lost) is a duplicate and counts once", async () => {
    const { tracker, readings } = setup();
    const hb = { kind: "heartbeat", deviceId: "kp-1", seq: 5, ts: T0, rxTs: T0, intervalS: 30, uptimeS: 1 } as Reading & {
      intervalS: number;
    };
    expect(await tracker.heartbeat(hb)).toBe("stored");
    expect(await tracker.heartbeat(hb)).toBe("duplicate");
    expect(tracker.states().get("kp-1")).toEqual({ state: "online", lastSeenTs: T0, count: 1 });
    expect(readings).toHaveLength(1);
    await tracker.close();
  });

  it("a silence the gateway did not see end (it was down) is reported when the next heartbeat comes, at its moments", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gw-presence-"));
    dirs.push(dir);
    const first = setup(dir);
    await first.beat();
    await first.tracker.close();
    // The gateway restarts 5 minutes later; its state is read back from presence.db.
    const second = setup(dir, { sink: first.sink, readings: first.readings }, T0 + 300_000);
    await second.tracker.tick();
    expect(second.readings.filter((r) => (r as { type?: string }).type === "offline")).toEqual([]); // the timer restarts with the gateway
    expect(
      await second.tracker.heartbeat({
        kind: "heartbeat",
        deviceId: "kp-1",
        seq: 200,
        ts: T0 + 300_000,
        rxTs: T0 + 300_000,
        intervalS: 30,
        uptimeS: 1,
      } as Reading & { intervalS: number }),
    ).toBe("stored");
    expect(second.readings.slice(1).map((r) => [(r as { type?: string }).type, r.seq, r.ts])).toEqual([
      ["offline", 2, T0 + 75_000],
      ["online", 3, T0 + 300_000],
    ]);
    await second.tracker.close();
  });

  it("a report made again after a crash before its state was written is the same reading (the buffer refuses it)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gw-presence-"));
    dirs.push(dir);
    const a = setup(dir);
    await a.beat();
    await a.tracker.close();
    const b = setup(dir, { sink: a.sink, readings: a.readings }, T0 + 600_000);
    // Its state is written after the summary is buffered; the crash is simulated by a second tracker on the old state.
    const c = new PresenceTracker({ sink: a.sink, dataDir: dir, summaryMs: 600_000, now: () => b.clock.t });
    c.setDevices([keypad]);
    await b.tracker.tick();
    await c.tick();
    expect(a.readings.filter((r) => (r as { type?: string }).type === "summary")).toHaveLength(1);
    await b.tracker.close();
    await c.close();
  });

  it("passes every other reading through, and a refused write leaves the state as it was (the device sends again)", async () => {
    const { sink, readings } = memorySink();
    let fail = true;
    const failing: ReadingSink = {
      append: (r) => (fail ? Promise.reject(new Error("disk full")) : sink.append(r)),
      deadLetter: sink.deadLetter,
    };
    const tracker = new PresenceTracker({ sink: failing, summaryMs: 600_000, now: () => T0 });
    tracker.setDevices([keypad]);
    const through = presenceSink(sink, tracker);
    const rating = { kind: "rating", deviceId: "kp-1", seq: 1, ts: T0, rxTs: T0 } as Reading;
    expect(await through.append(rating)).toBe("stored");
    const hb = { kind: "heartbeat", deviceId: "kp-1", seq: 9, ts: T0, rxTs: T0, intervalS: 30, uptimeS: 1 } as Reading;
    await expect(through.append(hb)).rejects.toThrow("disk full");
    expect(tracker.states().size).toBe(0);
    fail = false;
    expect(await through.append(hb)).toBe("stored");
    expect(readings.map((r) => [r.kind, (r as { type?: string }).type ?? ""])).toEqual([
      ["rating", ""],
      ["presence", "online"],
    ]);
    await tracker.close();
  });

  it("seals heartbeats and summaries late, everything else at once", () => {
    const priority = new SealPriority();
    const { sink } = memorySink();
    const s = priority.sink(sink);
    void s.append({ kind: "presence", deviceId: "kp-1", seq: 1, ts: T0, rxTs: T0, type: "summary" } as Reading);
    void s.append({ kind: "heartbeat", deviceId: "kp-2", seq: 1, ts: T0, rxTs: T0 } as Reading);
    expect(priority.urgentWaiting()).toBe(false);
    void s.append({ kind: "presence", deviceId: "kp-1", seq: 2, ts: T0, rxTs: T0, type: "offline" } as Reading);
    expect(priority.urgentWaiting()).toBe(true);
    priority.sealed();
    expect(priority.urgentWaiting()).toBe(false);
    for (const kind of ["rating", "signin", "item", "queue", "motion"] as const)
      expect(isLowPriority({ kind } as Reading), kind).toBe(false);
  });
});
