import { createHash } from "node:crypto";
import type { InfluxDB } from "influx";
import { lit, type Row } from "../influx/query.ts";
import { readingTimestampNs } from "../ingest/points.ts";
import { INFLUXQL, type SchemaPoint, schemaPoint } from "../schema/index.ts";

const { item_trail, item_event } = INFLUXQL;
export const TRAIL_GENESIS = "0".repeat(64);

/** An object's JSON with its keys sorted at every level: the same event always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object")
    return `{${Object.keys(value)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  return JSON.stringify(value);
}

export const trailHash = (prevHash: string, event: string): string => createHash("sha256").update(`${prevHash}\n${event}`).digest("hex");

export type TrailAnswer =
  { status: "recorded" | "duplicate"; seq: number; hash: string } | { status: "conflict"; seq: number; recorded: string };

interface Entry {
  seq: number;
  key: string;
  hash: string;
  prevHash: string;
  event: string;
  time: number;
}

/**
 * The hash-chained trail of the item events accepted through the API (SCHEMA.md `item_trail`): one chain per
 * approval system, so what a system reported can be checked back afterwards as the gateways' batches are. Appends
 * are serialised per system in this process; a key already in the trail is a resend (`duplicate`, nothing written)
 * or, with other content, a `conflict`. Limit, written down: two hub copies taking the same system's events at the
 * same moment would fork its chain (give each system one hub copy's address).
 */
export class ItemTrail {
  private readonly heads = new Map<string, { seq: number; hash: string }>();
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(
    private readonly influx: InfluxDB,
    private readonly write: (points: SchemaPoint[]) => Promise<void>,
  ) {}

  /** Records `event` under `key` unless the trail has it; `store` writes the event itself first. */
  record(system: string, key: string, event: Record<string, unknown>, at: number, store: () => Promise<void>): Promise<TrailAnswer> {
    const run = async (): Promise<TrailAnswer> => {
      const json = canonicalJson(event);
      const earlier = await this.find(system, key);
      if (earlier)
        return earlier.event === json
          ? { status: "duplicate", seq: earlier.seq, hash: earlier.hash }
          : { status: "conflict", seq: earlier.seq, recorded: earlier.event };
      const head = this.heads.get(system) ?? (await this.lastOf(system));
      const seq = head.seq + 1;
      const hash = trailHash(head.hash, json);
      await store();
      await this.write([
        schemaPoint("item_trail", readingTimestampNs(at, seq), { system }, { seq, key, hash, prev_hash: head.hash, event: json }),
      ]);
      this.heads.set(system, { seq, hash });
      return { status: "recorded", seq, hash };
    };
    const previous = this.queues.get(system) ?? Promise.resolve();
    const next = previous.then(run, run);
    this.queues.set(
      system,
      next.catch(() => undefined),
    );
    return next;
  }

  private async find(system: string, key: string): Promise<Entry | undefined> {
    const rows = await this.influx.query<Row>(
      `SELECT ${item_trail.seq}, ${item_trail.key}, ${item_trail.hash}, ${item_trail.prev_hash}, ${item_trail.event} FROM ${item_trail.FROM} WHERE ${item_trail.system} = ${lit(system)} AND ${item_trail.key} = ${lit(key)} LIMIT 1`,
    );
    return rows[0] ? entry(rows[0]) : undefined;
  }

  private async lastOf(system: string): Promise<{ seq: number; hash: string }> {
    const rows = await this.influx.query<Row>(
      `SELECT ${item_trail.seq}, ${item_trail.hash} FROM ${item_trail.FROM} WHERE ${item_trail.system} = ${lit(system)} ORDER BY time DESC LIMIT 1`,
    );
    return rows[0] ? { seq: Number(rows[0].seq), hash: String(rows[0].hash) } : { seq: 0, hash: TRAIL_GENESIS };
  }
}

function entry(r: Row): Entry {
  return {
    seq: Number(r.seq),
    key: String(r.key),
    hash: String(r.hash),
    prevHash: String(r.prev_hash),
    event: String(r.event),
    time: r.time.getTime(),
  };
}

/**
 * Checks a system's trail back: consecutive sequence numbers from 1, each entry chained to the one before, each hash
 * recomputed from its event, and each event still stored as its `item_event` point. Returns what is wrong (none: intact).
 */
export async function checkTrail(influx: InfluxDB, system: string): Promise<{ entries: number; problems: string[] }> {
  const rows = await influx.query<Row>(
    `SELECT ${item_trail.seq}, ${item_trail.key}, ${item_trail.hash}, ${item_trail.prev_hash}, ${item_trail.event} FROM ${item_trail.FROM} WHERE ${item_trail.system} = ${lit(system)}`,
  );
  const entries = rows.map(entry).sort((a, b) => a.seq - b.seq);
  const problems: string[] = [];
  let prev = { seq: 0, hash: TRAIL_GENESIS };
  const stored = await influx.query<Row>(
    `SELECT ${item_event.application}, ${item_event.type}, ${item_event.seq} FROM ${item_event.FROM} WHERE ${item_event.device} = ${lit(system)}`,
  );
  const have = new Set(stored.map((r) => `${String(r.application)}\t${String(r.type)}\t${Number(r.seq)}\t${r.time.getTime()}`));
  for (const e of entries) {
    if (e.seq !== prev.seq + 1)
      problems.push(`entry ${prev.seq + 1}${e.seq > prev.seq + 1 ? `..${e.seq - 1}` : ""} missing before entry ${e.seq}`);
    if (e.prevHash !== prev.hash) problems.push(`entry ${e.seq} does not follow entry ${prev.seq} (prev_hash differs)`);
    if (trailHash(e.prevHash, e.event) !== e.hash) problems.push(`entry ${e.seq} was altered (its hash does not match its event)`);
    try {
      const ev = JSON.parse(e.event) as { applicationNo: string; type: string; seq: number; ts: number };
      if (!have.has(`${ev.applicationNo}\t${ev.type}\t${ev.seq}\t${ev.ts}`))
        problems.push(`entry ${e.seq}: its item event (${ev.applicationNo} ${ev.type}) is not in item_event`);
    } catch {
      problems.push(`entry ${e.seq}: its event is not JSON`);
    }
    prev = { seq: e.seq, hash: e.hash };
  }
  return { entries: entries.length, problems };
}
