import type { Logger } from "pino";
import type { BufferState } from "./state.ts";
import type { Statements } from "./statements.ts";
import type { BufferStats } from "./types.ts";

const ALARM_WARN = 0.7;
const ALARM_CRITICAL = 0.9;
/** Heartbeats are thinned once the buffer is this full, so the people-facing readings keep their room. */
const THIN_AT = 0.8;

/** An append refused because only readings that must never be dropped remain and the bound is reached. */
export class BufferFullError extends Error {
  readonly code = "buffer_full";
}

/**
 * The buffer's bound: thins the oldest unsent heartbeats from 80 % fill, and raises the fill alarm at 70 % and 90 %
 * (logged once per transition).
 */
export class Capacity {
  #alarm: BufferStats["fillAlarm"] = "ok";

  constructor(
    private readonly q: Statements,
    private readonly state: BufferState,
    readonly capacityBytes: number,
    private readonly logger: Logger | undefined,
  ) {}

  get alarm(): BufferStats["fillAlarm"] {
    return this.#alarm;
  }

  /** Deletes unsent heartbeats until `needed` bytes fit under the thinning mark; returns whether they fit the bound. */
  makeRoom(needed: number): boolean {
    const { q, state } = this;
    const mark = this.capacityBytes * THIN_AT;
    if (state.bytes + needed <= mark) return true;
    let freed = 0;
    let count = 0;
    // Only unsealed readings: a sealed batch's range must stay whole, its resend rebuilt from it.
    for (const victim of q.thinVictims.all(state.sealedTo, 1000) as { id: number; bytes: number }[]) {
      if (state.bytes - freed + needed <= mark) break;
      q.deleteReading.run(victim.id);
      state.oldestUnsealed.deleted(victim.id);
      freed += victim.bytes;
      count++;
    }
    if (count > 0) {
      q.bumpThinned.run(count);
      state.bytes -= freed;
      state.depth -= count;
      state.unbatched -= count;
      state.thinned += count;
      this.logger?.warn({ thinned: count }, "buffer nearly full: oldest unsent heartbeats dropped to keep room for ratings and sign-ins");
    }
    return state.bytes + needed <= this.capacityBytes;
  }

  /** Logs a change of the fill alarm. */
  checkAlarm(): void {
    const { bytes, depth } = this.state;
    const fill = bytes / this.capacityBytes;
    const next = fill >= ALARM_CRITICAL ? "critical" : fill >= ALARM_WARN ? "warn" : "ok";
    if (next === this.#alarm) return;
    this.#alarm = next;
    const fields = { fill: Number(fill.toFixed(3)), depth, bytes, capacityBytes: this.capacityBytes };
    if (next === "ok") this.logger?.info(fields, "buffer fill back to normal");
    else this.logger?.warn(fields, `buffer ${next === "critical" ? "critically " : ""}full: is the hub reachable? (see gateway status)`);
  }
}
