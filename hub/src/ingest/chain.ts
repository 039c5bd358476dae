import { type InfluxDB, escape as influxEscape } from "influx";

interface Lookup {
  gatewayId: string;
  epoch: string;
  seqs: number[];
  fromMs: number;
  toMs: number;
  resolve(rows: Map<number, string>): void;
  reject(error: Error): void;
}

/** Lookups that share one query at most (keeps the InfluxQL statement small). */
const LOOKUPS_PER_QUERY = 100;

/**
 * Reads the hash chain back from the `uplink_batch` measurement, which all hub copies share. A small cache
 * of stored (epoch, seq) → hash saves queries; it only holds facts already in InfluxDB, so copies stay stateless.
 * Lookups that arrive while a query is out share the next one: with many batches in flight from many gateways,
 * one query per batch cost influxd as much CPU as storing the batch's readings.
 */
export class ChainStore {
  private readonly cache = new Map<string, string>();
  private pending: Lookup[] = [];
  private querying = false;

  constructor(
    private readonly influx: InfluxDB,
    private readonly database: string,
    private readonly cacheSize = 50_000,
  ) {}

  private static key(gatewayId: string, epoch: string, seq: number): string {
    return `${gatewayId}/${epoch}/${seq}`;
  }

  remember(gatewayId: string, epoch: string, seq: number, hash: string): void {
    const key = ChainStore.key(gatewayId, epoch, seq);
    this.cache.delete(key);
    this.cache.set(key, hash);
    if (this.cache.size > this.cacheSize) this.cache.delete(this.cache.keys().next().value as string);
  }

  /**
   * Stored hashes of seqs of one epoch, looked up among batches created within `windowMs` of `aroundMs`
   * (a batch's predecessor and its replays were created close to it; the window keeps the scan small; lookups
   * sharing a query scan the union of their windows, which finds the same rows).
   */
  async hashes(gatewayId: string, epoch: string, seqs: number[], aroundMs: number, windowMs: number): Promise<Map<number, string>> {
    const found = new Map<number, string>();
    const missing: number[] = [];
    for (const seq of seqs) {
      const hash = this.cache.get(ChainStore.key(gatewayId, epoch, seq));
      if (hash === undefined) missing.push(seq);
      else found.set(seq, hash);
    }
    if (missing.length === 0) return found;
    const fromMs = Math.max(0, aroundMs - windowMs);
    const rows = await new Promise<Map<number, string>>((resolve, reject) => {
      this.pending.push({ gatewayId, epoch, seqs: missing, fromMs, toMs: aroundMs + windowMs, resolve, reject });
      if (!this.querying) void this.drain();
    });
    for (const [seq, hash] of rows) {
      found.set(seq, hash);
      this.remember(gatewayId, epoch, seq, hash);
    }
    return found;
  }

  /** Runs the waiting lookups, many per query, until none wait; one query is out at a time. */
  private async drain(): Promise<void> {
    this.querying = true;
    try {
      while (this.pending.length > 0) {
        const group = this.pending.splice(0, LOOKUPS_PER_QUERY);
        try {
          const rows = await this.query(group);
          for (const lookup of group) {
            const mine = new Map<number, string>();
            for (const row of rows)
              if (row.gateway === lookup.gatewayId && row.epoch === lookup.epoch && lookup.seqs.includes(row.seq))
                mine.set(row.seq, row.hash);
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

  private query(group: Lookup[]): Promise<Array<{ gateway: string; epoch: string; seq: number; hash: string }>> {
    const lit = influxEscape.stringLit;
    const conditions = group.map(
      (l) =>
        `("gateway" = ${lit(l.gatewayId)} AND "epoch" = ${lit(l.epoch)} AND (${l.seqs.map((s) => `"seq" = ${Math.trunc(s)}`).join(" OR ")}))`,
    );
    const fromMs = Math.min(...group.map((l) => l.fromMs));
    const toMs = Math.max(...group.map((l) => l.toMs));
    return this.influx.query(
      `SELECT "seq", "hash", "epoch", "gateway" FROM "raw"."uplink_batch" WHERE (${conditions.join(" OR ")})` +
        ` AND time >= ${fromMs}ms AND time <= ${toMs}ms`,
      { database: this.database },
    );
  }

  /** Whether the gateway stored batches of another epoch before `beforeMs` (within `windowMs`). */
  async hadOtherEpoch(gatewayId: string, epoch: string, beforeMs: number, windowMs: number): Promise<boolean> {
    const rows = await this.influx.query(
      `SELECT "seq" FROM "raw"."uplink_batch" WHERE "gateway" = ${influxEscape.stringLit(gatewayId)} AND "epoch" != ${influxEscape.stringLit(epoch)}` +
        ` AND time >= ${Math.max(0, beforeMs - windowMs)}ms AND time <= ${beforeMs}ms LIMIT 1`,
      { database: this.database },
    );
    return rows.length > 0;
  }
}
