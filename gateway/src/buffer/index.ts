import type { Logger } from "pino";
import { Capacity } from "./capacity.ts";
import { DeadLetters, type StoredDeadLetter } from "./dead-letters.ts";
import { DELIVERED_MEMORY, DeliveredMemory } from "./delivered-memory.ts";
import { GroupCommit } from "./group-commit.ts";
import { BatchOutbox } from "./outbox.ts";
import { openDatabase } from "./schema.ts";
import { BufferState } from "./state.ts";
import { prepareStatements } from "./statements.ts";
import type { ChainHead, Outbox, ReadingSink } from "./types.ts";

export type { BufferStats, ChainHead, DeadLetter, Outbox, ReadingSink, SealedBatch } from "./types.ts";
export { BufferFullError } from "./capacity.ts";
export type { StoredDeadLetter } from "./dead-letters.ts";
export { DELIVERED_MEMORY } from "./delivered-memory.ts";

export interface BufferOptions {
  path: string;
  capacityBytes: number;
  logger?: Logger;
  /** How long an append waits for others to share its transaction (default 2 ms). */
  groupCommitMs?: number;
  /** Appends that close a group at once (default 1000). */
  groupCommitMax?: number;
  /** Ids of delivered readings kept below the oldest waiting one, to refuse late duplicates (default DELIVERED_MEMORY; smaller in tests). */
  deliveredMemory?: number;
}

export interface GatewayBuffer extends ReadingSink, Outbox {
  deadLetters(opts: { limit: number; offset?: number }): StoredDeadLetter[];
  chainHead(): ChainHead;
  close(): void;
}

/**
 * The gateway's durable buffer (README.md in this folder): SQLite in WAL mode with synchronous=FULL, so a committed
 * transaction survives kill -9 and power loss. Its parts: the file and its schema (schema.ts), the statements
 * (statements.ts), the in-memory state (state.ts), group commit (group-commit.ts), the bound (capacity.ts), the
 * outbox of sealed batches (outbox.ts), the delivered memory (delivered-memory.ts) and the dead letters.
 */
export function openBuffer(opts: BufferOptions): GatewayBuffer {
  const db = openDatabase(opts.path);
  const q = prepareStatements(db);
  const state = new BufferState(q);
  const capacity = new Capacity(q, state, opts.capacityBytes, opts.logger);
  const deadLetters = new DeadLetters(q, state);
  const delivered = new DeliveredMemory(q, state, opts.deliveredMemory ?? DELIVERED_MEMORY);
  const outbox = new BatchOutbox(db, q, state, { capacity, deadLetters, delivered });
  const listeners = new Set<() => void>();
  const commits = new GroupCommit(db, q, state, capacity, {
    groupMs: opts.groupCommitMs ?? 2,
    groupMax: opts.groupCommitMax ?? 1000,
    onStored: () => {
      for (const listener of listeners) listener();
    },
  });
  let closed = false;

  return {
    append(reading) {
      if (closed) return Promise.reject(new Error("buffer closed"));
      return commits.append(reading);
    },
    async deadLetter(entry) {
      deadLetters.add(entry);
    },
    deadLetters: (query) => deadLetters.list(query),
    sealedBatches: () => outbox.sealedBatches(),
    sealNext: (maxReadings, maxBytes, seal) => outbox.sealNext(maxReadings, maxBytes, seal),
    acknowledge: (epoch, seq) => outbox.acknowledge(epoch, seq),
    reject: (epoch, seq, reason) => outbox.reject(epoch, seq, reason),
    unbatchedCount: () => state.unbatched,
    onAppend(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    chainHead: () => outbox.chainHead(),
    stats: () => ({
      depth: state.depth,
      bytes: state.bytes,
      capacityBytes: opts.capacityBytes,
      oldestTs: state.oldestTs(),
      deadLetters: state.deadLetters,
      thinned: state.thinned,
      fillAlarm: capacity.alarm,
    }),
    close() {
      if (closed) return;
      commits.flush();
      closed = true;
      db.close();
    },
  };
}
