import type { KeyObject } from "node:crypto";
import {
  BatchAck,
  type CameraReply,
  CameraRequest,
  GatewayCommand,
  type GatewayConfig,
  type GatewayStatus,
  gatewayTopics,
  parseJsonObject,
  signSerializedBatch,
  readingRowsJson,
  CURRENT_LAYOUT,
} from "@supervision/firmware-protocols";
import mqtt, { type MqttClient } from "mqtt";
import type { Logger } from "pino";
import type { ChainHead, Outbox, SealedBatch } from "../buffer/types.ts";
import { ConfigStore, MAX_CONFIG_BYTES } from "../config/store.ts";

export { loadLastConfig } from "../config/store.ts";

export interface UplinkOptions {
  outbox: Outbox;
  /** mqtt:// or mqtts:// */
  hubUrl: string;
  /** Other nodes of the hub's broker cluster, tried in turn after `hubUrl` when a connection is lost or refused. */
  failoverUrls?: string[];
  gatewayId: string;
  privateKey: KeyObject;
  username?: string;
  password?: string;
  tls?: { ca?: string; cert?: string; key?: string; rejectUnauthorized?: boolean };
  /** Readings per batch (default 5000). */
  batchMaxReadings?: number;
  /** How long the first unbatched reading waits for company before its batch is sealed (default 200 ms). */
  batchMaxWaitMs?: number;
  /**
   * Readings that may wait: while `urgentWaiting()` says no (only heartbeats and summaries wait), the first waits
   * `lowPriorityWaitMs` instead of `batchMaxWaitMs`; `sealed()` is told after each seal. Absent: everything is urgent.
   */
  priority?: { urgentWaiting(): boolean; sealed(): void };
  lowPriorityWaitMs?: number;
  /** Batches sent and not yet acknowledged (default 4). */
  maxInFlight?: number;
  /** A batch unanswered this long is sent again (default 30 s). */
  ackTimeoutMs?: number;
  dataDir: string;
  /** Where a config from the hub goes (checked once, stored once, applied); by default one on dataDir. */
  config?: ConfigStore;
  logger: Logger;
}

export interface DrainProgress {
  remaining: number;
  ratePerS: number;
  /** null until a rate is known. */
  etaS: number | null;
}

export interface UplinkStatus {
  state: "connecting" | "online" | "offline";
  inFlight: number;
  /** Average round trip of the last batches, publish to stored-ack. */
  rttMs: number | null;
  backlog: number;
  /** Set while a backlog larger than a few batches drains. */
  drain: DrainProgress | null;
  lastAckAt: number | null;
  rejected: number;
  reconnects: number;
}

/** Bytes of reading JSON per batch, well under the hub's 4 MiB batch limit. */
const BATCH_MAX_BYTES = 3 * 1024 * 1024;
/** After the buffer failed to record something (disk full, I/O error), the batch waits this long before it goes again. */
const BUFFER_RETRY_MS = 1000;
const BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 30_000;
/** A batch the hub refused for a reason the gateway cannot fix by itself is retried this slowly. */
const REJECTED_RETRY_MS = 60_000;
const PROGRESS_EVERY_MS = 5000;

/** The longest a batch waits for its ack before it is sent again, however many times it was sent. */
const MAX_ACK_WAIT_MS = 300_000;

/**
 * How long a sending of a batch waits for its ack: `ackTimeoutMs` the first time, then twice the last wait up to
 * 5 minutes (as TCP's retransmission timer): an ack that is late because the hub has a backlog would otherwise
 * have every gateway add a copy of every waiting batch to that backlog every 30 s.
 */
export function nextAckWaitMs(previousWaitMs: number | undefined, ackTimeoutMs: number): number {
  return previousWaitMs === undefined ? ackTimeoutMs : Math.min(previousWaitMs * 2, Math.max(MAX_ACK_WAIT_MS, ackTimeoutMs));
}

interface InFlight {
  batch: SealedBatch;
  sentAt: number;
  /** How long this sending waits for the ack: ackTimeoutMs, doubled at each resend up to MAX_ACK_WAIT_MS. */
  waitMs: number;
  resent: boolean;
}

/**
 * Sends the buffer's readings to the hub in signed, hash-chained batches and deletes them only when the hub says
 * it stored them. Its own outbox and reconnect loop, not MQTT.js's offline store: after an outage every sealed
 * batch is re-sent at once (several in flight), and reconnects back off with jitter instead of storming the hub.
 */
