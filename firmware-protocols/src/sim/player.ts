import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { TimelineEvent } from "./day.ts";
import type { EventKind } from "../topics.ts";

/**
 * Device sequence numbers kept in a file, like a device's non-volatile memory: they keep increasing across runs,
 * so a replayed simulation is never mistaken for duplicates by the gateway.
 */
export class SeqStore {
  private readonly next: Record<string, number>;
  private dirty = false;

  constructor(readonly path: string) {
    let loaded: unknown;
    try {
      loaded = JSON.parse(readFileSync(path, "utf8"));
    } catch {
      loaded = {};
    }
    this.next = {};
    if (loaded && typeof loaded === "object")
      for (const [id, n] of Object.entries(loaded)) if (Number.isInteger(n) && (n as number) >= 0) this.next[id] = n as number;
  }

  take(deviceId: string): number {
    const seq = this.next[deviceId] ?? 1;
    this.next[deviceId] = (seq + 1) % 0x1_0000_0000;
    this.dirty = true;
    return seq;
  }

  save(): void {
    if (!this.dirty) return;
    mkdirSync(dirname(this.path), { recursive: true });
    writeFileSync(`${this.path}.tmp`, JSON.stringify(this.next));
    renameSync(`${this.path}.tmp`, this.path);
    this.dirty = false;
  }
}

/** A device the players can drive: over MQTT (SimDevice) or on an RS-485 bus (SerialDeviceSimulator). */
export interface PlayedDevice {
  /** Resolves when the gateway has the event (an MQTT PUBACK; for a serial device, once queued on it). */
  publish(kind: EventKind, event: Record<string, unknown>): Promise<void>;
}

export interface Progress {
  done: number;
  total: number;
  ratePerS: number;
  etaS: number | null;
}

/** Turns a timeline entry into the device's payload, with its sequence number and its own clock's time. */
export function toPayload(event: TimelineEvent, seq: number): Record<string, unknown> {
  return { v: 1, deviceId: event.deviceId, seq, ts: event.at, ...event.fields };
}

/** Plays a past timeline as fast as the broker acknowledges, `window` publishes in flight. */
export async function backfill(
  timeline: TimelineEvent[],
  devices: Map<string, PlayedDevice>,
  seqs: SeqStore,
  onProgress: (p: Progress) => void,
  window = 200,
): Promise<void> {
  const started = Date.now();
  let done = 0;
  let next = 0;
  let lastReport = 0;
  const report = () => {
    const ratePerS = done / Math.max((Date.now() - started) / 1000, 0.001);
    onProgress({ done, total: timeline.length, ratePerS, etaS: ratePerS > 0 ? (timeline.length - done) / ratePerS : null });
  };
  await new Promise<void>((resolve, reject) => {
    let inFlight = 0;
    const pump = () => {
      while (inFlight < window && next < timeline.length) {
        const event = timeline[next++]!;
        const device = devices.get(event.deviceId);
        if (!device) continue;
        inFlight++;
        device.publish(event.kind, toPayload(event, seqs.take(event.deviceId))).then(() => {
          inFlight--;
          done++;
          if (Date.now() - lastReport > 2000) {
            lastReport = Date.now();
            seqs.save();
            report();
          }
          if (done === timeline.length || (next >= timeline.length && inFlight === 0)) resolve();
          else pump();
        }, reject);
      }
      if (next >= timeline.length && inFlight === 0) resolve();
    };
    pump();
  });
  seqs.save();
  report();
}

/** Where a live play got to, kept beside the sequence numbers: a restarted simulator resumes there. */
export class PlayPosition {
  constructor(private readonly path: string) {}

  /** The device time of the last event sent, or undefined on a first run. */
  read(): number | undefined {
    try {
      const at = (JSON.parse(readFileSync(this.path, "utf8")) as { playedUntil?: unknown }).playedUntil;
      return typeof at === "number" && Number.isFinite(at) ? at : undefined;
    } catch {
      return undefined;
    }
  }

  write(playedUntil: number): void {
    mkdirSync(dirname(this.path), { recursive: true });
    writeFileSync(`${this.path}.tmp`, JSON.stringify({ playedUntil }));
    renameSync(`${this.path}.tmp`, this.path);
  }
}

export interface LivePlayerOptions {
  /** Events a real device would not send now (a heartbeat is never kept back): skipped, taking no sequence number. */
  skip?: (event: TimelineEvent, realNow: number) => boolean;
  /** Where the play got to, saved with the sequence numbers. */
  position?: PlayPosition;
}

/**
 * Plays timelines on a simulated clock that runs `speed` times faster than real time from `simStart`, but never
 * ahead of the real clock (a device's time in the future would be refused), then at real time. Only events after
 * `simStart` are played, so a simulator restarted at its saved position sends nothing twice.
 */
export class LivePlayer {
  private stopped = false;
  private playedUntil: number | undefined;
  private savedUntil: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Ends the current wait early: stop() calls it, so play() returns instead of waiting on a cleared timer. */
  private wake: (() => void) | undefined;
  readonly counts = { published: 0, failed: 0 };

  constructor(
    private readonly devices: Map<string, PlayedDevice>,
    private readonly seqs: SeqStore,
    private readonly simStart: number,
    private readonly speed: number,
    private readonly realStart = Date.now(),
    private readonly options: LivePlayerOptions = {},
  ) {}

  /** The simulated now. */
  now(): number {
    // Never before simStart (a realStart ahead holds it there), never ahead of the real clock.
    return Math.min(Date.now(), this.simStart + Math.max(0, Date.now() - this.realStart) * this.speed);
  }

  /** Plays the events of `timeline` at or after the simulated now; resolves when the last one was sent. */
  async play(timeline: TimelineEvent[]): Promise<void> {
    let i = timeline.findIndex((e) => e.at >= this.now());
    if (i < 0) return;
    while (!this.stopped && i < timeline.length) {
      const now = this.now();
      while (i < timeline.length && timeline[i]!.at <= now) {
        const event = timeline[i++]!;
        const device = this.devices.get(event.deviceId);
        if (!device || this.options.skip?.(event, Date.now())) continue;
        this.playedUntil = event.at;
        device.publish(event.kind, toPayload(event, this.seqs.take(event.deviceId))).then(
          () => this.counts.published++,
          () => this.counts.failed++,
        );
      }
      if (i >= timeline.length) break;
      const behind = this.simStart + (Date.now() - this.realStart) * this.speed > Date.now();
      const waitMs = Math.min(1000, Math.max(5, (timeline[i]!.at - now) / (behind ? 1 : this.speed)));
      await new Promise<void>((r) => {
        this.wake = r;
        this.timer = setTimeout(r, waitMs);
      });
      this.save();
    }
    this.save();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.wake?.();
    this.save();
  }

  /** Sequence numbers and the position together: a restart neither reuses a number nor replays an event. */
  private save(): void {
    this.seqs.save();
    if (this.playedUntil === undefined || this.playedUntil === this.savedUntil) return;
    this.options.position?.write(this.playedUntil);
    this.savedUntil = this.playedUntil;
  }

  isStopped(): boolean {
    return this.stopped;
  }
}
