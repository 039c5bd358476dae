import type Database from "better-sqlite3";
import type { Capacity } from "./capacity.ts";
import type { DeadLetters } from "./dead-letters.ts";
import type { DeliveredMemory } from "./delivered-memory.ts";
import type { BufferState } from "./state.ts";
import type { Statements } from "./statements.ts";
import type { ChainHead, SealedBatch, Sealer } from "./types.ts";
import { splitWireAt } from "./wire-parts.ts";

interface BatchRow {
  seq: number;
  epoch: string;
  hash: string;
  firstId: number;
  lastId: number;
  count: number;
  bytes: number;
  oldestTs: number;
  prefix: Buffer | null;
  suffix: Buffer | null;
  wire: Buffer | null;
}

type BatchRange = { firstId: number; lastId: number; count: number; bytes: number };

/**
 * The uplink's side: seals the oldest unsealed readings into the next signed batch of the chain, in one transaction
 * with the chain head; rebuilds sealed wires for resends; lets a batch go when the hub stored or refused it.
 */
export class BatchOutbox {
  constructor(
    private readonly db: Database.Database,
    private readonly q: Statements,
    private readonly state: BufferState,
    private readonly parts: { capacity: Capacity; deadLetters: DeadLetters; delivered: DeliveredMemory },
  ) {}

  chainHead(): ChainHead {
    const q = this.q;
    return {
      epoch: q.getMeta.get("epoch") as string,
      seq: Number(q.getMeta.get("head_seq")),
      hash: q.getMeta.get("head_hash") as string,
    };
  }

  sealedBatches(): SealedBatch[] {
    const q = this.q;
    return (q.batches.all() as BatchRow[]).map((b) => ({
      epoch: b.epoch,
      seq: b.seq,
      hash: b.hash,
      // The readings of a sealed range are never changed, so this is the wire sealNext returned, byte for byte.
      wire: b.wire !== null ? Buffer.from(b.wire) : Buffer.concat([b.prefix!, q.rangeJson.get(b.firstId, b.lastId) as Buffer, b.suffix!]),
      count: b.count,
      oldestTs: b.oldestTs,
    }));
  }

  sealNext(maxReadings: number, maxBytes: number, seal: Sealer): SealedBatch | undefined {
    const { q, state } = this;
    type Next = { count: number; firstId: number; lastId: number; oldestTs: number; bytes: number; json: Buffer | null };
    const sealed = this.db.transaction(() => {
      let next = q.unsealed.get(state.sealedTo, Number.MAX_SAFE_INTEGER, maxReadings) as Next;
      if (next.count === 0 || next.json === null) return undefined;
      if (next.bytes > maxBytes && next.count > 1) {
        // At least one reading, however large.
        const upTo = Math.max((q.fitsUpTo.get(state.sealedTo, maxReadings, maxBytes) as number | null) ?? next.firstId, next.firstId);
        next = q.unsealed.get(state.sealedTo, upTo, maxReadings) as Next;
      }
      if (next.json === null) return undefined;
      const { readingsAt, ...signed } = seal(next.json, this.chainHead());
      const batch: SealedBatch = { ...signed, count: next.count, oldestTs: next.oldestTs };
      // The seal says where the readings sit in its wire; only the bytes around them are stored.
      const parts = readingsAt === undefined ? undefined : splitWireAt(batch.wire, readingsAt, next.json.length);
      q.insertBatch.run(
        batch.seq,
        batch.epoch,
        batch.hash,
        next.firstId,
        next.lastId,
        batch.count,
        next.bytes,
        batch.oldestTs,
        parts?.prefix ?? null,
        parts?.suffix ?? null,
        parts ? null : batch.wire,
      );
      q.setMeta.run(String(next.lastId), "sealed_to");
      q.setMeta.run(String(batch.seq), "head_seq");
      q.setMeta.run(batch.hash, "head_hash");
      return { batch, lastId: next.lastId, bytes: next.bytes };
    })();
    if (!sealed) return undefined;
    // Only after the commit: a seal that threw or failed to commit leaves the readings waiting.
    state.sealedTo = sealed.lastId;
    state.unbatched -= sealed.batch.count;
    state.batches.set(sealed.batch.seq, { oldestTs: sealed.batch.oldestTs, count: sealed.batch.count, bytes: sealed.bytes });
    state.oldestUnsealed.sealedUpTo(sealed.lastId);
    return sealed.batch;
  }

  /** The hub stored the batch: it stops waiting (idempotent). */
  acknowledge(epoch: string, seq: number): void {
    this.state.guarded(() =>
      this.#relaxed(() => {
        const range = this.q.batch.get(seq, epoch) as BatchRange | undefined;
        if (range) this.parts.delivered.batchDone(seq, range);
      }),
    );
    this.parts.capacity.checkAlarm();
  }

  /** The hub refused the batch for good: its readings go to the dead letters with the reason. */
  reject(epoch: string, seq: number, reason: string): void {
    const now = Date.now();
    this.state.guarded(() =>
      this.db.transaction(() => {
        const range = this.q.batch.get(seq, epoch) as BatchRange | undefined;
        if (!range) return;
        for (const r of this.q.rangeReadings.all(range.firstId, range.lastId) as { device: string; json: string }[]) {
          this.parts.deadLetters.keep(now, `uplink batch ${epoch}/${seq}`, r.device, "hub_rejected", reason.slice(0, 512), Buffer.from(r.json));
        }
        this.parts.delivered.batchDone(seq, range);
      })(),
    );
    this.parts.capacity.checkAlarm();
  }

  /**
   * A transaction that may be lost in a power cut without harm, committed without its own fsync (the next FULL
   * commit makes it durable): deleting what the hub acknowledged. If it is lost, the batch is sent again and the
   * hub treats it as the replay it is.
   */
  #relaxed<T>(work: () => T): T {
    this.db.pragma("synchronous = NORMAL");
    try {
      return this.db.transaction(work)();
    } finally {
      this.db.pragma("synchronous = FULL");
    }
  }
}
