import { createHash, createHmac } from "node:crypto";
import type { InfluxDB } from "influx";
import type { HubContext } from "../controller/extension.ts";
import { lit, type Row } from "../influx/query.ts";
import { readingTimestampNs } from "../ingest/points.ts";
import { canonicalJson } from "../items/trail.ts";
import { MEASUREMENTS, type SchemaPoint, schemaPoint } from "../schema/index.ts";
import { writeDerived } from "../supervision/store.ts";
import { siteInflux } from "../influx/regions.ts";

/**
 * The hub's own trail of what people record through its API (hub/SCHEMA.md `hub_trail`): manual entries, decisions on
 * dissatisfied ratings, warning handling. One hash chain per book; each entry holds the point written (canonical JSON)
 * and an HMAC-SHA256 with the hub's audit key over the book, seq, previous hash and that JSON, so nobody without the
 * key can add, change or remove a record unseen; `hub audit` checks the chain and that every point is still stored
 * as recorded. Appends are serialised per book in this process; two hub copies taking records of one book at the
 * same moment would fork it (the audit then reports the fork).
 */

/** `item_event`: the approval items' events the departments' systems post to the API (hub/src/items/api.ts). */
export const TRAIL_BOOKS = ["entry", "decision", "warning_handling", "item_event"] as const;
export type TrailBook = (typeof TRAIL_BOOKS)[number];
const GENESIS = "0".repeat(64);

function entryHash(key: Buffer | undefined, book: string, seq: number, prevHash: string, point: string): string {
  const text = `${book}\n${seq}\n${prevHash}\n${point}`;
  return (key ? createHmac("sha256", key) : createHash("sha256")).update(text).digest("hex");
}

const heads = new WeakMap<InfluxDB, Map<string, Promise<{ seq: number; hash: string }>>>();

/**
 * Writes `point` (through the rules' writer) and then its trail entry. Resolves once both are stored; the entry's
 * head is read from InfluxDB the first time a book is used in this process.
 */
export function writeRecorded(ctx: HubContext, book: TrailBook, point: SchemaPoint, by: string): Promise<void> {
  let byBook = heads.get(ctx.influx);
  if (!byBook) heads.set(ctx.influx, (byBook = new Map()));
  const previous = byBook.get(book) ?? lastOf(ctx.influx, book);
  const next = previous
    .catch(() => lastOf(ctx.influx, book))
    .then(async (head) => {
      const json = canonicalJson({ measurement: point.measurement, tags: point.tags, fields: point.fields, time: point.timestamp });
      const seq = head.seq + 1;
      const hash = entryHash(ctx.auditKey, book, seq, head.hash, json);
      // The recorded point where its site's points are (its region's InfluxDB), the trail in the central one.
      await writeDerived(point.tags.site ? siteInflux(ctx, point.tags.site) : ctx, [point]);
      await writeDerived(ctx, [
        schemaPoint("hub_trail", readingTimestampNs(ctx.now(), seq), { book }, { seq, hash, prev_hash: head.hash, point: json, by }),
      ]);
      return { seq, hash };
    });
  byBook.set(book, next);
  return next.then(() => undefined);
}

async function lastOf(influx: InfluxDB, book: string): Promise<{ seq: number; hash: string }> {
  const rows = await influx.query<Row>(
    `SELECT "seq", "hash" FROM "raw"."hub_trail" WHERE "book" = ${lit(book)} ORDER BY time DESC LIMIT 1`,
  );
  return rows[0] ? { seq: Number(rows[0].seq), hash: String(rows[0].hash) } : { seq: 0, hash: GENESIS };
}

export interface TrailState {
  book: string;
  entries: number;
  problems: string[];
}

/** A point the trail recorded (what `onVerified` of checkTrails is told). */
export interface RecordedPoint {
  measurement: string;
  tags: Record<string, string>;
  fields: Record<string, unknown>;
  time: string;
}

