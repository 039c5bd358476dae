import { hostname } from "node:os";
import amqp, { type Channel, type ChannelModel, type ConsumeMessage } from "amqplib";
import type { Logger } from "pino";

/**
 * The hub's AMQP side of a RabbitMQ cluster (system/cluster). The RabbitMQ MQTT plugin publishes what gateways send
 * to the topic exchange `amq.topic`, the MQTT topic turned into a routing key (`/` → `.`); hub copies consume one
 * quorum queue bound to the gateways' batches and statuses (competing consumers: each message goes to one copy),
 * and publish acks and configs back through the exchange, which the plugin delivers into the gateways' MQTT sessions.
 * A `$share` subscription on RabbitMQ is a literal topic and receives nothing, hence this.
 */
export interface AmqpLinkOptions {
  /** amqp:// URLs of the cluster's nodes; a lost connection moves to the next. */
  urls: string[];
  username?: string;
  password?: string;
  /** The quorum queue every hub copy consumes (created when missing). */
  queue: string;
  /** Deliveries a copy holds unacknowledged at once. */
  prefetch: number;
  logger: Logger;
  /** Names this copy in the broker's consumer list and in `hub status`. */
  copyName?: string;
}

/** Routing keys of what the queue receives: every gateway's batches and statuses. */
export const INGEST_BINDINGS = ["sv.v1.gw.*.batch", "sv.v1.gw.*.status"] as const;
const EXCHANGE = "amq.topic";
/** A message redelivered this often (a copy dies on it each time) is dropped; its gateway sends the batch again. */
const DELIVERY_LIMIT = 50;
const BACKOFF_MS = [200, 500, 1000, 2000, 5000];
/** Each copy tells the others how many deliveries it stored in the last minute, every REPORT_MS, on these keys. */
const TRAFFIC_KEY = "sv.hub.traffic";
const REPORT_MS = 5_000;
const WINDOW_BUCKETS = 12; // 12 × 5 s: the last minute
/** A copy not heard from for this long is left out of the shares (it died or lost its node). */
const PEER_STALE_MS = 20_000;

export interface CopyTraffic {
  /** Deliveries stored in the last minute. */
  lastMinute: number;
  /** Its part of all copies' last minute, 0..1 (two decimals). */
  share: number;
  /** Seconds since its last report (every 5 s). */
  reportedS: number;
}

/** MQTT topic → AMQP routing key as the RabbitMQ MQTT plugin maps it. */
export function topicToRoutingKey(topic: string): string {
  return topic.replaceAll("/", ".");
}

/** AMQP routing key → the MQTT topic it came from; undefined for a key that cannot be one of ours (a `.` inside an id). */
export function routingKeyToTopic(key: string): string | undefined {
  const parts = key.split(".");
  // sv.v1.gw.{id}.{type}: an id with a dot would give more parts, and its topic could not be told from its key.
  if (parts.length !== 5) return undefined;
  return parts.join("/");
}

/** Gateway ids whose topics RabbitMQ cannot route back to them (the MQTT plugin keeps a `.` of a topic as a `.`). */
export function unroutableGatewayIds(ids: Iterable<string>): string[] {
  return [...ids].filter((id) => id.includes("."));
}

/** A delivery's fate once its handler is done: acked after the work is stored, requeued when this copy stops. */
export type Handler = (topic: string, payload: Buffer) => Promise<void> | undefined;

export class AmqpLink {
  private connection: ChannelModel | undefined;
  private channel: Channel | undefined;
  private stopped = false;
  private handler: Handler | undefined;
  private urlIndex = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private connectedUrl: string | undefined;
  readonly copyName: string;
  /** Deliveries handled by this copy (acked), and redeliveries it received (another copy died holding them). */
  delivered = 0;
  redelivered = 0;
  reconnects = 0;
  /** Deliveries stored per 5-second bucket, newest last: this copy's last minute. */
  private readonly buckets: number[] = [0];
  private reportTimer: NodeJS.Timeout | undefined;
  private readonly peers = new Map<string, { lastMinute: number; at: number }>();
  /** This copy's last minute as last reported: shares compare reports of about the same moment. */
  private ownReport: { lastMinute: number; at: number } | undefined;

  constructor(private readonly opts: AmqpLinkOptions) {
    if (opts.urls.length === 0) throw new Error("broker.amqp.urls: give at least one amqp:// URL");
    this.copyName = opts.copyName ?? `${hostname()}-${process.pid}`;
  }

