import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { GENESIS_HASH, type Reading } from "@supervision/firmware-protocols";
import Database from "better-sqlite3";
import type { Logger } from "pino";
import type { BufferStats, ChainHead, DeadLetter, Outbox, ReadingSink, SealedBatch } from "./types.ts";

export type { BufferStats, ChainHead, DeadLetter, Outbox, ReadingSink, SealedBatch } from "./types.ts";

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

export interface StoredDeadLetter extends DeadLetter {
  id: number;
}

export interface GatewayBuffer extends ReadingSink, Outbox {
  deadLetters(opts: { limit: number; offset?: number }): StoredDeadLetter[];
  chainHead(): ChainHead;
  close(): void;
}

/** An append refused because only readings that must never be dropped remain and the bound is reached. */
export class BufferFullError extends Error {
  readonly code = "buffer_full";
}

/**
 * How many delivered readings are kept to refuse late duplicates: acknowledged readings stay in the table (their
 * identity index is the one that refuses duplicates of waiting readings too) until this many ids lie between them
 * and the oldest waiting reading.
 */
export const DELIVERED_MEMORY = 200_000;
const DEAD_LETTER_LIMIT = 100_000;
const ALARM_WARN = 0.7;
const ALARM_CRITICAL = 0.9;
/** Heartbeats are thinned once the buffer is this full, so the people-facing readings keep their room. */
const THIN_AT = 0.8;
/** Version 0: batches kept their wire and readings a batch column (before PRAGMA user_version was set). */
const SCHEMA_VERSION = 1;
/** Readings ids per block of the in-memory oldest-time summary. */
const BLOCK = 4096;
/** A range's reading JSON, comma-joined in id order as one UTF-8 buffer: how a batch's wire is rebuilt. */
const RANGE_JSON_SQL = "SELECT CAST(group_concat(json, ',' ORDER BY id) AS BLOB) FROM readings WHERE id BETWEEN ? AND ?";

interface Pending {
  reading: Reading;
  json: string;
  resolve: (result: "stored" | "duplicate") => void;
  reject: (error: Error) => void;
}

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

const READINGS_TABLE = `
  CREATE TABLE readings (
    id INTEGER PRIMARY KEY,
    device TEXT NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    ts INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    json TEXT NOT NULL,
    UNIQUE (device, seq, ts)
  );
`;
/** Everything but the readings table, which a migration keeps. */
const OTHER_TABLES = `
  -- A batch is the contiguous id range first_id..last_id of readings (sealing takes the oldest unsealed in id order).
  -- Its wire is rebuilt as prefix + the range's reading JSON joined by commas + suffix, bytes as first sent; wire is
  -- stored whole only when the seal did not say where the readings sit in it.
  CREATE TABLE batches (
    seq INTEGER PRIMARY KEY,
    epoch TEXT NOT NULL,
    hash TEXT NOT NULL,
    first_id INTEGER NOT NULL,
    last_id INTEGER NOT NULL,
    count INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    oldest_ts INTEGER NOT NULL,
    prefix BLOB,
    suffix BLOB,
    wire BLOB
  );
  CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY,
    rx_ts INTEGER NOT NULL,
    source TEXT NOT NULL,
    device TEXT,
    code TEXT NOT NULL,
    message TEXT NOT NULL,
    payload BLOB NOT NULL
  );
  CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
`;

interface WireParts {
  prefix: Buffer;
  suffix: Buffer;
}

/** The bytes of a wire before and after its readings' JSON (`length` bytes at `start`, between `[` and `]`). */
function splitWireAt(wire: Buffer, start: number, length: number): WireParts | undefined {
  const end = start + length;
  if (start < 1 || end >= wire.length || wire[start - 1] !== 0x5b || wire[end] !== 0x5d) return undefined;
  return { prefix: Buffer.from(wire.subarray(0, start)), suffix: Buffer.from(wire.subarray(end)) };
}