export class Uplink {
  private readonly opts: Required<
    Pick<UplinkOptions, "batchMaxReadings" | "batchMaxWaitMs" | "lowPriorityWaitMs" | "maxInFlight" | "ackTimeoutMs">
  > &
    UplinkOptions;
  private client: MqttClient | undefined;
  private state: UplinkStatus["state"] = "offline";
  private stopped = true;
  private attempt = 0;
  private reconnects = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private sealTimer: NodeJS.Timeout | undefined;
  /** The seal timer waits the low-priority time. */
  private sealTimerLow = false;
  private tickTimer: NodeJS.Timeout | undefined;
  /** Sealed batches waiting to be (re)sent, oldest first. */
  private queue: SealedBatch[] = [];
  private readonly inFlight = new Map<number, InFlight>();
  private readonly holdUntil = new Map<number, number>();
  private readonly rtts: number[] = [];
  private lastAckAt: number | null = null;
  private rejected = 0;
  private acked = 0;
  private drain: { lastAcked: number; lastAt: number; rate: number } | null = null;
  private lastProgressLog = 0;
  private readonly config: ConfigStore;
  private commandListeners: ((command: GatewayCommand) => void)[] = [];
  private cameraListeners: ((request: CameraRequest) => void)[] = [];
  private onlineListeners: (() => void)[] = [];
  /** Which of [hubUrl, ...failoverUrls] the uplink uses now. */
  private urlIndex = 0;
  private unsubscribeAppend: (() => void) | undefined;

  constructor(options: UplinkOptions) {
    this.opts = { batchMaxReadings: 5000, batchMaxWaitMs: 200, lowPriorityWaitMs: 5000, maxInFlight: 4, ackTimeoutMs: 30_000, ...options };
    this.config = options.config ?? new ConfigStore({ gatewayId: options.gatewayId, dataDir: options.dataDir, logger: options.logger });
  }

  /** Each config from the hub once it is checked and stored (the config store's listeners). */
  onConfig(listener: (config: GatewayConfig) => void): void {
    this.config.onApply(listener);
  }

  onCommand(listener: (command: GatewayCommand) => void): void {
    this.commandListeners.push(listener);
  }

  /** Camera requests from the hub (PTZ, snapshot, fetch a kept snapshot), each answered with publishCameraReply. */
  onCameraRequest(listener: (request: CameraRequest) => void): void {
    this.cameraListeners.push(listener);
  }

  /** Answers a camera request; while the hub is unreachable the answer is dropped (the hub's request times out). */
  publishCameraReply(reply: CameraReply): void {
    if (this.state !== "online") {
      this.opts.logger.warn({ reqId: reply.reqId }, "camera reply not sent: the hub is not connected");
      return;
    }
    this.client?.publish(gatewayTopics.cameraReply(this.opts.gatewayId), JSON.stringify(reply), { qos: 1 });
  }

  /** Each time the hub connection is up and subscribed (the gateway's status goes then: the hub re-sends an old config). */
  onOnline(listener: () => void): void {
    this.onlineListeners.push(listener);
  }

