import type { InfluxDB } from "influx";
import { lit, ns, type Row } from "../influx/query.ts";
import { INFLUXQL } from "../schema/index.ts";
import type { StoredItemEvent } from "./cases.ts";

const { item_event, queue_event } = INFLUXQL;

/** Open applications older than this are not followed (the longest legal limits are a few months). */
export const ITEM_LOOKBACK_DAYS = 400;

const text = (v: unknown): string | undefined => (v === null || v === undefined || v === "" ? undefined : String(v));

/** The item events of a site (or of every site) from `from` to `to` (UTC ms), oldest first. */
export async function queryItemEvents(influx: InfluxDB, where: { site?: string; from: number; to: number }): Promise<StoredItemEvent[]> {
  const site = where.site === undefined ? "" : ` AND ${item_event.site} = ${lit(where.site)}`;
  const rows = await influx.query<Row>(
    `SELECT ${item_event.type}, ${item_event.application}, ${item_event.item}, ${item_event.device}, ${item_event.outcome}, ` +
      `${item_event.window}, ${item_event.clerk}, ${item_event.step}, ${item_event.handler}, ${item_event.result}, ${item_event.reason}, ${item_event.txn} ` +
      `FROM ${item_event.FROM} WHERE time >= ${ns(where.from)} AND time <= ${ns(where.to)}${site}`,
  );
  return rows.map((r) => ({
    time: r.time.getTime(),
    type: String(r.type) as StoredItemEvent["type"],
    application: String(r.application),
    item: String(r.item),
    device: String(r.device),
    outcome: text(r.outcome) as StoredItemEvent["outcome"],
    window: text(r.window),
    clerk: text(r.clerk),
    step: text(r.step),
    handler: text(r.handler),
    result: text(r.result),
    reason: text(r.reason),
    txn: text(r.txn),
  }));
}

export interface StoredQueueEvent {
  time: number;
  type: "ticket" | "called" | "started" | "finished";
  txn: string;
  window: string | undefined;
  application: string | undefined;
  clerk: string | undefined;
  item: string | undefined;
}

/** The queue system's events of a site from `from` to `to`. */
export async function queryQueueEvents(influx: InfluxDB, where: { site: string; from: number; to: number }): Promise<StoredQueueEvent[]> {
  const rows = await influx.query<Row>(
    `SELECT ${queue_event.type}, ${queue_event.txn}, ${queue_event.window}, ${queue_event.application}, ${queue_event.clerk}, ${queue_event.item} FROM ${queue_event.FROM} ` +
      `WHERE time >= ${ns(where.from)} AND time <= ${ns(where.to)} AND ${queue_event.site} = ${lit(where.site)}`,
  );
  return rows.map((r) => ({
    time: r.time.getTime(),
    type: String(r.type) as StoredQueueEvent["type"],
    txn: String(r.txn),
    window: text(r.window),
    application: text(r.application),
    clerk: text(r.clerk),
    item: text(r.item),
  }));
}
