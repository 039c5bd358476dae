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

/** How many delivered (device, seq) pairs are remembered to refuse late duplicates. */
const DELIVERED_MEMORY = 200_000;
const DEAD_LETTER_LIMIT = 100_000;
const ALARM_WARN = 0.7;
const ALARM_CRITICAL = 0.9;
/** Heartbeats are thinned once the buffer is this full, so the people-facing readings keep their room. */
const THIN_AT = 0.8;

interface Pending {
  reading: Reading;
  json: string;
  resolve: (result: "stored" | "duplicate") => void;
  reject: (error: Error) => void;
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
  mkdirSync(dirname(opts.path), { recursive: true });
  const db = new Database(opts.path);
  // WAL: readers never block the writer and a commit is one sequential append to the log.
  db.pragma("journal_mode = WAL");
  // FULL: the WAL is fsynced at every commit; NORMAL could lose the last commits on power loss.
  db.pragma("synchronous = FULL");
  db.pragma("busy_timeout = 5000");
  db.exec(`
    CREATE TABLE IF NOT EXISTS readings (
      id INTEGER PRIMARY KEY,
      device TEXT NOT NULL,
      seq INTEGER NOT NULL,
      kind TEXT NOT NULL,
      ts INTEGER NOT NULL,
      bytes INTEGER NOT NULL,
      json TEXT NOT NULL,
      batch INTEGER,
      UNIQUE (device, seq, ts)
    );
    CREATE INDEX IF NOT EXISTS readings_unbatched ON readings (batch, id);
    CREATE TABLE IF NOT EXISTS batches (
      seq INTEGER PRIMARY KEY,
      epoch TEXT NOT NULL,
      hash TEXT NOT NULL,
      wire BLOB NOT NULL,
      count INTEGER NOT NULL,
      oldest_ts INTEGER NOT NULL
    );
    -- Delivered readings are deleted; their identity stays here for a while so a late resend is a duplicate.
    -- Identity = (device, seq, device time), as at the hub: a factory-reset device restarting its seq is not a duplicate.
    CREATE TABLE IF NOT EXISTS delivered (id INTEGER PRIMARY KEY, device TEXT NOT NULL, seq INTEGER NOT NULL, ts INTEGER NOT NULL, UNIQUE (device, seq, ts));
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
  `);
  db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('epoch', ?)").run(randomBytes(8).toString("hex"));
  db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('head_seq', '0')").run();
  db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('head_hash', ?)").run(GENESIS_HASH);
  db.prepare("INSERT OR IGNORE INTO counters (name, value) VALUES ('thinned', 0)").run();

