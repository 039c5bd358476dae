import type { InfluxDB, IPoint } from "influx";
import type { Logger } from "pino";

/** Points of one unit of work (a gateway batch, a status), grouped by retention policy. */
export type PointsByPolicy = Map<string, IPoint[]>;

interface Unit {
  points: PointsByPolicy;
  count: number;
  resolve(): void;
  reject(e: Error): void;
}

export interface WriterOptions {
  influx: InfluxDB;
  database: string;
  logger: Logger;
  /** Points per InfluxDB write request; the points of many units are merged up to this. */
  batchPoints: number;
  /** Writes in flight at once (default 2). */
  concurrency?: number;
  /** How long the first unit waits for company before a write. */
  lingerMs?: number;
  /** A write that takes longer counts as failed and is retried (InfluxDB overwrites identical points). */
  writeTimeoutMs?: number;
  onWrite?(points: number, seconds: number): void;
  onInfluxState?(up: boolean): void;
}

export class WriterStoppedError extends Error {
  constructor() {
    super("ingest writer stopped before the points were stored");
  }
}

/**
 * Merges the points of many units into large line-protocol writes, retries with backoff while InfluxDB is down
 * or slow, and settles a unit's promise only once all its points are stored: callers acknowledge after that.
 */
export class PointWriter {
  private queue: Unit[] = [];
  private queuedPoints = 0;
  private running = true;
  private waiters: Array<() => void> = [];
  private readonly loops: Promise<void>[];
  influxUp = true;

  constructor(private readonly opts: WriterOptions) {
    // Two writes in flight: one is being serialised and sent while InfluxDB works on the other.
    this.loops = Array.from({ length: opts.concurrency ?? 2 }, () => this.run());
  }

  /** Resolves when every point is stored. */
  write(points: PointsByPolicy): Promise<void> {
    if (!this.running) return Promise.reject(new WriterStoppedError());
    let count = 0;
    for (const list of points.values()) count += list.length;
    return new Promise((resolve, reject) => {
      this.queue.push({ points, count, resolve, reject });
      this.queuedPoints += count;
      this.waiters.shift()?.();
    });
  }

  get pendingPoints(): number {
    return this.queuedPoints;
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const wake of this.waiters.splice(0)) wake();
    await Promise.all(this.loops);
    for (const unit of this.queue.splice(0)) unit.reject(new WriterStoppedError());
  }

  private async run(): Promise<void> {
    while (this.running) {
      if (this.queue.length === 0) await new Promise<void>((r) => this.waiters.push(r));
      if (!this.running) return;
      if (this.queuedPoints < this.opts.batchPoints) await sleep(this.opts.lingerMs ?? 5);
      const units = this.take();
      if (units.length > 0) await this.storeWithRetry(units);
    }
  }

  /** Units whose points fit one write (at least one unit, however large). */
  private take(): Unit[] {
    const units: Unit[] = [];
    let points = 0;
    while (this.queue.length > 0) {
      const next = this.queue[0] as Unit;
      if (units.length > 0 && points + next.count > this.opts.batchPoints) break;
      units.push(this.queue.shift() as Unit);
      points += next.count;
    }
    this.queuedPoints -= points;
    return units;
  }

  private async storeWithRetry(units: Unit[]): Promise<void> {
    const merged: PointsByPolicy = new Map();
    for (const unit of units)
      for (const [policy, list] of unit.points) {
        const into = merged.get(policy) ?? [];
        for (const p of list) into.push(p);
        merged.set(policy, into);
      }
    let backoffMs = 100;
    for (;;) {
      try {
        const started = process.hrtime.bigint();
        await this.writeAll(merged);
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        this.opts.onWrite?.(
          units.reduce((n, u) => n + u.count, 0),
          seconds,
        );
        this.setInfluxState(true);
        for (const unit of units) unit.resolve();
        return;
      } catch (e) {
        this.setInfluxState(false);
        this.opts.logger.warn({ err: (e as Error).message, retryInMs: backoffMs }, "influxdb write failed; not acknowledging, will retry");
        if (!this.running) {
          for (const unit of units) unit.reject(new WriterStoppedError());
          return;
        }
        await sleep(backoffMs);
        backoffMs = Math.min(backoffMs * 2, 5_000);
      }
    }
  }

  /** health before raw, so a batch's uplink_batch point (raw, last) is only written after its other points. */
  private async writeAll(merged: PointsByPolicy): Promise<void> {
    const policies = [...merged.keys()].sort((a, b) => (a === "raw" ? 1 : b === "raw" ? -1 : a.localeCompare(b)));
    for (const policy of policies) {
      const list = merged.get(policy) as IPoint[];
      for (let i = 0; i < list.length; i += this.opts.batchPoints) {
        const chunk = list.slice(i, i + this.opts.batchPoints);
        await withTimeout(
          this.opts.influx.writePoints(chunk, { database: this.opts.database, retentionPolicy: policy, precision: "n" }),
          this.opts.writeTimeoutMs ?? 15_000,
        );
      }
    }
  }

  /** Also told by readers (chain lookups), so status() shows an outage before the next write fails. */
  setInfluxState(up: boolean): void {
    if (this.influxUp === up) return;
    this.influxUp = up;
    this.opts.onInfluxState?.(up);
    this.opts.logger.info({ up }, up ? "influxdb writes recovered" : "influxdb unavailable");
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`influxdb did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
