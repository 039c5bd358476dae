import { EVENT_KINDS, type EventKind } from "@supervision/firmware-protocols";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ReadingMemory } from "../src/ingest/arrivals.ts";

/** The same memory as a Set of identity texts, oldest first (what the hub used before). */
class ReferenceMemory {
  private readonly keys = new Set<string>();
  constructor(private readonly capacity: number) {}
  has(kind: string, deviceId: string, ts: number, seq: number): boolean {
    return this.keys.has(`${kind}/${deviceId}/${ts}/${seq % 1_000_000}`);
  }
  add(kind: string, deviceId: string, ts: number, seq: number): void {
    const key = `${kind}/${deviceId}/${ts}/${seq % 1_000_000}`;
    if (this.keys.has(key)) return;
    this.keys.add(key);
    if (this.keys.size > this.capacity) this.keys.delete(this.keys.values().next().value as string);
  }
}

const identity = fc.record({
  kind: fc.constantFrom(...EVENT_KINDS.filter((k) => k !== "heartbeat")),
  // Few devices and times, so identities repeat and collide in the table.
  deviceId: fc.constantFrom("kp1", "kp2", "cam-1", "门禁-1", "x"),
  ts: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.constantFrom(1_764_633_600_000, 2 ** 53 - 1, 4_294_967_296, 4_294_967_295)),
  seq: fc.oneof(fc.integer({ min: 0, max: 5 }), fc.constantFrom(1_000_000, 1_000_001, 0xffffffff)),
});

describe("ReadingMemory (first arrival wins)", () => {
  it("gives the verdicts of a Set of identity texts, through growth and eviction", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3000 }),
        fc.array(fc.array(identity, { maxLength: 60 }), { maxLength: 80 }),
        (capacity, batches) => {
          const memory = new ReadingMemory(capacity);
          const reference = new ReferenceMemory(capacity);
          for (const batch of batches) {
            const arrivals = memory.arrivals();
            const found = batch.filter((r) => {
              const isNew = memory.isNew(r.kind, r.deviceId, r.ts, r.seq, arrivals);
              expect(isNew).toBe(!reference.has(r.kind, r.deviceId, r.ts, r.seq));
              return isNew;
            });
            memory.remember(arrivals);
            // The reference remembers what the batch found new, in the same order.
            for (const r of found) reference.add(r.kind, r.deviceId, r.ts, r.seq);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it("tells identities apart by every part: kind, device, time and seq's last six digits", () => {
    const memory = new ReadingMemory(10);
    const arrivals = memory.arrivals();
    expect(memory.isNew("rating", "kp1", 1_764_633_600_000, 7, arrivals)).toBe(true);
    memory.remember(arrivals);
    const probe = memory.arrivals();
    expect(memory.isNew("rating", "kp1", 1_764_633_600_000, 7, probe)).toBe(false);
    expect(memory.isNew("rating", "kp1", 1_764_633_600_000, 1_000_007, probe)).toBe(false); // same point timestamp
    expect(memory.isNew("signin", "kp1", 1_764_633_600_000, 7, probe)).toBe(true);
    expect(memory.isNew("rating", "kp2", 1_764_633_600_000, 7, probe)).toBe(true);
    expect(memory.isNew("rating", "kp1", 1_764_633_600_001, 7, probe)).toBe(true);
    expect(memory.isNew("rating", "kp1", 1_764_633_600_000 + 2 ** 32, 7, probe)).toBe(true);
    expect(memory.isNew("rating", "kp1", 1_764_633_600_000, 8, probe)).toBe(true);
    expect(probe.size).toBe(5);
  });

  it("forgets the oldest first once full, and remembers a batch's identities only once", () => {
    const memory = new ReadingMemory(3);
    const a = memory.arrivals();
    for (let ts = 1; ts <= 3; ts++) memory.isNew("rating", "kp1", ts, 0, a);
    memory.remember(a);
    memory.remember(a); // a second time: nothing added twice
    expect(memory.size).toBe(3);
    const b = memory.arrivals();
    memory.isNew("rating", "kp1", 4, 0, b);
    memory.remember(b);
    const seen = (ts: number) => !memory.isNew("rating", "kp1", ts, 0, memory.arrivals());
    expect([1, 2, 3, 4].map(seen)).toEqual([false, true, true, true]);
  });

  it("forgets everything rather than grow past its device limit, and drops what was collected before", () => {
    const memory = new ReadingMemory(100, 4);
    const before = memory.arrivals();
    for (let d = 0; d < 4; d++) memory.isNew("rating", `kp${d}`, 1, 0, before);
    memory.remember(before);
    const after = memory.arrivals();
    expect(memory.isNew("rating", "kp0", 1, 0, after)).toBe(false);
    const stale = memory.arrivals();
    expect(memory.isNew("rating", "kp0", 2, 0, stale)).toBe(true);
    // A fifth device: the memory starts again (a made-up id per reading cannot grow the hub).
    expect(memory.isNew("rating", "other", 1, 0, memory.arrivals())).toBe(true);
    expect(memory.size).toBe(0);
    memory.remember(stale); // its device numbers belong to the old generation: ignored
    expect(memory.size).toBe(0);
    expect(memory.isNew("rating", "kp0", 1, 0, memory.arrivals())).toBe(true);
  });

  it("refuses a capacity that is not a positive integer", () => {
    expect(() => new ReadingMemory(0)).toThrow(/positive integer/);
    expect(() => new ReadingMemory(1.5)).toThrow(/positive integer/);
  });
});

// Every kind a reading memory can be asked about has a slot in its device word.
it("has a slot for every reading kind", () => {
  const memory = new ReadingMemory(20);
  const arrivals = memory.arrivals();
  for (const kind of EVENT_KINDS) expect(memory.isNew(kind as EventKind, "kp1", 1, 0, arrivals)).toBe(true);
  memory.remember(arrivals);
  for (const kind of EVENT_KINDS) expect(memory.isNew(kind as EventKind, "kp1", 1, 0, memory.arrivals())).toBe(false);
});
