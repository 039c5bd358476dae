import { type InfluxDB, escape as influxEscape } from "influx";

/**
 * Reads the hash chain back from the `uplink_batch` measurement, which all hub copies share. A small cache
 * of stored (epoch, seq) → hash saves queries; it only holds facts already in InfluxDB, so copies stay stateless.
 */
export class ChainStore {
  private readonly cache = new Map<string, string>();

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
   * (a batch's predecessor and its replays were created close to it; the window keeps the scan small).
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
    const rows = await this.influx.query<{ seq: number; hash: string }>(
      `SELECT "seq", "hash" FROM "raw"."uplink_batch" WHERE "gateway" = ${influxEscape.stringLit(gatewayId)} AND "epoch" = ${influxEscape.stringLit(epoch)}` +
        ` AND (${missing.map((s) => `"seq" = ${Math.trunc(s)}`).join(" OR ")})` +
        ` AND time >= ${Math.max(0, aroundMs - windowMs)}ms AND time <= ${aroundMs + windowMs}ms`,
      { database: this.database },
    );
    for (const row of rows) {
      found.set(row.seq, row.hash);
      this.remember(gatewayId, epoch, row.seq, row.hash);
    }
    return found;
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