  /** Connects (trying each URL in turn until one answers) and, when a handler is given, consumes the queue. */
  async start(handler?: Handler): Promise<void> {
    this.stopped = false;
    this.handler = handler;
    if (handler) {
      this.reportTimer = setInterval(() => this.report(), REPORT_MS);
      this.reportTimer.unref();
    }
    let lastError: Error | undefined;
    for (let i = 0; i < this.opts.urls.length; i++) {
      try {
        await this.open();
        return;
      } catch (error) {
        lastError = error as Error;
        this.opts.logger.warn({ url: this.url(), err: lastError.message }, "AMQP node did not answer; trying the next");
        this.urlIndex = (this.urlIndex + 1) % this.opts.urls.length;
      }
    }
    throw new Error(`no AMQP node answered (${this.opts.urls.join(", ")}): ${lastError?.message}`);
  }

  connected(): boolean {
    return this.channel !== undefined;
  }

  /** Publishes to a gateway's MQTT topic through the exchange; false when no node is connected (the gateway resends). */
  publish(topic: string, payload: Buffer | string): boolean {
    const channel = this.channel;
    if (!channel) return false;
    try {
      channel.publish(EXCHANGE, topicToRoutingKey(topic), Buffer.isBuffer(payload) ? payload : Buffer.from(payload), {
        deliveryMode: 2,
      });
      return true;
    } catch (error) {
      this.opts.logger.warn({ err: (error as Error).message }, "AMQP publish failed; the gateway will ask again");
      return false;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.reportTimer);
    const connection = this.connection;
    this.connection = undefined;
    this.channel = undefined;
    // Closing the connection returns every unacknowledged delivery to the queue for the other copies.
    await connection?.close().catch(() => undefined);
  }

  status(): Record<string, unknown> {
    return {
      amqp: this.channel ? "connected" : "disconnected",
      node: this.connectedUrl ?? null,
      copy: this.copyName,
      queue: this.opts.queue,
      delivered: this.delivered,
      redelivered: this.redelivered,
      reconnects: this.reconnects,
      copies: this.copies(),
    };
  }

