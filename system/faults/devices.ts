import { deviceTopics } from "@supervision/firmware-protocols";
import mqtt from "mqtt";

const DAY_MS = 86_400_000;

/** What a reading is meant to be: an ordinary one, one older than its retention, or one from a clock far ahead. */
export type ReadingPlan = "ordinary" | "stale" | "future";

/** Ratings are kept 1,095 days: 1,200 days old is beyond retention. A day ahead is beyond any clock skew allowed. */
const STALE_AGE_MS = 1200 * DAY_MS;
const FUTURE_AHEAD_MS = DAY_MS;

export interface FleetOptions {
  /** The broker the devices publish to (the gateway's device port, or a hall Mosquitto). */
  url: string;
  deviceIds: string[];
  /** The window each keypad rates (same order as deviceIds). */
  windowIds: string[];
  /** Readings per device. */
  perDevice: number;
  /** Readings per second over the whole fleet; 0 publishes as fast as the PUBACKs come back. */
  rate: number;
  /** Of the readings, the share of stale and of future ones (each), mixed into the stream. */
  oddShare: number;
  random: () => number;
  /** Username and password of a device (the gateway checks them; a bare Mosquitto needs none). */
  credentials?: (deviceId: string) => { username: string; password: string };
  /** QoS 1 publishes a device keeps unacknowledged at once. */
  window?: number;
}

/**
 * Keypads that behave as the protocol asks a device to: every rating is published with QoS 1 and kept until its
 * PUBACK, and whatever was not acknowledged when the connection dropped is published again, same sequence number,
 * same payload, after reconnecting. What they count as acknowledged is what the broker promised to keep.
 */
export class DeviceFleet {
  readonly plans = new Map<string, ReadingPlan[]>();
  #acked = new Map<string, Uint8Array>();
  #ackedCount = 0;
  #publishErrors = 0;
  #reconnects = 0;
  #stopped = false;
  #tokens = 0;
  #started = 0;
  #limit = Number.POSITIVE_INFINITY;
  #lastRefill = Date.now();
  readonly done: Promise<void>;

  constructor(private readonly opts: FleetOptions) {
    for (const id of opts.deviceIds) {
      this.plans.set(
        id,
        Array.from({ length: opts.perDevice }, () => {
          const r = opts.random();
          return r < opts.oddShare ? "stale" : r < 2 * opts.oddShare ? "future" : "ordinary";
        }),
      );
      this.#acked.set(id, new Uint8Array(opts.perDevice + 1));
    }
    this.done = Promise.all(opts.deviceIds.map((id, i) => this.#run(id, opts.windowIds[i] as string))).then(() => undefined);
  }

  get total(): number {
    return this.opts.deviceIds.length * this.opts.perDevice;
  }
  get acknowledged(): number {
    return this.#ackedCount;
  }
  /** Publishes that failed or connections that dropped with readings in flight (the broker refused or went away). */
  get publishErrors(): number {
    return this.#publishErrors;
  }
  get reconnects(): number {
    return this.#reconnects;
  }
  isAcked(deviceId: string, seq: number): boolean {
    return this.#acked.get(deviceId)?.[seq] === 1;
  }
  count(plan: ReadingPlan): number {
    let n = 0;
    for (const plans of this.plans.values()) for (const p of plans) if (p === plan) n++;
    return n;
  }

  /**
   * How many readings (over all devices) may be published for the first time; resends always go. The fault matrix
   * lets the stream run up to each fault's moment and on through it, whatever the machine's speed.
   */
  set limit(n: number) {
    this.#limit = n;
  }

  /** Stops publishing; what is unacknowledged stays so. */
  stop(): void {
    this.#stopped = true;
  }

  #take(): boolean {
    if (this.opts.rate <= 0) return true;
    const now = Date.now();
    this.#tokens = Math.min(this.opts.rate, this.#tokens + ((now - this.#lastRefill) * this.opts.rate) / 1000);
    this.#lastRefill = now;
    if (this.#tokens < 1) return false;
    this.#tokens--;
    return true;
  }

  async #run(deviceId: string, windowId: string): Promise<void> {
    const plans = this.plans.get(deviceId) as ReadingPlan[];
    const acked = this.#acked.get(deviceId) as Uint8Array;
    const payloads = new Map<number, string>();
    const payloadOf = (seq: number): string => {
      let p = payloads.get(seq);
      if (p === undefined) {
        const now = Date.now();
        const plan = plans[seq - 1];
        const ts = plan === "stale" ? now - STALE_AGE_MS : plan === "future" ? now + FUTURE_AHEAD_MS : now;
        p = JSON.stringify({ v: 1, deviceId, seq, ts, windowId, outcome: "rated", scale: "four", key: 1, level: "very_satisfied" });
        payloads.set(seq, p);
      }
      return p;
    };
    const topic = deviceTopics.event(deviceId, "rating");
    let next = 1;
    const resend: number[] = [];
    let left = plans.length;
    while (!this.#stopped && left > 0) {
      let client: mqtt.MqttClient;
      try {
        client = await mqtt.connectAsync(this.opts.url, {
          clientId: deviceId,
          ...this.opts.credentials?.(deviceId),
          reconnectPeriod: 0,
          connectTimeout: 3000,
          protocolVersion: 4,
        });
      } catch {
        this.#reconnects++;
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      await new Promise<void>((resolve) => {
        const inFlight = new Set<number>();
        let closed = false;
        let timer: NodeJS.Timeout | undefined;
        const finish = () => {
          if (closed) return;
          closed = true;
          clearTimeout(timer);
          if (inFlight.size > 0) this.#publishErrors++;
          for (const seq of inFlight) if (acked[seq] !== 1) resend.push(seq);
          inFlight.clear();
          resolve();
        };
        client.on("close", finish);
        client.on("error", () => undefined);
        const pump = () => {
          timer = undefined;
          while (!closed && !this.#stopped && inFlight.size < (this.opts.window ?? 50)) {
            const seq = resend.length > 0 ? resend.shift() : next <= plans.length ? next : undefined;
            if (seq === undefined) break;
            if (acked[seq] === 1) continue;
            if ((seq === next && this.#started >= this.#limit) || !this.#take()) {
              if (seq !== next) resend.unshift(seq);
              timer = setTimeout(pump, 5);
              return;
            }
            if (seq === next) {
              next++;
              this.#started++;
            }
            inFlight.add(seq);
            client.publish(topic, payloadOf(seq), { qos: 1 }, (error) => {
              if (closed || !inFlight.delete(seq)) return;
              if (error) {
                this.#publishErrors++;
                resend.push(seq);
              } else if (acked[seq] !== 1) {
                acked[seq] = 1;
                payloads.delete(seq);
                this.#ackedCount++;
                left--;
              }
              if (left === 0) client.end(false, () => finish());
              else pump();
            });
          }
          if (this.#stopped && inFlight.size === 0) client.end(false, () => finish());
        };
        pump();
      });
      client.removeAllListeners();
      client.on("error", () => undefined);
      client.end(true);
      if (left > 0 && !this.#stopped) {
        this.#reconnects++;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
}
