import { OldestTimeIndex } from "./oldest-index.ts";
import type { Statements } from "./statements.ts";

/** An unacknowledged batch as the counters see it. */
export interface BatchSummary {
  /** Device time of its oldest reading. */
  oldestTs: number;
  count: number;
  bytes: number;
}

/**
 * What the buffer holds, kept in memory (restored from the database at open and after a failed transaction), so
 * stats() and the hot paths read no counters from disk. Waiting readings are the unsealed ones (id > sealedTo) and
 * those of the sealed batches not yet acknowledged; every other row is a delivered reading kept to refuse late
 * duplicates (see delivered-memory.ts).
 */
export class BufferState {
  /** Readings waiting (unsealed, or in an unacknowledged batch), and their JSON bytes. */
  depth = 0;
  bytes = 0;
  /** Waiting readings in no batch yet. */
  unbatched = 0;
  deadLetters = 0;
  thinned = 0;
  /** Readings with id <= sealedTo are in a batch (or delivered); the rest wait. */
  sealedTo = 0;
  /** Ids are given here, never by SQLite: it would reuse ids of rows trimmed at the top of an emptied table. */
  nextId = 1;
  /** The unacknowledged batches by seq. */
  readonly batches = new Map<number, BatchSummary>();
  readonly oldestUnsealed = new OldestTimeIndex();

  constructor(private readonly q: Statements) {
    this.restore();
  }

  /** Reads the state back from the database. */
  restore(): void {
    const q = this.q;
    this.sealedTo = Number(q.getMeta.get("sealed_to"));
    const unsealed = q.unsealedTotals.get(this.sealedTo) as { count: number; bytes: number; maxId: number | null };
    this.batches.clear();
    for (const b of q.batchOldest.all() as ({ seq: number } & BatchSummary)[]) this.batches.set(b.seq, b);
    this.unbatched = unsealed.count;
    this.depth = unsealed.count;
    this.bytes = unsealed.bytes;
    for (const b of this.batches.values()) {
      this.depth += b.count;
      this.bytes += b.bytes;
    }
    this.nextId = Math.max((q.maxId.get() as number | null) ?? 0, this.sealedTo) + 1;
    this.deadLetters = q.deadCount.get() as number;
    this.thinned = q.thinned.get() as number;
    this.oldestUnsealed.reset(this.sealedTo, unsealed.maxId);
  }

  /** Runs a transaction that changes this state; if it fails, the state is read back from the database. */
  guarded<T>(run: () => T): T {
    try {
      return run();
    } catch (error) {
      try {
        this.restore();
      } catch {
        // The database cannot even be read: the first error says why.
      }
      throw error;
    }
  }

  /** Device time of the oldest waiting reading, or null when none waits. */
  oldestTs(): number | null {
    if (this.depth === 0) return null;
    let oldest = this.oldestUnsealed.oldest(this.sealedTo, (from, to) => this.q.blockOldest.get(from, to) as number | null);
    for (const b of this.batches.values()) if (oldest === null || b.oldestTs < oldest) oldest = b.oldestTs;
    return oldest;
  }
}