  /** Every copy heard from recently (this one included) with its share of the last minute's deliveries. */
  copies(): Record<string, CopyTraffic> {
    const now = Date.now();
    const counts = new Map<string, { lastMinute: number; reportedS: number }>();
    for (const [name, peer] of this.peers)
      if (now - peer.at <= PEER_STALE_MS) counts.set(name, { lastMinute: peer.lastMinute, reportedS: Math.round((now - peer.at) / 1000) });
    const own = this.ownReport ?? { lastMinute: this.lastMinute(), at: now };
    counts.set(this.copyName, { lastMinute: own.lastMinute, reportedS: Math.round((now - own.at) / 1000) });
    const total = [...counts.values()].reduce((sum, c) => sum + c.lastMinute, 0);
    return Object.fromEntries(
      [...counts]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([name, c]) => [name, { ...c, share: total === 0 ? 0 : Math.round((c.lastMinute / total) * 100) / 100 }]),
    );
  }

  private lastMinute(): number {
    return this.buckets.reduce((sum, n) => sum + n, 0);
  }

  /** Tells the other copies this one's last minute, then starts a new bucket. */
  private report(): void {
    this.ownReport = { lastMinute: this.lastMinute(), at: Date.now() };
    this.channel?.publish(
      EXCHANGE,
      `${TRAFFIC_KEY}.${this.copyName.replace(/[^A-Za-z0-9_-]/g, "_")}`,
      Buffer.from(JSON.stringify({ copy: this.copyName, lastMinute: this.ownReport.lastMinute })),
    );
    this.buckets.push(0);
    if (this.buckets.length > WINDOW_BUCKETS) this.buckets.shift();
  }

  private url(): string {
    return this.opts.urls[this.urlIndex]!;
  }

  private async open(): Promise<void> {
    const target = new URL(this.url());
    if (this.opts.username !== undefined) target.username = encodeURIComponent(this.opts.username);
    if (this.opts.password !== undefined) target.password = encodeURIComponent(this.opts.password);
    const connection = await amqp.connect(target.toString(), {
      clientProperties: { connection_name: `supervision-hub ${this.copyName}` },
      timeout: 10_000,
    });
    connection.on("error", (error: Error) => this.opts.logger.warn({ err: error.message }, "AMQP connection error"));
    connection.on("close", () => this.lost(connection));
    let channel: Channel;
    try {
      channel = await connection.createChannel();
    } catch (error) {
      await connection.close().catch(() => undefined);
      throw error;
    }
    channel.on("error", (error: Error) => this.opts.logger.warn({ err: error.message }, "AMQP channel error"));
    channel.on("close", () => {
      if (this.channel === channel) void connection.close().catch(() => undefined);
    });
    // Current before the first delivery can arrive: a delivery is settled only on the channel it came on.
    this.connection = connection;
    this.channel = channel;
    try {
      if (this.handler) await this.consume(channel, this.handler);
    } catch (error) {
      this.connection = undefined;
      this.channel = undefined;
      await connection.close().catch(() => undefined);
      throw error;
    }
    this.connectedUrl = target.host;
    this.attempt = 0;
    this.opts.logger.info({ node: target.host, queue: this.opts.queue, copy: this.copyName }, "AMQP connected");
  }

  private async consume(channel: Channel, handler: Handler): Promise<void> {
    const { queue, prefetch } = this.opts;
    // Every copy declares the same queue with the same arguments (a different argument is refused by the broker).
    await channel.assertQueue(queue, { durable: true, arguments: { "x-queue-type": "quorum", "x-delivery-limit": DELIVERY_LIMIT } });
    for (const key of INGEST_BINDINGS) await channel.bindQueue(queue, EXCHANGE, key);
    // The other copies' traffic reports: a queue of this connection's own, gone with it.
    const traffic = await channel.assertQueue("", { exclusive: true, autoDelete: true });
    await channel.bindQueue(traffic.queue, EXCHANGE, `${TRAFFIC_KEY}.*`);
    await channel.consume(traffic.queue, (message) => message && this.onTraffic(message.content), { noAck: true });
    await channel.prefetch(prefetch);
    await channel.consume(queue, (message) => message && this.deliver(channel, message, handler), {
      noAck: false,
      consumerTag: `hub-${this.copyName}-${Math.random().toString(16).slice(2, 8)}`,
    });
  }

  private onTraffic(content: Buffer): void {
    try {
      const report = JSON.parse(content.toString("utf8")) as { copy?: unknown; lastMinute?: unknown };
      if (typeof report.copy !== "string" || report.copy.length > 64 || report.copy === this.copyName) return;
      if (typeof report.lastMinute !== "number" || !Number.isFinite(report.lastMinute) || report.lastMinute < 0) return;
      this.peers.set(report.copy, { lastMinute: report.lastMinute, at: Date.now() });
      if (this.peers.size > 256) this.peers.delete(this.peers.keys().next().value!);
    } catch {
      // not a report of ours
    }
  }

  private deliver(channel: Channel, message: ConsumeMessage, handler: Handler): void {
    if (message.fields.redelivered) this.redelivered++;
    const topic = routingKeyToTopic(message.fields.routingKey);
    const settle = (ok: boolean) => {
      // A channel that closed meanwhile has returned the message to the queue already.
      if (this.channel !== channel) return;
      try {
        if (ok) channel.ack(message);
        else channel.nack(message, false, true);
      } catch {
        // closed between the check and the call: the broker requeued it
      }
    };
    if (topic === undefined) {
      this.opts.logger.warn(
        { routingKey: message.fields.routingKey.slice(0, 256) },
        "AMQP message with a routing key no gateway topic has; dropped",
      );
      settle(true);
      return;
    }
    const work = handler(topic, message.content);
    if (!work) {
      settle(true);
      return;
    }
    work.then(
      () => {
        this.delivered++;
        this.buckets[this.buckets.length - 1]!++;
        settle(true);
      },
      // Not stored (this copy stops, or an error it logged): back to the queue for a copy that can.
      () => settle(false),
    );
  }

  private lost(connection: ChannelModel): void {
    if (this.connection !== connection) return;
    this.connection = undefined;
    this.channel = undefined;
    this.connectedUrl = undefined;
    if (this.stopped) return;
    this.opts.logger.warn({ url: this.url() }, "AMQP connection lost; moving to the next node");
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    this.urlIndex = (this.urlIndex + 1) % this.opts.urls.length;
    const delay = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)]!;
    this.attempt++;
    this.reconnectTimer = setTimeout(() => {
      this.open().then(
        () => this.reconnects++,
        (error: Error) => {
          this.opts.logger.warn({ url: this.url(), err: error.message, retryInMs: delay }, "AMQP reconnect failed");
          this.scheduleReconnect();
        },
      );
    }, delay);
  }
}