/** Checks every book: consecutive seqs, each entry chained and keyed right, each recorded point still stored as it was. */
export async function checkTrails(
  influx: InfluxDB,
  database: string,
  key: Buffer | undefined,
  /** Where a recorded point of a site is (influx.regions): its region's database; default the trail's own. */
  siteDatabase: (site: string) => { influx: InfluxDB; database: string } = () => ({ influx, database }),
  /** Told of each recorded point whose entry verifies and which is still stored as recorded. */
  onVerified?: (point: RecordedPoint) => void,
): Promise<TrailState[]> {
  const rows = await influx.query<Row>(`SELECT "seq", "hash", "prev_hash", "point", "book" FROM "raw"."hub_trail"`, { database });
  const books = new Map<string, Row[]>();
  for (const row of rows) books.set(String(row.book), [...(books.get(String(row.book)) ?? []), row]);
  const states: TrailState[] = [];
  for (const [book, entries] of [...books].sort(([a], [b]) => a.localeCompare(b))) {
    entries.sort((a, b) => Number(a.seq) - Number(b.seq));
    const problems: string[] = [];
    let prev = { seq: 0, hash: GENESIS };
    for (const e of entries) {
      const seq = Number(e.seq);
      const json = String(e.point);
      if (seq !== prev.seq + 1)
        problems.push(seq === prev.seq ? `entry ${seq} twice (a fork)` : `entries ${prev.seq + 1}..${seq - 1} missing`);
      if (String(e.prev_hash) !== prev.hash) problems.push(`entry ${seq} does not follow entry ${prev.seq}`);
      if (entryHash(key, book, seq, String(e.prev_hash), json) !== String(e.hash))
        problems.push(`entry ${seq} was altered (its digest does not verify)`);
      else {
        const missing = await changedPoint(json, (site) => (site ? siteDatabase(site) : { influx, database }));
        if (missing) problems.push(`entry ${seq}: ${missing}`);
        else onVerified?.(JSON.parse(json) as RecordedPoint);
      }
      prev = { seq, hash: String(e.hash) };
    }
    states.push({ book, entries: entries.length, problems });
  }
  return states;
}

/** Why the recorded point is no longer stored as recorded, or undefined. */
async function changedPoint(
  json: string,
  where: (site: string | undefined) => { influx: InfluxDB; database: string },
): Promise<string | undefined> {
  let p: RecordedPoint;
  try {
    p = JSON.parse(json) as RecordedPoint;
  } catch {
    return "its point is not JSON";
  }
  const schema = MEASUREMENTS[p.measurement as keyof typeof MEASUREMENTS];
  if (!schema || !/^\d{1,19}$/.test(p.time)) return `its point names ${JSON.stringify(p.measurement).slice(0, 40)}`;
  const { influx, database } = where(typeof p.tags?.site === "string" ? p.tags.site : undefined);
  const raw = (await influx.queryRaw(`SELECT * FROM "${schema.policy}"."${p.measurement}" WHERE time = ${p.time} GROUP BY *`, {
    database,
  })) as { results: Array<{ series?: Array<{ tags?: Record<string, string>; columns: string[]; values: unknown[][] }> }> };
  const what = `${p.measurement} ${Object.values(p.tags).join("/")} at ${new Date(Number(p.time.slice(0, -6) || "0")).toISOString()}`;
  for (const s of raw.results[0]?.series ?? []) {
    const tags = Object.fromEntries(Object.entries(s.tags ?? {}).filter(([, v]) => v !== ""));
    if (canonicalJson(tags) !== canonicalJson(p.tags)) continue;
    for (const row of s.values) {
      const fields: Record<string, unknown> = {};
      s.columns.forEach((c, i) => {
        if (c !== "time" && row[i] !== null && !(c in (s.tags ?? {}))) fields[c] = row[i];
      });
      return canonicalJson(fields) === canonicalJson(p.fields) ? undefined : `${what} was altered`;
    }
  }
  return `${what} was deleted`;
}
