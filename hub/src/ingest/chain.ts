import { type InfluxDB, escape as influxEscape } from "influx";
import type { Point } from "../influx/line-protocol.ts";
import { MEASUREMENT } from "../schema/index.ts";
import { sleep } from "./writer.ts";

/** One stored link of a gateway's chain: the batch's hash and the hash it named as its predecessor. */
export interface ChainLink {
  hash: string;
  prevHash: string;
}

interface Lookup {
  gatewayId: string;
  epoch: string;
  seqs: number[];
  resolve(rows: Map<number, ChainLink>): void;
  reject(error: Error): void;
}

/** Lookups that share one query at most (keeps the InfluxQL statement small). */
const LOOKUPS_PER_QUERY = 100;

/**
 * The `batch_chain` point of a stored batch (hub/SCHEMA.md): in the `chain` policy, which never expires, timestamped
 * by its sequence number (seq ns after 1970), tagged with gateway and epoch. Its identity is (gateway, epoch, seq)
 * whatever the batch's creation time says, so a back-dated copy finds the original, after any restart and from any
 * hub copy; and every lookup reads one shard.
 */
export function batchChainPoint(
  b: { gatewayId: string; epoch: string; seq: number; prevHash: string; createdAt: number; readings: number },
  hash: string,
): Point {
  return {
    measurement: MEASUREMENT.batch_chain,
    timestamp: String(b.seq),
    tags: { epoch: b.epoch, gateway: b.gatewayId },
    fields: { seq: b.seq, hash, prev_hash: b.prevHash, created_at: b.createdAt, readings: b.readings },
  };
}

/**
 * Reads each gateway's hash chain back from `chain.batch_chain`, which all hub copies share, by (epoch, seq). A small
 * cache of stored links saves queries; it only holds facts already in InfluxDB, so copies stay stateless. Lookups that
 * arrive while a query is out share the next one: with many batches in flight from many gateways, one query per
 * batch cost influxd as much CPU as storing the batch's readings.
 */
export class ChainStore {
  private readonly cache = new Map<string, ChainLink>();
  private pending: Lookup[] = [];
  private querying = false;

  constructor(
    private readonly influx: InfluxDB,
    private readonly database: string,
    private readonly cacheSize = 50_000,
    /** How long a lookup waits for others to share its query. */
    private readonly lingerMs = 5,
  ) {}

  private static key(gatewayId: string, epoch: string, seq: number): string {
    return `${gatewayId}/${epoch}/${seq}`;
  }

  remember(gatewayId: string, epoch: string, seq: number, link: ChainLink): void {
    const key = ChainStore.key(gatewayId, epoch, seq);
    this.cache.delete(key);
    this.cache.set(key, link);
    if (this.cache.size > this.cacheSize) this.cache.delete(this.cache.keys().next().value as string);
  }

  /** The stored links of these seqs of one epoch (those not stored are absent from the map). */
  async links(gatewayId: string, epoch: string, seqs: number[]): Promise<Map<number, ChainLink>> {
    const found = new Map<number, ChainLink>();
    const missing: number[] = [];
    for (const seq of seqs) {
      if (seq < 1) continue;
      const link = this.cache.get(ChainStore.key(gatewayId, epoch, seq));
      if (link === undefined) missing.push(seq);
      else found.set(seq, link);
    }
    if (missing.length === 0) return found;
    const rows = await new Promise<Map<number, ChainLink>>((resolve, reject) => {
      this.pending.push({ gatewayId, epoch, seqs: missing, resolve, reject });
      if (!this.querying) void this.drain();
    });
    for (const [seq, link] of rows) {
      found.set(seq, link);
      this.remember(gatewayId, epoch, seq, link);
    }
    return found;
  }

  /** Runs the waiting lookups, many per query, until none wait; one query is out at a time. */
  private async drain(): Promise<void> {
    this.querying = true;
    try {
      while (this.pending.length > 0) {
        // Lookups wait a moment for company, as the writer's first unit does: with many batches in flight a query
        // then answers a dozen batches instead of three (the hub bench: 20 queries instead of 42, and both influxd
        // and the hub spent less per reading; the ack comes a few ms later).
        if (this.pending.length < LOOKUPS_PER_QUERY && this.lingerMs > 0) await sleep(this.lingerMs);
        const group = this.pending.splice(0, LOOKUPS_PER_QUERY);
        try {
          const rows = await this.query(group);
          for (const lookup of group) {
            const mine = new Map<number, ChainLink>();
            for (const row of rows)
              if (
                row.gateway === lookup.gatewayId &&
                row.epoch === lookup.epoch &&
                lookup.seqs.includes(row.seq) &&
                // influxd stores a point's fields one by one: while another hub copy's write of this point is under
                // way, a query can see its seq without its hash. Not stored yet (that copy has not acked it);
                // read as a link, its null hash made a good neighbour look altered.
                typeof row.hash === "string" &&
                typeof row.prev_hash === "string"
              )
                mine.set(row.seq, { hash: row.hash, prevHash: row.prev_hash });
            lookup.resolve(mine);
          }
        } catch (e) {
          for (const lookup of group) lookup.reject(e as Error);
        }
      }
    } finally {
      this.querying = false;
    }
  }

  private query(
    group: Lookup[],
  ): Promise<Array<{ gateway: string; epoch: string; seq: number; hash: string | null; prev_hash: string | null }>> {
    const lit = influxEscape.stringLit;
    // InfluxQL allows time only at the top level (not inside OR): each lookup names its seqs as a field condition.
    const conditions = group.map(
      (l) =>
        `("gateway" = ${lit(l.gatewayId)} AND "epoch" = ${lit(l.epoch)} AND (${l.seqs.map((s) => `"seq" = ${Math.trunc(s)}`).join(" OR ")}))`,
    );
    const seqs = group.flatMap((l) => l.seqs);
    return this.influx.query(
      `SELECT "seq", "hash", "prev_hash", "epoch", "gateway" FROM "chain"."batch_chain" WHERE (${conditions.join(" OR ")})` +
        ` AND time >= ${Math.trunc(Math.min(...seqs))} AND time <= ${Math.trunc(Math.max(...seqs))}`,
      { database: this.database },
    );
  }

  /** Whether the gateway stored batches of any other epoch (a new epoch is then a chain restart). */
  async hadOtherEpoch(gatewayId: string, epoch: string): Promise<boolean> {
    const rows = await this.influx.query(
      `SELECT "seq" FROM "chain"."batch_chain" WHERE "gateway" = ${influxEscape.stringLit(gatewayId)} AND "epoch" != ${influxEscape.stringLit(epoch)} LIMIT 1`,
      { database: this.database },
    );
    return rows.length > 0;
  }
}
