import type { Reading } from "@supervision/firmware-protocols";

/**
 * The gateway's durable buffer, as the device side sees it. The broker and the adapters commit here before
 * they acknowledge a device (MQTT PUBACK, serial ACK frame); the uplink reads and deletes through its outbox.
 */
export interface ReadingSink {
  /**
   * Commits one reading durably (group commit: many calls share one fsync). Resolves only once the reading
   * is on disk; a duplicate (same deviceId, seq and device ts as a stored or already-sent reading) resolves "duplicate"
   * and is not stored again. Rejects only when the disk fails or the buffer is full for this kind of reading.
   */
  append(reading: Reading): Promise<"stored" | "duplicate">;
  /** Keeps a refused message with its reason, durably, for `gateway dead-letters`. */
  deadLetter(entry: DeadLetter): Promise<void>;
}

export interface DeadLetter {
  /** Gateway receive time, UTC ms. */
  rxTs: number;
  /** Where it came from: an MQTT topic, or "serial:/dev/ttyUSB0@3". */
  source: string;
  deviceId?: string;
  /** A contract error code (firmware-protocols PAYLOAD_ERROR_CODES or serial codes) or "acl_denied". */
  code: string;
  message: string;
  /** The raw bytes, truncated to 64 KiB. */
  payload: Uint8Array;
}

export interface BufferStats {
  /** Readings waiting to reach the hub. */
  depth: number;
  bytes: number;
  capacityBytes: number;
  /** Device time of the oldest unsent reading, or null when empty. */
  oldestTs: number | null;
  deadLetters: number;
  /** Low-value readings (heartbeats) dropped to stay under the bound. */
  thinned: number;
  /** Raised at 70% (warn) and 90% (critical) of capacityBytes, long before readings are refused. */
  fillAlarm: "ok" | "warn" | "critical";
}

/** The head of the gateway's batch chain: what the next sealed batch links to. */
export interface ChainHead {
  /** 16 hex digits, chosen once when the buffer is created; a new epoch tells the hub the chain restarted. */
  epoch: string;
  /** Sequence number of the last sealed batch; 0 before the first. */
  seq: number;
  /** Hash of the last sealed batch; GENESIS_HASH before the first. */
  hash: string;
}

/** A batch sealed into the chain and kept on disk until the hub acknowledges it. */
export interface SealedBatch {
  epoch: string;
  seq: number;
  hash: string;
  /** The exact MQTT payload: re-sent byte for byte after a reconnect or a restart, so the hub sees a replay. */
  wire: Buffer;
  count: number;
  /** Device time of its oldest reading. */
  oldestTs: number;
}

/**
 * Builds and signs a batch from its readings' JSON. `readingsAt`: the byte offset in `wire` where that JSON starts,
 * verbatim; then the buffer keeps only the bytes around it and rebuilds the wire for a resend. Without it the
 * whole wire is kept.
 */
export type Sealer = (
  readingsJson: Buffer,
  head: ChainHead,
) => { epoch: string; seq: number; hash: string; wire: Buffer; readingsAt?: number };

/**
 * The uplink's side of the buffer. Readings are sealed into batches (signed, hash-chained) in one transaction
 * with the chain head, so a crash never leaves a reading in two batches or a batch the hub could not link.
 */
export interface Outbox {
  /** Sealed batches not yet acknowledged, oldest first. */
  sealedBatches(): SealedBatch[];
  /**
   * Seals the oldest readings that are in no batch yet (at most maxReadings, and about maxBytes of reading JSON)
   * into the next batch: `seal` builds and signs it from the readings' JSON as stored, comma-separated (the inside
   * of the batch's readings array, UTF-8), and the current head. Returns undefined when nothing is waiting.
   */
  sealNext(maxReadings: number, maxBytes: number, seal: Sealer): SealedBatch | undefined;
  /** The hub stored the batch: delete it and its readings (idempotent). */
  acknowledge(epoch: string, seq: number): void;
  /** The hub refused the batch for good (malformed): its readings go to the dead letters with the reason, the batch is deleted. */
  reject(epoch: string, seq: number, reason: string): void;
  /** Readings waiting that are in no batch yet. */
  unbatchedCount(): number;
  /** Called after readings are committed; returns an unsubscribe function. */
  onAppend(listener: () => void): () => void;
  stats(): BufferStats;
}