  connected(): boolean {
    return this.state === "online";
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.unsubscribeAppend = this.opts.outbox.onAppend(() => this.pump());
    this.tickTimer = setInterval(() => this.tick(), 1000);
    this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.sealTimer);
    clearInterval(this.tickTimer);
    this.unsubscribeAppend?.();
    const client = this.client;
    this.client = undefined;
    this.state = "offline";
    if (client) {
      // Say goodbye the way the last will would, so the hub does not wait for the keepalive to expire.
      await new Promise<void>((resolve) => {
        client.publish(
          gatewayTopics.status(this.opts.gatewayId),
          JSON.stringify({ v: 1, gatewayId: this.opts.gatewayId, state: "offline", ts: Date.now() }),
          { qos: 1, retain: true },
          () => client.end(false, {}, () => resolve()),
        );
        setTimeout(() => client.end(true, {}, () => resolve()), 2000).unref();
      });
    }
  }

  status(): UplinkStatus {
    const stats = this.opts.outbox.stats();
    const rttMs = this.rtts.length === 0 ? null : this.rtts.reduce((a, b) => a + b, 0) / this.rtts.length;
    return {
      state: this.state,
      inFlight: this.inFlight.size,
      rttMs,
      backlog: stats.depth,
      drain: this.drain
        ? {
            remaining: stats.depth,
            ratePerS: Math.round(this.drain.rate),
            etaS: this.drain.rate > 0 ? Math.round(stats.depth / this.drain.rate) : null,
          }
        : null,
      lastAckAt: this.lastAckAt,
      rejected: this.rejected,
      reconnects: this.reconnects,
    };
  }

  publishStatus(status: GatewayStatus): void {
    if (this.state !== "online") return;
    this.client?.publish(gatewayTopics.status(this.opts.gatewayId), JSON.stringify(status), { qos: 1, retain: true });
  }

  private connect(): void {
    if (this.stopped) return;
    const { gatewayId } = this.opts;
    this.state = "connecting";
    const client = mqtt.connect(this.hubUrl(), {
      clientId: `gw-${gatewayId}`,
      username: this.opts.username ?? gatewayId,
      password: this.opts.password,
      clean: true,
      // Our own reconnect loop (backoff with jitter) and our own outbox: MQTT.js must neither retry nor queue.
      reconnectPeriod: 0,
      queueQoSZero: false,
      connectTimeout: 10_000,
      keepalive: 30,
      protocolVersion: 4,
      will: {
        topic: gatewayTopics.status(gatewayId),
        payload: Buffer.from(JSON.stringify({ v: 1, gatewayId, state: "offline" })),
        qos: 1,
        retain: true,
      },
      ...this.opts.tls,
    });
    this.client = client;
    client.on("connect", () => {
      client.subscribe(
        [gatewayTopics.ack(gatewayId), gatewayTopics.config(gatewayId), gatewayTopics.command(gatewayId), gatewayTopics.camera(gatewayId)],
        { qos: 1 },
        (error) => {
          if (error) {
            this.opts.logger.error({ err: error.message }, "hub refused the subscriptions: check this gateway's rights at the hub");
            client.end(true);
            return;
          }
          this.state = "online";
          this.reconnects += this.attempt > 0 ? 1 : 0;
          // Everything sealed and unacknowledged goes again, oldest first: the hub treats repeats as replays.
          this.inFlight.clear();
          this.queue = this.opts.outbox.sealedBatches();
          const depth = this.opts.outbox.stats().depth;
          this.opts.logger.info({ hub: this.hubUrl(), backlog: depth, sealed: this.queue.length }, "connected to the hub");
          if (depth > this.opts.batchMaxReadings * 2) this.drain = { lastAcked: this.acked, lastAt: Date.now(), rate: 0 };
          for (const listener of this.onlineListeners) listener();
          this.pump();
        },
      );
    });
    client.on("message", (topic, payload) => this.onMessage(topic, payload));
    client.on("error", (error) => this.opts.logger.warn({ err: error.message, hub: this.hubUrl() }, "hub connection error"));
    client.on("close", () => {
      if (this.client !== client) return;
      client.removeAllListeners();
      client.on("error", () => undefined);
      client.end(true);
      this.client = undefined;
      const wasOnline = this.state === "online";
      this.state = "offline";
      this.inFlight.clear();
      if (this.stopped) return;
      if (wasOnline) this.opts.logger.warn({ backlog: this.opts.outbox.stats().depth }, "lost the hub; buffering until it returns");
      else this.attempt++;
      // The next node of the cluster, if there are several (one that stopped stays down a while).
      this.urlIndex = (this.urlIndex + 1) % (1 + (this.opts.failoverUrls?.length ?? 0));
      // Full jitter: many gateways coming back after a hub outage spread out instead of arriving together.
      const delay = Math.random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.min(this.attempt, 16));
      this.reconnectTimer = setTimeout(() => this.connect(), delay);
    });
  }

  private hubUrl(): string {
    return this.urlIndex === 0 ? this.opts.hubUrl : this.opts.failoverUrls![this.urlIndex - 1]!;
  }

  /** Sends as many batches as the window allows, sealing new ones when enough readings wait (or waited long enough). */
  private pump(force = false): void {
    if (this.state !== "online" || !this.client) return;
    const now = Date.now();
    while (this.inFlight.size < this.opts.maxInFlight) {
      let batch = this.queue.find((b) => !this.inFlight.has(b.seq) && (this.holdUntil.get(b.seq) ?? 0) <= now);
      if (!batch) {
        const waiting = this.opts.outbox.unbatchedCount();
        if (waiting === 0) break;
        if (waiting < this.opts.batchMaxReadings && !force) {
          const urgent = this.opts.priority?.urgentWaiting() ?? true;
          // An urgent reading behind low-priority ones cuts their wait short.
          if (urgent && this.sealTimer && this.sealTimerLow) {
            clearTimeout(this.sealTimer);
            this.sealTimer = undefined;
          }
          if (!this.sealTimer) {
            this.sealTimerLow = !urgent;
            this.sealTimer = setTimeout(
              () => {
                this.sealTimer = undefined;
                this.pump(true);
              },
              urgent ? this.opts.batchMaxWaitMs : this.opts.lowPriorityWaitMs,
            );
          }
          break;
        }
        batch = this.seal();
        if (!batch) break;
        this.queue.push(batch);
      }
      this.send(batch);
    }
  }

  private seal(): SealedBatch | undefined {
    let sealed: SealedBatch | undefined;
    // A seal that cannot be written (disk full) leaves the readings unsealed; the next tick tries again.
    this.bufferWrite("seal a batch", () => (sealed = this.sealNext()));
    if (sealed && this.opts.outbox.unbatchedCount() === 0) this.opts.priority?.sealed();
    return sealed;
  }

  /**
   * A write to the buffer the uplink cannot do without (sealing, recording an ack or a refusal). When the disk is
   * full it throws; then nothing changed in the buffer and the same step is done again later (a batch the hub
   * stored goes again and is acknowledged as a replay). Answers whether it was written.
   */
  private bufferWrite(what: string, write: () => void): boolean {
    try {
      write();
      return true;
    } catch (error) {
      this.opts.logger.error({ err: (error as Error).message }, `could not ${what} in the buffer (disk full?); trying again shortly`);
      return false;
    }
  }

  private sealNext(): SealedBatch | undefined {
    const { gatewayId, privateKey } = this.opts;
    const versions = this.config.current()?.uplinkVersions ?? [];
    // The newest rows envelope the hub's config lists: v3 (4.3, signed over the body's SHA-256), else v2 (4.2).
    const rowsVersion = versions.includes(3) ? 3 : versions.includes(2) ? 2 : undefined;
    return this.opts.outbox.sealNext(this.opts.batchMaxReadings, BATCH_MAX_BYTES, (readingsJson: Buffer, head: ChainHead) => {
      const header = { gatewayId, epoch: head.epoch, seq: head.seq + 1, prevHash: head.hash, createdAt: Date.now() };
      // Rows (PROTOCOL.md 4.2) when the hub's config lists v2 or v3 and the layout carries every reading; the buffer then
      // keeps the whole wire (no readingsAt: its rows are not the stored JSON), so a resend is the same bytes. Otherwise
      // v1, whose wire the buffer rebuilds from the stored JSON.
      const rows = rowsVersion ? readingRowsJson(readingsJson) : undefined;
      if (rows && rowsVersion) {
        const { readingsAt: _at, ...sealed } = signSerializedBatch({ v: rowsVersion, ...header, layout: CURRENT_LAYOUT }, rows, privateKey);
        return sealed;
      }
      return signSerializedBatch({ v: 1, ...header }, readingsJson, privateKey);
    });
  }

  private send(batch: SealedBatch, previous?: InFlight): void {
    const waitMs = nextAckWaitMs(previous?.waitMs, this.opts.ackTimeoutMs);
    this.inFlight.set(batch.seq, { batch, sentAt: Date.now(), waitMs, resent: previous !== undefined });
    this.client?.publish(gatewayTopics.batch(this.opts.gatewayId), batch.wire, { qos: 1 }, (error) => {
      if (error) this.opts.logger.debug({ err: error.message, seq: batch.seq }, "batch publish interrupted; it will be re-sent");
    });
  }

  private onMessage(topic: string, payload: Buffer): void {
    const { gatewayId, logger } = this.opts;
    if (payload.byteLength > MAX_CONFIG_BYTES) {
      logger.warn({ topic, bytes: payload.byteLength }, "ignoring an oversized message from the hub");
      return;
    }
    const json = parseJsonObject(payload, MAX_CONFIG_BYTES);
    if (!json.ok) {
      logger.warn({ topic, error: json.error.message }, "ignoring a malformed message from the hub");
      return;
    }
    if (topic === gatewayTopics.ack(gatewayId)) this.onAck(json.value);
    else if (topic === gatewayTopics.config(gatewayId)) this.config.offer(json.value);
    else if (topic === gatewayTopics.command(gatewayId)) {
      const command = GatewayCommand.safeParse(json.value);
      if (!command.success) logger.warn({ error: command.error.issues[0]?.message }, "ignoring an invalid command from the hub");
      else for (const listener of this.commandListeners) listener(command.data);
    } else if (topic === gatewayTopics.camera(gatewayId)) {
      const request = CameraRequest.safeParse(json.value);
      if (!request.success) logger.warn({ error: request.error.issues[0]?.message }, "ignoring an invalid camera request from the hub");
      else for (const listener of this.cameraListeners) listener(request.data);
    }
  }

  private onAck(value: Record<string, unknown>): void {
    const { logger } = this.opts;
    const parsed = BatchAck.safeParse(value);
    if (!parsed.success || parsed.data.gatewayId !== this.opts.gatewayId) {
      logger.warn({ error: parsed.success ? "names another gateway" : parsed.error.issues[0]?.message }, "ignoring an invalid ack");
      return;
    }
    const ack = parsed.data;
    const sent = this.inFlight.get(ack.seq);
    const batch = sent?.batch ?? this.queue.find((b) => b.seq === ack.seq);
    if (!batch || batch.epoch !== ack.epoch || batch.hash !== ack.hash) {
      logger.debug({ seq: ack.seq }, "ack for a batch this gateway is not waiting for (already acknowledged, or another epoch)");
      return;
    }
    this.inFlight.delete(ack.seq);
    if (
      (ack.status === "stored" || ack.code === "malformed") &&
      !this.bufferWrite(`record the hub's answer to batch ${ack.seq}`, () => this.record(ack))
    ) {
      this.holdUntil.set(ack.seq, Date.now() + BUFFER_RETRY_MS);
      this.pump();
      return;
    }
    if (ack.status === "stored") {
      this.queue = this.queue.filter((b) => b.seq !== ack.seq);
      this.holdUntil.delete(ack.seq);
      this.acked += batch.count;
      this.lastAckAt = Date.now();
      this.attempt = 0;
      // A resent batch's ack may answer any of its sendings: no round-trip sample (Karn's rule).
      if (sent !== undefined && !sent.resent) {
        this.rtts.push(Date.now() - sent.sentAt);
        if (this.rtts.length > 20) this.rtts.shift();
      }
    } else if (ack.code === "malformed") {
      this.rejected++;
      logger.error(
        { seq: ack.seq, reason: ack.reason },
        "the hub refused a batch as malformed; its readings go to the dead letters (gateway dead-letters)",
      );
      this.queue = this.queue.filter((b) => b.seq !== ack.seq);
    } else {
      this.rejected++;
      this.holdUntil.set(ack.seq, Date.now() + REJECTED_RETRY_MS);
      logger.error(
        { seq: ack.seq, code: ack.code, reason: ack.reason },
        ack.code === "bad_signature" || ack.code === "unknown_gateway"
          ? "the hub does not accept this gateway's signature: register its public key at the hub (run `gateway keys`); the batch is kept and retried every minute"
          : "the hub refused a batch; it is kept and retried every minute",
      );
    }
    this.pump();
  }

  /** Writes the hub's final answer to a batch: stored (the readings leave the buffer) or malformed (dead letters). */
  private record(ack: BatchAck): void {
    if (ack.status === "stored") this.opts.outbox.acknowledge(ack.epoch, ack.seq);
    else this.opts.outbox.reject(ack.epoch, ack.seq, ack.reason ?? "malformed");
  }

  /** Once a second: resend what the hub left unanswered, and report drain progress. */
  private tick(): void {
    const now = Date.now();
    for (const [seq, entry] of this.inFlight) {
      if (now - entry.sentAt > entry.waitMs) {
        this.opts.logger.warn({ seq, waitedMs: entry.waitMs }, "no ack from the hub; sending the batch again");
        this.send(entry.batch, entry);
      }
    }
    if (this.drain && this.state === "online") {
      const dt = (now - this.drain.lastAt) / 1000;
      if (dt >= 1) {
        const rate = (this.acked - this.drain.lastAcked) / dt;
        this.drain = { lastAcked: this.acked, lastAt: now, rate: this.drain.rate === 0 ? rate : this.drain.rate * 0.7 + rate * 0.3 };
      }
      const progress = this.status().drain!;
      if (progress.remaining <= this.opts.batchMaxReadings) {
        this.opts.logger.info({ acked: this.acked }, "backlog drained");
        this.drain = null;
      } else if (now - this.lastProgressLog >= PROGRESS_EVERY_MS) {
        this.lastProgressLog = now;
        this.opts.logger.info(progress, "draining the backlog to the hub");
      }
    }
    this.pump();
  }
}
