import { mkdirSync } from "node:fs";
import { join } from "node:path";
import {
  type GatewayDevice,
  PRESENCE_MAX_GAPS,
  PRESENCE_SILENCE_FACTOR,
  type PresenceGap,
  type PresenceReport,
  presenceChangeTs,
  type Reading,
} from "@supervision/firmware-protocols";
import Database from "better-sqlite3";
import type { Logger } from "pino";
import type { DeadLetter, ReadingSink } from "../buffer/types.ts";

/** What the gateway knows of one device's heartbeats (kept in presence.db, one row a device). */
interface DeviceState {
  intervalS: number;
  /** Device time of the newest heartbeat; null before the first. */
  lastSeenTs: number | null;
  /** Gateway time the last heartbeat arrived (the offline timer runs on the gateway's clock). */
  lastRx: number | null;
  /** The last heartbeat's identity: the same one again (a resend after a lost PUBACK) is a duplicate. */
  lastSeq: number | null;
  lastTs: number | null;
  state: "online" | "offline" | null;
  /** The next presence report's seq. */
  nextSeq: number;
  period: { fromTs: number; count: number; firstSeenTs: number | null; lastSeenTs: number | null; gaps: PresenceGap[] };
}

export interface PresenceOptions {
  /** Where the presence readings go: the durable buffer. */
  sink: ReadingSink;
  /** The folder of presence.db; absent: state in memory only (tests). */
  dataDir?: string;
  /** The summary period, ms (aligned to the gateway's clock). */
  summaryMs: number;
  now?: () => number;
  logger?: Logger;
}

/**
 * Heartbeats summarised (firmware-protocols PROTOCOL.md 4.1): instead of buffering each heartbeat, the gateway keeps
 * each device's state and buffers a `presence` reading when a device goes offline or comes back, and a summary per
 * device and period. A heartbeat is acknowledged once its effect is durable: the state change (if any) in the buffer
 * and the device's state in presence.db. A report is buffered before the state that made it is written, so a crash
 * in between makes the same report again (same seq and ts: the buffer refuses it as a duplicate).
 */
export class PresenceTracker {
  readonly #sink: ReadingSink;
  readonly #summaryMs: number;
  readonly #now: () => number;
  readonly #logger: Logger | undefined;
  readonly #db: Database.Database | undefined;
  readonly #put: Database.Statement | undefined;
  readonly #delete: Database.Statement | undefined;
  #states = new Map<string, DeviceState>();
  #intervals = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> = Promise.resolve();
  #pending = new Map<string, DeviceState>();
  #flush: { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void } | undefined;
  /** Reports buffered (by type), for tests and metrics. */
  readonly made = { online: 0, offline: 0, summary: 0 };

  constructor(options: PresenceOptions) {
    this.#sink = options.sink;
    this.#summaryMs = options.summaryMs;
    this.#now = options.now ?? Date.now;
    this.#logger = options.logger;
    if (options.dataDir !== undefined) {
      mkdirSync(options.dataDir, { recursive: true });
      this.#db = new Database(join(options.dataDir, "presence.db"));
      this.#db.pragma("journal_mode = WAL");
      this.#db.pragma("synchronous = FULL");
      this.#db.exec("CREATE TABLE IF NOT EXISTS devices (id TEXT PRIMARY KEY, state TEXT NOT NULL)");
      this.#put = this.#db.prepare("INSERT INTO devices (id, state) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET state = excluded.state");
      this.#delete = this.#db.prepare("DELETE FROM devices WHERE id = ?");
      const now = this.#now();
      for (const row of this.#db.prepare("SELECT id, state FROM devices").all() as { id: string; state: string }[]) {
        const state = JSON.parse(row.state) as DeviceState;
        // Silence while the gateway was down is not the device's: its offline timer starts again now.
        if (state.lastRx !== null) state.lastRx = Math.max(state.lastRx, now);
        this.#states.set(row.id, state);
      }
    }
  }