  const q = {
    insert: db.prepare("INSERT OR IGNORE INTO readings (device, seq, kind, ts, bytes, json) VALUES (?, ?, ?, ?, ?, ?)"),
    wasDelivered: db.prepare("SELECT 1 FROM delivered WHERE device = ? AND seq = ? AND ts = ?").pluck(),
    unbatched: db.prepare("SELECT id, json, bytes, ts FROM readings WHERE batch IS NULL ORDER BY id LIMIT ?"),
    assign: db.prepare("UPDATE readings SET batch = ? WHERE batch IS NULL AND id <= ?"),
    insertBatch: db.prepare("INSERT INTO batches (seq, epoch, hash, wire, count, oldest_ts) VALUES (?, ?, ?, ?, ?, ?)"),
    setMeta: db.prepare("UPDATE meta SET value = ? WHERE key = ?"),
    getMeta: db.prepare("SELECT value FROM meta WHERE key = ?").pluck(),
    batches: db.prepare("SELECT seq, epoch, hash, wire, count, oldest_ts AS oldestTs FROM batches ORDER BY seq"),
    batch: db.prepare("SELECT seq, epoch FROM batches WHERE seq = ? AND epoch = ?"),
    remember: db.prepare("INSERT OR IGNORE INTO delivered (device, seq, ts) SELECT device, seq, ts FROM readings WHERE batch = ?"),
    forget: db.prepare("DELETE FROM delivered WHERE id <= (SELECT max(id) FROM delivered) - ?"),
    batchReadings: db.prepare("SELECT device, json, bytes FROM readings WHERE batch = ?"),
    deleteBatchReadings: db.prepare("DELETE FROM readings WHERE batch = ?"),
    deleteBatch: db.prepare("DELETE FROM batches WHERE seq = ?"),
    totals: db.prepare("SELECT count(*) AS depth, coalesce(sum(bytes), 0) AS bytes, min(ts) AS oldestTs FROM readings"),
    oldest: db.prepare("SELECT min(ts) FROM readings").pluck(),
    unbatchedCount: db.prepare("SELECT count(*) FROM readings WHERE batch IS NULL").pluck(),
    thinVictims: db.prepare("SELECT id, bytes FROM readings WHERE kind = 'heartbeat' AND batch IS NULL ORDER BY id LIMIT ?"),
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

  // Counters live in memory (restored here) so stats() costs nothing on the hot path.
  const totals = q.totals.get() as { depth: number; bytes: number; oldestTs: number | null };
  let depth = totals.depth;
  let bytes = totals.bytes;
  let oldestTs = totals.oldestTs;
  let deadLetters = q.deadCount.get() as number;
  let thinned = q.thinned.get() as number;
  let unbatched = q.unbatchedCount.get() as number;
  let alarm: BufferStats["fillAlarm"] = "ok";
  const listeners = new Set<() => void>();

  /**
   * A transaction that may be lost in a power cut without harm, committed without its own fsync (the next FULL
   * commit makes it durable): deleting what the hub acknowledged. If it is lost, the batch is sent again and the
   * hub treats it as the replay it is.
   */
  const relaxed = (work: () => void) => {
    db.pragma("synchronous = NORMAL");
    try {
      db.transaction(work)();
    } finally {
      db.pragma("synchronous = FULL");
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
    for (const victim of q.thinVictims.all(1000) as { id: number; bytes: number }[]) {
      if (bytes - freed + needed <= mark) break;
      q.deleteReading.run(victim.id);
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
      if (q.wasDelivered.get(r.deviceId, r.seq, r.ts) !== undefined) {
        results.push("duplicate");
        continue;
      }
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
      const info = q.insert.run(r.deviceId, r.seq, r.kind, r.ts, size, p.json);
      if (info.changes === 0) {
        results.push("duplicate");
        continue;
      }
      depth++;
      unbatched++;
      bytes += size;
      oldestTs = oldestTs === null ? r.ts : Math.min(oldestTs, r.ts);
      results.push("stored");
    }
    return results;
  });

  const flush = () => {
    timer = undefined;
    const group = pending;
    pending = [];
    if (group.length === 0) return;
    // Counters change inside the transaction; on failure they are re-read from the database.
    let results: ("stored" | "duplicate" | Error)[];
    try {
      results = commitGroup(group);
    } catch (error) {
      const restored = q.totals.get() as { depth: number; bytes: number; oldestTs: number | null };
      ({ depth, bytes, oldestTs } = restored);
      unbatched = q.unbatchedCount.get() as number;
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
      return (q.batches.all() as SealedBatch[]).map((b) => ({ ...b, wire: Buffer.from(b.wire) }));
    },

    sealNext(maxReadings, maxBytes, seal) {
      return db.transaction((): SealedBatch | undefined => {
        const rows = q.unbatched.all(maxReadings) as { id: number; json: string; bytes: number; ts: number }[];
        if (rows.length === 0) return undefined;
        let size = 0;
        let take = 0;
        while (take < rows.length && (take === 0 || size + rows[take]!.bytes <= maxBytes)) size += rows[take++]!.bytes;
        const chosen = rows.slice(0, take);
        const signed = seal(
          chosen.map((r) => r.json),
          buffer.chainHead(),
        );
        let oldest = chosen[0]!.ts;
        for (const r of chosen) oldest = Math.min(oldest, r.ts);
        const batch: SealedBatch = { ...signed, count: chosen.length, oldestTs: oldest };
        q.assign.run(batch.seq, chosen[chosen.length - 1]!.id);
        q.insertBatch.run(batch.seq, batch.epoch, batch.hash, batch.wire, batch.count, batch.oldestTs);
        q.setMeta.run(String(batch.seq), "head_seq");
        q.setMeta.run(batch.hash, "head_hash");
        unbatched -= chosen.length;
        return batch;
      })();
    },

    acknowledge(epoch, seq) {
      relaxed(() => {
        if (q.batch.get(seq, epoch) === undefined) return;
        const rows = q.batchReadings.all(seq) as { bytes: number }[];
        q.remember.run(seq);
        q.deleteBatchReadings.run(seq);
        q.deleteBatch.run(seq);
        q.forget.run(DELIVERED_MEMORY);
        depth -= rows.length;
        bytes -= rows.reduce((sum, r) => sum + r.bytes, 0);
      });
      oldestTs = depth === 0 ? null : (q.oldest.get() as number | null);
      checkAlarm();
    },

    reject(epoch, seq, reason) {
      const now = Date.now();
      db.transaction(() => {
        if (q.batch.get(seq, epoch) === undefined) return;
        const rows = q.batchReadings.all(seq) as { device: string; json: string; bytes: number }[];
        for (const r of rows) {
          q.insertDead.run(now, `uplink batch ${epoch}/${seq}`, r.device, "hub_rejected", reason.slice(0, 512), Buffer.from(r.json));
        }
        q.remember.run(seq);
        q.deleteBatchReadings.run(seq);
        q.deleteBatch.run(seq);
        depth -= rows.length;
        bytes -= rows.reduce((sum, r) => sum + r.bytes, 0);
        deadLetters += rows.length;
      })();
      oldestTs = depth === 0 ? null : (q.oldest.get() as number | null);
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

    stats: () => ({ depth, bytes, capacityBytes: opts.capacityBytes, oldestTs, deadLetters, thinned, fillAlarm: alarm }),

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