/** For a wire of unknown layout (an old file's): its readings' JSON found by content, or undefined. */
function splitWire(wire: Buffer, joined: Buffer): WireParts | undefined {
  const key = Buffer.from('"readings":[', "utf8");
  const at = wire.indexOf(key);
  if (at < 0) return undefined;
  const start = at + key.length;
  return wire.subarray(start, start + joined.length).equals(joined) ? splitWireAt(wire, start, joined.length) : undefined;
}

/** Brings a file written by an older gateway to SCHEMA_VERSION, or creates the schema; one transaction. */
function migrate(db: Database.Database): void {
  const version = db.pragma("user_version", { simple: true }) as number;
  if (version === SCHEMA_VERSION) return;
  if (version > SCHEMA_VERSION)
    throw new Error(`buffer file has schema version ${version}; this gateway knows up to ${SCHEMA_VERSION}: upgrade the gateway`);
  const hasReadings = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'readings'").get() !== undefined;
  db.transaction(() => {
    if (!hasReadings) {
      db.exec(READINGS_TABLE + OTHER_TABLES);
      db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('sealed_to', '0')").run();
    } else migrateFromV0(db);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}

/** Version 0 marked each sealed reading with its batch and stored each batch's wire; delivered had a rowid. */
function migrateFromV0(db: Database.Database): void {
  db.exec("ALTER TABLE batches RENAME TO batches_v0");
  db.exec(OTHER_TABLES);
  // Sealing always took every unsealed reading up to its last, so batches are disjoint id ranges below every unsealed id.
  const maxSealed = db.prepare("SELECT max(id) FROM readings WHERE batch IS NOT NULL").pluck().get() as number | null;
  const minUnsealed = db.prepare("SELECT min(id) FROM readings WHERE batch IS NULL").pluck().get() as number | null;
  if (maxSealed !== null && minUnsealed !== null && minUnsealed < maxSealed)
    throw new Error(`buffer migration: unsealed reading ${minUnsealed} lies inside the sealed readings (up to ${maxSealed})`);
  const old = db
    .prepare(
      `SELECT b.seq, b.epoch, b.hash, b.wire, b.oldest_ts AS oldestTs, min(r.id) AS firstId, max(r.id) AS lastId,
              count(r.id) AS count, coalesce(sum(r.bytes), 0) AS bytes
         FROM batches_v0 b LEFT JOIN readings r ON r.batch = b.seq GROUP BY b.seq ORDER BY b.seq`,
    )
    .all() as {
    seq: number;
    epoch: string;
    hash: string;
    wire: Buffer;
    oldestTs: number;
    firstId: number | null;
    lastId: number | null;
    count: number;
    bytes: number;
  }[];
  const inRange = db.prepare("SELECT count(*) FROM readings WHERE id BETWEEN ? AND ?").pluck();
  const rangeJson = db.prepare(RANGE_JSON_SQL).pluck();
  const insert = db.prepare(
    "INSERT INTO batches (seq, epoch, hash, first_id, last_id, count, bytes, oldest_ts, prefix, suffix, wire) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
  );
  for (const b of old) {
    // A batch without readings cannot happen; kept with an empty range, its ack deletes nothing else.
    const firstId = b.firstId ?? 1;
    const lastId = b.lastId ?? 0;
    if (b.count > 0 && inRange.get(firstId, lastId) !== b.count)
      throw new Error(`buffer migration: batch ${b.seq} is not a contiguous id range`);
    // Keep the old wire only if the readings as stored do not rebuild it byte for byte.
    const parts = b.count > 0 ? splitWire(b.wire, rangeJson.get(firstId, lastId) as Buffer) : undefined;
    insert.run(
      b.seq,
      b.epoch,
      b.hash,
      firstId,
      lastId,
      b.count,
      b.bytes,
      b.oldestTs,
      parts?.prefix ?? null,
      parts?.suffix ?? null,
      parts ? null : b.wire,
    );
  }
  db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('sealed_to', ?)").run(String(maxSealed ?? 0));
  // Delivered identities become delivered rows below every id in use (negative ids, oldest lowest), trimmed like any.
  db.exec(`
    INSERT OR IGNORE INTO readings (id, device, seq, kind, ts, bytes, json)
      SELECT id - (SELECT max(id) FROM delivered) - 1, device, seq, 'delivered', ts, 0, '' FROM delivered;
    DROP TABLE delivered;
    DROP TABLE batches_v0;
    DROP INDEX IF EXISTS readings_unbatched;
    ALTER TABLE readings DROP COLUMN batch;
  `);
}

/**
 * The gateway's durable buffer: SQLite in WAL mode with synchronous=FULL, so a committed transaction survives
 * kill -9 and power loss. Appends are grouped: those arriving within a few milliseconds share one transaction,
 * hence one fsync, and each resolves only after that transaction committed.
 */
export function openBuffer(opts: BufferOptions): GatewayBuffer {
  const logger = opts.logger;
  const groupMs = opts.groupCommitMs ?? 2;
  const groupMax = opts.groupCommitMax ?? 1000;
  const deliveredMemory = opts.deliveredMemory ?? DELIVERED_MEMORY;
  mkdirSync(dirname(opts.path), { recursive: true });
  const db = new Database(opts.path);
  // WAL: readers never block the writer and a commit is one sequential append to the log.
  db.pragma("journal_mode = WAL");
  // FULL: the WAL is fsynced at every commit; NORMAL could lose the last commits on power loss.
  db.pragma("synchronous = FULL");
  db.pragma("busy_timeout = 5000");
  migrate(db);
  db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('epoch', ?)").run(randomBytes(8).toString("hex"));
  db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('head_seq', '0')").run();
  db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('head_hash', ?)").run(GENESIS_HASH);
  db.prepare("INSERT OR IGNORE INTO counters (name, value) VALUES ('thinned', 0)").run();

  const q = {
    // ON CONFLICT names the identity, so a clash on id would be an error rather than a silent "duplicate".
    insert: db.prepare(
      "INSERT INTO readings (id, device, seq, kind, ts, bytes, json) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (device, seq, ts) DO NOTHING",
    ),
    // The oldest unsealed readings (ids in (?, ?], at most ?), their JSON joined by SQLite into one UTF-8 buffer: not
    // thousands of strings, and no transcoding to JavaScript's UTF-16 and back before it is signed.
    unsealed: db.prepare(
      `SELECT count(*) AS count, min(id) AS firstId, max(id) AS lastId, min(ts) AS oldestTs, coalesce(sum(bytes), 0) AS bytes,
              CAST(group_concat(json, ',' ORDER BY id) AS BLOB) AS json
         FROM (SELECT id, ts, bytes, json FROM readings WHERE id > ? AND id <= ? ORDER BY id LIMIT ?)`,
    ),
    // The last id of the oldest unsealed readings whose JSON fits in ? bytes (for batches of unusually large readings).
    fitsUpTo: db
      .prepare(
        `SELECT max(id) FROM (SELECT id, sum(bytes) OVER (ORDER BY id) AS upto
                                FROM (SELECT id, bytes FROM readings WHERE id > ? ORDER BY id LIMIT ?)) WHERE upto <= ?`,
      )
      .pluck(),
    insertBatch: db.prepare(
      "INSERT INTO batches (seq, epoch, hash, first_id, last_id, count, bytes, oldest_ts, prefix, suffix, wire) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    ),
    setMeta: db.prepare("UPDATE meta SET value = ? WHERE key = ?"),
    getMeta: db.prepare("SELECT value FROM meta WHERE key = ?").pluck(),
    batches: db.prepare(
      `SELECT seq, epoch, hash, first_id AS firstId, last_id AS lastId, count, bytes, oldest_ts AS oldestTs, prefix, suffix, wire
         FROM batches ORDER BY seq`,
    ),
    batch: db.prepare("SELECT first_id AS firstId, last_id AS lastId, count, bytes FROM batches WHERE seq = ? AND epoch = ?"),
    lowestBatch: db.prepare("SELECT min(first_id) FROM batches").pluck(),
    rangeJson: db.prepare(RANGE_JSON_SQL).pluck(),
    rangeReadings: db.prepare("SELECT device, json FROM readings WHERE id BETWEEN ? AND ? ORDER BY id"),
    deleteBatch: db.prepare("DELETE FROM batches WHERE seq = ?"),
    // Delivered readings below the bound go: one range at the low end of the table.
    trim: db.prepare("DELETE FROM readings WHERE id < ?"),
    unsealedTotals: db.prepare("SELECT count(*) AS count, coalesce(sum(bytes), 0) AS bytes, max(id) AS maxId FROM readings WHERE id > ?"),
    maxId: db.prepare("SELECT max(id) FROM readings").pluck(),
    blockOldest: db.prepare("SELECT min(ts) FROM readings WHERE id BETWEEN ? AND ?").pluck(),
    batchOldest: db.prepare("SELECT seq, oldest_ts AS oldestTs, count, bytes FROM batches"),
    thinVictims: db.prepare("SELECT id, bytes FROM readings WHERE kind = 'heartbeat' AND id > ? ORDER BY id LIMIT ?"),
    deleteReading: db.prepare("DELETE FROM readings WHERE id = ?"),
    bumpThinned: db.prepare("UPDATE counters SET value = value + ? WHERE name = 'thinned'"),
    thinned: db.prepare("SELECT value FROM counters WHERE name = 'thinned'").pluck(),
    insertDead: db.prepare("INSERT INTO dead_letters (rx_ts, source, device, code, message, payload) VALUES (?, ?, ?, ?, ?, ?)"),
    trimDead: db.prepare("DELETE FROM dead_letters WHERE id <= (SELECT max(id) FROM dead_letters) - ?"),
    deadCount: db.prepare("SELECT count(*) FROM dead_letters").pluck(),
    listDead: db.prepare(
      "SELECT id, rx_ts AS rxTs, source, device AS deviceId, code, message, payload FROM dead_letters ORDER BY id DESC LIMIT ? OFFSET ?",
    ),
  };

  // State kept in memory (restored from the database at open and after a failed transaction), so stats() and the
  // hot paths read no counters from disk. Waiting readings are the unsealed ones (id > sealedTo) and those of the
  // sealed batches not yet acknowledged; every other row is a delivered reading kept to refuse late duplicates.
  let depth = 0;
  let bytes = 0;
  let unbatched = 0;
  let deadLetters = 0;
  let thinned = 0;
  /** Readings with id <= sealedTo are in a batch (or delivered); the rest wait. */
  let sealedTo = 0;
  /** Ids are given here, never by SQLite: it would reuse ids of rows trimmed at the top of an emptied table. */
  let nextId = 1;
  /** The unacknowledged batches: device time of their oldest reading, count and bytes. */
  const batches = new Map<number, { oldestTs: number; count: number; bytes: number }>();
  /**
   * Oldest device time per block of unsealed ids, so the oldest waiting reading is found without a table scan
   * (device clocks make ts unordered by id). Dirty blocks are recomputed, above sealedTo only, when stats() asks.
   */
  const blockOldest = new Map<number, number>();
  const dirtyBlocks = new Set<number>();
  const restore = () => {
    sealedTo = Number(q.getMeta.get("sealed_to"));
    const unsealed = q.unsealedTotals.get(sealedTo) as { count: number; bytes: number; maxId: number | null };
    batches.clear();
    for (const b of q.batchOldest.all() as { seq: number; oldestTs: number; count: number; bytes: number }[]) batches.set(b.seq, b);
    unbatched = unsealed.count;
    depth = unsealed.count;
    bytes = unsealed.bytes;
    for (const b of batches.values()) {
      depth += b.count;
      bytes += b.bytes;
    }
    nextId = Math.max((q.maxId.get() as number | null) ?? 0, sealedTo) + 1;
    deadLetters = q.deadCount.get() as number;
    thinned = q.thinned.get() as number;
    blockOldest.clear();
    dirtyBlocks.clear();
    if (unsealed.maxId !== null)
      for (let b = Math.floor((sealedTo + 1) / BLOCK); b <= Math.floor(unsealed.maxId / BLOCK); b++) dirtyBlocks.add(b);
  };
  restore();
  let alarm: BufferStats["fillAlarm"] = "ok";
  const listeners = new Set<() => void>();

  const oldestTs = (): number | null => {
    for (const b of dirtyBlocks) {
      const oldest = q.blockOldest.get(Math.max(b * BLOCK, sealedTo + 1), b * BLOCK + BLOCK - 1) as number | null;
      if (oldest === null) blockOldest.delete(b);
      else blockOldest.set(b, oldest);
    }
    dirtyBlocks.clear();
    let oldest: number | null = null;
    for (const ts of blockOldest.values()) if (oldest === null || ts < oldest) oldest = ts;
    for (const b of batches.values()) if (oldest === null || b.oldestTs < oldest) oldest = b.oldestTs;
    return oldest;
  };
  /** Readings up to lastId were sealed: blocks wholly below go, a block that straddles is recomputed above it. */
  const sealedUpTo = (lastId: number) => {
    for (const b of blockOldest.keys()) if (b * BLOCK + BLOCK - 1 <= lastId) blockOldest.delete(b);
    for (const b of dirtyBlocks) if (b * BLOCK + BLOCK - 1 <= lastId) dirtyBlocks.delete(b);
    if ((lastId + 1) % BLOCK !== 0 && blockOldest.has(Math.floor(lastId / BLOCK))) dirtyBlocks.add(Math.floor(lastId / BLOCK));
  };

  /**
   * A transaction that may be lost in a power cut without harm, committed without its own fsync (the next FULL
   * commit makes it durable): deleting what the hub acknowledged. If it is lost, the batch is sent again and the
   * hub treats it as the replay it is.
   */
  const relaxed = <T>(work: () => T): T => {
    db.pragma("synchronous = NORMAL");
    try {
      return db.transaction(work)();
    } finally {
      db.pragma("synchronous = FULL");
    }
  };
  /** Runs a transaction that changes the in-memory state; if it fails, that state is read back from the database. */
  const guarded = <T>(run: () => T): T => {
    try {
      return run();
    } catch (error) {
      try {
        restore();
      } catch {
        // The database cannot even be read: the first error says why.
      }
      throw error;
    }
  };

  let pending: Pending[] = [];
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const fillAlarm = (): BufferStats["fillAlarm"] => {
    const fill = bytes / opts.capacityBytes;
    return fill >= ALARM_CRITICAL ? "critical" : fill >= ALARM_WARN ? "warn" : "ok";
  };
  const checkAlarm = () => {
    const next = fillAlarm();
    if (next === alarm) return;
    alarm = next;
    const fields = { fill: Number((bytes / opts.capacityBytes).toFixed(3)), depth, bytes, capacityBytes: opts.capacityBytes };
    if (next === "ok") logger?.info(fields, "buffer fill back to normal");
    else logger?.warn(fields, `buffer ${next === "critical" ? "critically " : ""}full: is the hub reachable? (see gateway status)`);
  };

  /** Deletes unsent heartbeats until `needed` bytes fit under the thinning mark; returns whether they fit. */
  const makeRoom = (needed: number): boolean => {
    const mark = opts.capacityBytes * THIN_AT;
    if (bytes + needed <= mark) return true;
    let freed = 0;
    let count = 0;
    // Only unsealed readings: a sealed batch's range must stay whole, its resend rebuilt from it.
    for (const victim of q.thinVictims.all(sealedTo, 1000) as { id: number; bytes: number }[]) {
      if (bytes - freed + needed <= mark) break;
      q.deleteReading.run(victim.id);
      dirtyBlocks.add(Math.floor(victim.id / BLOCK));
      freed += victim.bytes;
      count++;
    }
    if (count > 0) {
      q.bumpThinned.run(count);
      bytes -= freed;
      depth -= count;
      unbatched -= count;
      thinned += count;
      logger?.warn({ thinned: count }, "buffer nearly full: oldest unsent heartbeats dropped to keep room for ratings and sign-ins");
    }
    return bytes + needed <= opts.capacityBytes;
  };

  const commitGroup = db.transaction((group: Pending[]) => {
    const results: ("stored" | "duplicate" | Error)[] = [];
    for (const p of group) {
      const r = p.reading;
      const size = Buffer.byteLength(p.json);
      if (!makeRoom(r.kind === "heartbeat" ? size : 0) && r.kind === "heartbeat") {
        results.push("duplicate"); // thinned on arrival: a heartbeat carries no value worth refusing the device for
        thinned++;
        q.bumpThinned.run(1);
        continue;
      }
      if (bytes + size > opts.capacityBytes) {
        results.push(new BufferFullError(`buffer full (${bytes} of ${opts.capacityBytes} bytes): the hub has been unreachable too long`));
        continue;
      }
      const id = nextId;
      // A reading waiting or delivered with this identity makes the insert a no-op: a duplicate.
      const info = q.insert.run(id, r.deviceId, r.seq, r.kind, r.ts, size, p.json);
      if (info.changes === 0) {
        results.push("duplicate");
        continue;
      }
      nextId++;
      depth++;
      unbatched++;
      bytes += size;
      const block = Math.floor(id / BLOCK);
      const oldest = blockOldest.get(block);
      if (oldest === undefined || r.ts < oldest) blockOldest.set(block, r.ts);
      results.push("stored");
    }
    return results;
  });

  const flush = () => {
    timer = undefined;
    const group = pending;
    pending = [];
    if (group.length === 0) return;
    let results: ("stored" | "duplicate" | Error)[];
    try {
      results = guarded(() => commitGroup(group));
    } catch (error) {
      for (const p of group) p.reject(error as Error);
      return;
    }
    checkAlarm();
    let stored = false;
    group.forEach((p, i) => {
      const result = results[i]!;
      if (result instanceof Error) p.reject(result);
      else {
        if (result === "stored") stored = true;
        p.resolve(result);
      }
    });
    if (stored) for (const listener of listeners) listener();
  };

  /**
   * A batch is done (stored or refused by the hub): it stops waiting, its readings stay as delivered ones, and
   * delivered readings more than deliveredMemory ids below the oldest waiting reading are trimmed, about as many
   * per batch as it held, so no single transaction deletes a backlog's worth.
   */
  const dropBatch = (seq: number, range: { count: number; bytes: number }) => {
    q.deleteBatch.run(seq);
    batches.delete(seq);
    depth -= range.count;
    bytes -= range.bytes;
    const lowestWaiting = (q.lowestBatch.get() as number | null) ?? sealedTo + 1;
    q.trim.run(lowestWaiting - deliveredMemory);
  };

  const buffer: GatewayBuffer = {
    append(reading) {
      if (closed) return Promise.reject(new Error("buffer closed"));
      return new Promise((resolve, reject) => {
        pending.push({ reading, json: JSON.stringify(reading), resolve, reject });
        if (pending.length >= groupMax) {
          clearTimeout(timer);
          flush();
        } else timer ??= setTimeout(flush, groupMs);
      });
    },

    async deadLetter(entry) {
      q.insertDead.run(
        entry.rxTs,
        entry.source,
        entry.deviceId ?? null,
        entry.code,
        entry.message,
        Buffer.from(entry.payload.subarray(0, 65_536)),
      );
      deadLetters++;
      if (deadLetters > DEAD_LETTER_LIMIT) {
        q.trimDead.run(DEAD_LETTER_LIMIT);
        deadLetters = q.deadCount.get() as number;
      }
    },

    deadLetters({ limit, offset = 0 }) {
      return (
        q.listDead.all(limit, offset) as (Omit<StoredDeadLetter, "deviceId" | "payload"> & { deviceId: string | null; payload: Buffer })[]
      ).map((d) => ({ ...d, deviceId: d.deviceId ?? undefined, payload: new Uint8Array(d.payload) }));
    },

    sealedBatches() {
      return (q.batches.all() as BatchRow[]).map((b) => ({
        epoch: b.epoch,
        seq: b.seq,
        hash: b.hash,
        // The readings of a sealed range are never changed, so this is the wire sealNext returned, byte for byte.
        wire: b.wire !== null ? Buffer.from(b.wire) : Buffer.concat([b.prefix!, q.rangeJson.get(b.firstId, b.lastId) as Buffer, b.suffix!]),
        count: b.count,
        oldestTs: b.oldestTs,
      }));
    },

    sealNext(maxReadings, maxBytes, seal) {
      type Next = { count: number; firstId: number; lastId: number; oldestTs: number; bytes: number; json: Buffer | null };
      const sealed = db.transaction(() => {
        let next = q.unsealed.get(sealedTo, Number.MAX_SAFE_INTEGER, maxReadings) as Next;
        if (next.count === 0 || next.json === null) return undefined;
        if (next.bytes > maxBytes && next.count > 1) {
          // At least one reading, however large.
          const upTo = Math.max((q.fitsUpTo.get(sealedTo, maxReadings, maxBytes) as number | null) ?? next.firstId, next.firstId);
          next = q.unsealed.get(sealedTo, upTo, maxReadings) as Next;
        }
        if (next.json === null) return undefined;
        const { readingsAt, ...signed } = seal(next.json, buffer.chainHead());
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
      sealedTo = sealed.lastId;
      unbatched -= sealed.batch.count;
      batches.set(sealed.batch.seq, { oldestTs: sealed.batch.oldestTs, count: sealed.batch.count, bytes: sealed.bytes });
      sealedUpTo(sealed.lastId);
      return sealed.batch;
    },

    acknowledge(epoch, seq) {
      guarded(() =>
        relaxed(() => {
          const range = q.batch.get(seq, epoch) as { firstId: number; lastId: number; count: number; bytes: number } | undefined;
          if (range) dropBatch(seq, range);
        }),
      );
      checkAlarm();
    },

    reject(epoch, seq, reason) {
      const now = Date.now();
      guarded(() =>
        db.transaction(() => {
          const range = q.batch.get(seq, epoch) as { firstId: number; lastId: number; count: number; bytes: number } | undefined;
          if (!range) return;
          for (const r of q.rangeReadings.all(range.firstId, range.lastId) as { device: string; json: string }[]) {
            q.insertDead.run(now, `uplink batch ${epoch}/${seq}`, r.device, "hub_rejected", reason.slice(0, 512), Buffer.from(r.json));
            deadLetters++;
          }
          dropBatch(seq, range);
        })(),
      );
      checkAlarm();
    },

    unbatchedCount: () => unbatched,

    onAppend(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    chainHead() {
      return {
        epoch: q.getMeta.get("epoch") as string,
        seq: Number(q.getMeta.get("head_seq")),
        hash: q.getMeta.get("head_hash") as string,
      };
    },

    stats: () => ({
      depth,
      bytes,
      capacityBytes: opts.capacityBytes,
      oldestTs: depth === 0 ? null : oldestTs(),
      deadLetters,
      thinned,
      fillAlarm: alarm,
    }),

    close() {
      if (closed) return;
      clearTimeout(timer);
      flush();
      closed = true;
      db.close();
    },
  };
  return buffer;
}