  /** The configured devices: their promised interval until they send one; removed devices are forgotten. */
  setDevices(devices: readonly GatewayDevice[]): void {
    this.#intervals = new Map(devices.map((d) => [d.id, d.heartbeatS]));
    for (const id of [...this.#states.keys()])
      if (!this.#intervals.has(id)) {
        this.#states.delete(id);
        this.#delete?.run(id);
      }
  }

  /** Checks every second for silences past the threshold and for ended periods. */
  start(): void {
    this.#timer ??= setInterval(() => void this.tick(), 1000);
    this.#timer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#ticking;
    await this.#flush?.promise.catch(() => undefined);
    this.#db?.close();
  }

  /** A heartbeat: resolves once its effect is durable ("duplicate" for one already counted). */
  async heartbeat(r: Reading & { intervalS: number }): Promise<"stored" | "duplicate"> {
    await this.#ticking;
    const now = this.#now();
    const known = this.#states.get(r.deviceId);
    if (known && known.lastSeq === r.seq && known.lastTs === r.ts) return "duplicate";
    const before = known ? structuredClone(known) : undefined;
    const e = known ?? this.#fresh(r.deviceId, now);
    const reports: PresenceReport[] = [];
    const prev = e.lastSeenTs;
    const silent = prev !== null && r.ts - prev > silenceMs(e.intervalS);
    // A silence the timer did not see end (the gateway was down): its offline report first, at its moment.
    if (prev !== null && silent && e.state === "online") {
      reports.push(this.#report(r.deviceId, e, "offline", prev));
      e.state = "offline";
    }
    if (prev !== null && r.ts > prev && (silent || e.state === "offline")) this.#gap(r.deviceId, e, { fromTs: prev, toTs: r.ts });
    if (e.state !== "online") {
      reports.push(this.#report(r.deviceId, e, "online", r.ts));
      e.state = "online";
    }
    e.intervalS = r.intervalS;
    e.lastSeenTs = prev === null ? r.ts : Math.max(prev, r.ts);
    e.lastRx = now;
    e.lastSeq = r.seq;
    e.lastTs = r.ts;
    e.period.count++;
    e.period.firstSeenTs ??= r.ts;
    e.period.lastSeenTs = e.period.lastSeenTs === null ? r.ts : Math.max(e.period.lastSeenTs, r.ts);
    this.#states.set(r.deviceId, e);
    try {
      for (const report of reports) await this.#buffer(report);
      await this.#persist(r.deviceId, e);
    } catch (error) {
      // Not acknowledged: the device sends it again and finds the state as it was.
      if (before) this.#states.set(r.deviceId, before);
      else this.#states.delete(r.deviceId);
      throw error;
    }
    return "stored";
  }

  /** Buffers the offline reports and summaries due at the gateway's `now` (the timer calls it every second). */
  tick(): Promise<void> {
    this.#ticking = this.#ticking
      .then(() => this.#tick())
      .catch((error: Error) => this.#logger?.error({ err: error }, "presence reports not buffered; trying again"));
    return this.#ticking;
  }

  async #tick(): Promise<void> {
    const now = this.#now();
    for (const [id, e] of this.#states) {
      const reports: PresenceReport[] = [];
      const before = structuredClone(e);
      if (e.state === "online" && e.lastRx !== null && e.lastSeenTs !== null && now - e.lastRx > silenceMs(e.intervalS)) {
        reports.push(this.#report(id, e, "offline", e.lastSeenTs));
        e.state = "offline";
      }
      if (now >= e.period.fromTs + this.#summaryMs) {
        if (e.state !== null) reports.push(this.#summary(id, e));
        e.period = { fromTs: this.#periodStart(now), count: 0, firstSeenTs: null, lastSeenTs: null, gaps: [] };
      }
      if (reports.length === 0) continue;
      try {
        for (const report of reports) await this.#buffer(report);
        await this.#persist(id, e);
      } catch (error) {
        if (this.#states.get(id) === e) this.#states.set(id, before);
        throw error;
      }
    }
  }

  /** Each device's state as the gateway sees it (for tests and status). */
  states(): Map<string, { state: "online" | "offline" | null; lastSeenTs: number | null; count: number }> {
    return new Map([...this.#states].map(([id, e]) => [id, { state: e.state, lastSeenTs: e.lastSeenTs, count: e.period.count }]));
  }

  #fresh(deviceId: string, now: number): DeviceState {
    return {
      intervalS: this.#intervals.get(deviceId) ?? 60,
      lastSeenTs: null,
      lastRx: null,
      lastSeq: null,
      lastTs: null,
      state: null,
      nextSeq: 1,
      period: { fromTs: this.#periodStart(now), count: 0, firstSeenTs: null, lastSeenTs: null, gaps: [] },
    };
  }

  #periodStart(now: number): number {
    return Math.floor(now / this.#summaryMs) * this.#summaryMs;
  }

  #gap(deviceId: string, e: DeviceState, gap: PresenceGap): void {
    if (e.period.gaps.length < PRESENCE_MAX_GAPS) e.period.gaps.push(gap);
    else this.#logger?.warn({ deviceId, gap }, "more silences in one period than a summary holds; the state changes record them");
  }

  #report(deviceId: string, e: DeviceState, type: "online" | "offline", lastSeenTs: number): PresenceReport {
    const ts = presenceChangeTs(type, lastSeenTs, e.intervalS);
    return { deviceId, seq: e.nextSeq++, ts, type, intervalS: e.intervalS, lastSeenTs };
  }

  #summary(deviceId: string, e: DeviceState): PresenceReport {
    const p = e.period;
    const toTs = p.fromTs + this.#summaryMs;
    return {
      deviceId,
      seq: e.nextSeq++,
      ts: toTs,
      type: "summary",
      intervalS: e.intervalS,
      fromTs: p.fromTs,
      toTs,
      count: p.count,
      ...(p.firstSeenTs !== null && p.lastSeenTs !== null ? { firstSeenTs: p.firstSeenTs, lastSeenTs: p.lastSeenTs } : {}),
      gaps: p.gaps,
      state: e.state === "online" ? "online" : "offline",
    };
  }

  async #buffer(report: PresenceReport): Promise<void> {
    await this.#sink.append({ kind: "presence", ...report, rxTs: report.ts });
    this.made[report.type]++;
  }

  /** Writes a device's state; writes arriving together share one transaction (one fsync). */
  #persist(deviceId: string, e: DeviceState): Promise<void> {
    if (!this.#db) return Promise.resolve();
    this.#pending.set(deviceId, e);
    if (!this.#flush) {
      let resolve!: () => void;
      let reject!: (e: Error) => void;
      const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
      this.#flush = { promise, resolve, reject };
      setImmediate(() => {
        const flush = this.#flush!;
        const rows = [...this.#pending];
        this.#flush = undefined;
        this.#pending = new Map();
        try {
          this.#db!.transaction(() => {
            for (const [id, state] of rows) this.#put!.run(id, JSON.stringify(state));
          })();
          flush.resolve();
        } catch (error) {
          flush.reject(error as Error);
        }
      });
    }
    return this.#flush.promise;
  }
}

/** Silence past this many ms means offline. */
function silenceMs(intervalS: number): number {
  return Math.round(PRESENCE_SILENCE_FACTOR * intervalS * 1000);
}

/** A sink that gives heartbeats to the tracker instead of buffering them; every other reading goes on to `inner`. */
export function presenceSink(inner: ReadingSink, tracker: PresenceTracker): ReadingSink {
  return {
    append: (reading: Reading) =>
      reading.kind === "heartbeat" ? tracker.heartbeat(reading as Reading & { intervalS: number }) : inner.append(reading),
    deadLetter: (entry: DeadLetter) => inner.deadLetter(entry),
  };
}
