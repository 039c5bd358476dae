import type { Logger } from "pino";
import type { LineWriter } from "../influx/line-writer.ts";

/**
 * The encoded points (line protocol) of one unit of work (a gateway batch, a status), by retention policy.
 * `compact()` joins what was added into one string per policy: callers do it before they await anything, so a
 * batch's thousand small strings never outlive the tick that made them (kept across a chain lookup, they were
 * promoted to the old generation and cost more to collect than to make).
 */
export class LineGroups {
  private readonly byPolicy = new Map<string, string[]>();
  /** Points added so far. */
  points = 0;

  add(policy: string, line: string): void {
    const list = this.byPolicy.get(policy);
    if (list) list.push(line);
    else this.byPolicy.set(policy, [line]);
    this.points++;
  }

  compact(): this {
    for (const [policy, list] of this.byPolicy) if (list.length > 1) this.byPolicy.set(policy, [list.join("\n")]);
    return this;
  }

  /** Each policy's text, newline-separated. */
  bodies(): Map<string, string> {
    this.compact();
    return new Map([...this.byPolicy].map(([policy, list]) => [policy, list[0] as string]));
  }
}

interface Unit {
  /** Each policy's lines joined into one body at once, so the unit holds a few strings while it waits, not thousands. */
  bodies: Map<string, string>;
  count: number;
  resolve(): void;
  reject(e: Error): void;
}

export interface WriterOptions {
  write: LineWriter;
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
  write(lines: LineGroups): Promise<void> {
    if (!this.running) return Promise.reject(new WriterStoppedError());
    const count = lines.points;
    const bodies = lines.bodies();
    return new Promise((resolve, reject) => {
      this.queue.push({ bodies, count, resolve, reject });
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
    const merged = new Map<string, string[]>();
    for (const unit of units)
      for (const [policy, body] of unit.bodies) {
        const into = merged.get(policy);
        if (into) into.push(body);
        else merged.set(policy, [body]);
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

  /**
   * One write per policy, health before raw, so a batch's uplink_batch point (raw, last) is only written after its
   * other points. take() keeps a write at about batchPoints; a single larger unit goes whole (a gateway batch is at
   * most 4 MiB on the wire, well under influxd's 25 MB request limit).
   */
  private async writeAll(merged: Map<string, string[]>): Promise<void> {
    const policies = [...merged.keys()].sort((a, b) => (a === "raw" ? 1 : b === "raw" ? -1 : a.localeCompare(b)));
    for (const policy of policies) {
      const bodies = merged.get(policy) as string[];
      await this.opts.write(bodies.length === 1 ? (bodies[0] as string) : bodies.join("\n"), policy, this.opts.writeTimeoutMs ?? 15_000);
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
