import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { GENESIS_HASH } from "@supervision/firmware-protocols";
import Database from "better-sqlite3";
import { splitWire } from "./wire-parts.ts";

/** Version 0: batches kept their wire and readings a batch column (before PRAGMA user_version was set). */
export const SCHEMA_VERSION = 1;
/** A range's reading JSON, comma-joined in id order as one UTF-8 buffer: how a batch's wire is rebuilt. */
export const RANGE_JSON_SQL = "SELECT CAST(group_concat(json, ',' ORDER BY id) AS BLOB) FROM readings WHERE id BETWEEN ? AND ?";

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
 * Opens (or creates) the buffer file, durable: WAL, so readers never block the writer and a commit is one sequential
 * append to the log; synchronous=FULL, so the WAL is fsynced at every commit (NORMAL could lose the last commits on
 * power loss). Brings the schema up to date and sets the chain's epoch and genesis head in a new file.
 */
export function openDatabase(path: string): Database.Database {
  mkdirSync(dirname(path), { recursive: true });
  let db: Database.Database;
  try {
    db = new Database(path);
  } catch (error) {
    // SQLite alone says "unable to open database file": name the file and the usual fix.
    throw new Error(
      `cannot open the buffer ${path} (${(error as Error).message}): the folder ${dirname(path)} and the file must be writable by uid ${process.getuid?.() ?? "?"}; fix the owner (chown) or set dataDir`,
      { cause: error },
    );
  }
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.pragma("busy_timeout = 5000");
  migrate(db);
  db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('epoch', ?)").run(randomBytes(8).toString("hex"));
  db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('head_seq', '0')").run();
  db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('head_hash', ?)").run(GENESIS_HASH);
  db.prepare("INSERT OR IGNORE INTO counters (name, value) VALUES ('thinned', 0)").run();
  return db;
}
