import type Database from "better-sqlite3";
import { RANGE_JSON_SQL } from "./schema.ts";

/** Every statement the buffer runs, prepared once when it opens. */
export function prepareStatements(db: Database.Database) {
  return {
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
}
export type Statements = ReturnType<typeof prepareStatements>;
