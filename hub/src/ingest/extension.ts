import { type BatchAck, gatewayTopics, parseTopic } from "@supervision/firmware-protocols";
import mqtt, { type MqttClient } from "mqtt";
import type { AmqpLink } from "../broker/amqp.ts";
import type { HubContext, HubExtension } from "../controller/extension.ts";
import { RETENTION_MS } from "../influx/setup.ts";
import { ReadingMemory, Recent } from "./arrivals.ts";
import { BatchIngest } from "./batch.ts";
import { ChainStore } from "./chain.ts";
import { GapWatch } from "./chain-check.ts";
import { IngestCounters, registerIngestMetrics } from "./metrics.ts";
import type { IngestRuntime } from "./runtime.ts";
import { probeSharedSubscriptions, type ShareProbeResult } from "./share-probe.ts";
import { handleGatewayStatus } from "./status-message.ts";
import { createIngestWriter, type IngestWriter } from "./regional-writer.ts";
import { WriterStoppedError } from "./writer.ts";

export interface IngestOptions {
  brokerUrl: string;
  username?: string;
  password?: string;
  tls?: { ca?: string; cert?: string; key?: string; rejectUnauthorized?: boolean };
  /** Shared-subscription group, so N hub copies share the traffic of an external broker. "" subscribes plainly (the embedded aedes broker has no $share). */
  shareGroup?: string;
  /** Points per InfluxDB write (default 5000). */
  writeBatchPoints?: number;
  clientId?: string;
  /** How long a missing predecessor may take to arrive before a `gap` alert (default 30 s). */
  gapGraceMs?: number;
  /** Reading identities remembered to keep their first receive time (default 1,000,000: about 24 MB at most). */
  rememberReadings?: number;
  /** The hub's audit key (hub/src/audit): batch manifests are digested with it, so nobody without it can forge one. */
  auditKey?: Buffer;
  /** Consume a RabbitMQ quorum queue over AMQP instead of subscribing over MQTT (hub/src/broker/amqp.ts). */
  amqp?: AmqpLink;
}

/** The ingest extension: gateway batches and statuses from the broker into InfluxDB (see README.md). */
export function createIngestExtension(opts: IngestOptions): HubExtension {
  const shareGroup = opts.shareGroup ?? "hub";
  const batchPoints = opts.writeBatchPoints ?? 5000;
  const gapGraceMs = opts.gapGraceMs ?? 30_000;

  let client: MqttClient | undefined;
  let writer: IngestWriter | undefined;
  let gaps: GapWatch | undefined;
  let stopping = false;
  let shareProbe: ShareProbeResult | undefined;
  const counters = new IngestCounters();
  // What this process stored: a replayed batch is acknowledged without a write, a reading that arrives again (in
  // another batch, e.g. a device resending after its gateway forgot it) keeps its first receive time.
  const storedBatches = new Recent<string>(100_000);
  const seenReadings = new ReadingMemory(opts.rememberReadings ?? 1_000_000);

  function publishAck(ack: BatchAck): void {
    if (opts.amqp) opts.amqp.publish(gatewayTopics.ack(ack.gatewayId), JSON.stringify(ack));
    else client?.publish(gatewayTopics.ack(ack.gatewayId), JSON.stringify(ack), { qos: 1 });
  }

  /** Each message's work, resolved once stored and acknowledged (the AMQP transport settles the delivery then). */
  function messageHandler(ctx: HubContext, batches: BatchIngest, rt: IngestRuntime) {
    return (topic: string, payload: Buffer): Promise<void> | undefined => {
      const parsed = parseTopic(topic);
      if (!parsed.ok || parsed.value.scope !== "gw") {
        ctx.logger.warn({ topic: topic.slice(0, 256) }, "message on an unexpected topic ignored");
        return;
      }
      const { gatewayId, type } = parsed.value;
      const work =
        type === "batch" ? batches.handle(gatewayId, payload) : type === "status" ? handleGatewayStatus(rt, gatewayId, payload) : undefined;
      return work?.catch((e: unknown) => {
        if (!(e instanceof WriterStoppedError))
          ctx.logger.error({ err: (e as Error).message, gateway: gatewayId, type }, "message not processed; not acknowledged");
        throw e; // not acknowledged; the gateway sends it again
      });
    };
  }

  return {
    name: "ingest",
    async start(ctx) {
      stopping = false;
      const metrics = registerIngestMetrics(ctx);
      writer = createIngestWriter(
        {
          logger: ctx.logger.child({ component: "ingest-writer" }),
          batchPoints,
          retentionMs: RETENTION_MS, // judged by the real clock, as influxd judges it (ctx.now may be a simulated day)
          onDeadLetter: (letter) => {
            counters.deadLettersByReason[letter.reason] = (counters.deadLettersByReason[letter.reason] ?? 0) + 1;
            metrics.deadLetters.inc({ reason: letter.reason, source: letter.context.source });
          },
          onWrite: (points, seconds) => {
            counters.writes++;
            counters.lastWriteMs = seconds * 1000;
            metrics.writeSeconds.observe(seconds);
            metrics.writtenPoints.inc(points);
          },
          onInfluxState: (up) => metrics.influxUp.set(up ? 1 : 0),
        },
        ctx.writeLines,
        ctx.regions,
      );
      metrics.influxUp.set(1); // the writer starts assuming InfluxDB is up (ensureDatabase just reached it); it reports changes only
      const rt: IngestRuntime = {
        ctx,
        writer,
        chain: new ChainStore(ctx.influx, ctx.database),
        metrics,
        counters,
        publishAck,
        stopping: () => stopping,
        storedBatches,
        seenReadings,
        auditKey: opts.auditKey,
      };
      gaps = new GapWatch(rt, gapGraceMs);
      if (opts.amqp) {
        await opts.amqp.start(messageHandler(ctx, new BatchIngest(rt, gaps), rt));
        ctx.logger.info({ transport: "amqp", copy: opts.amqp.copyName }, "ingest started");
        return;
      }
      if (shareGroup) {
        // A broker that grants `$share` and delivers nothing to it (RabbitMQ, NATS) would leave this hub connected and empty.
        shareProbe = await probeSharedSubscriptions({
          brokerUrl: opts.brokerUrl,
          username: opts.username,
          password: opts.password,
          tls: opts.tls,
          shareGroup,
        });
        if (shareProbe === "not_delivered") {
          const message = `the broker at ${opts.brokerUrl} accepts $share/${shareGroup}/... subscriptions but delivers nothing to them (RabbitMQ and NATS take them as literal topics): this hub would receive no batch. On RabbitMQ set broker.transport: amqp with broker.amqp.urls (hub/README.md, "Several hub copies"); on one hub with a broker that has no $share, set broker.shareGroup to a group your broker shares`;
          ctx.logger.error({ broker: opts.brokerUrl, shareGroup }, message);
          throw new Error(message);
        }
        if (shareProbe === "unknown")
          ctx.logger.warn(
            { broker: opts.brokerUrl, shareGroup },
            'could not check that the broker delivers shared subscriptions (a probe message came back through no subscription); if no batch arrives, see hub/README.md, "Several hub copies"',
          );
      }
      const filter = (f: string) => (shareGroup ? gatewayTopics.shared(shareGroup, f) : f);
      client = await mqtt.connectAsync(opts.brokerUrl, {
        username: opts.username,
        password: opts.password,
        clientId: opts.clientId ?? `hub-ingest-${process.pid}-${Math.random().toString(16).slice(2, 8)}`,
        ...opts.tls,
        reconnectPeriod: 1000,
      });
      const handle = messageHandler(ctx, new BatchIngest(rt, gaps), rt);
      client.on("message", (topic, payload) => void handle(topic, payload)?.catch(() => undefined));
      client.on("error", (e) => ctx.logger.warn({ err: e.message }, "ingest mqtt client error"));
      // Re-subscribe on every connect: a clean session forgets subscriptions.
      const subscribe = () =>
        client?.subscribe([filter(gatewayTopics.allBatches), filter(gatewayTopics.allStatus)], { qos: 1 }, (e) => {
          if (e) ctx.logger.error({ err: e.message }, "ingest could not subscribe");
        });
      client.on("connect", subscribe);
      await client.subscribeAsync([filter(gatewayTopics.allBatches), filter(gatewayTopics.allStatus)], { qos: 1 });
      ctx.logger.info({ broker: opts.brokerUrl, shareGroup: shareGroup || null }, "ingest started");
    },
    async stop() {
      stopping = true;
      gaps?.stop();
      await client?.endAsync();
      await opts.amqp?.stop();
      await writer?.stop();
      client = undefined;
    },
    status() {
      return {
        batchesStored: counters.batchesStored,
        batchesByEnvelope: { ...counters.batchesByEnvelope },
        readingsStored: counters.readingsStored,
        replaysAcknowledged: counters.replays,
        rejected: { ...counters.rejectedByCode },
        deadLetters: { ...counters.deadLettersByReason },
        influx: writer?.influxUp === false ? "down" : "up",
        // With influx.regions: which database is down (the region's gateways wait for it).
        ...(writer?.databases ? { influxByRegion: writer.databases() } : {}),
        pendingPoints: writer?.pendingPoints ?? 0,
        writes: counters.writes,
        lastWriteMs: Math.round(counters.lastWriteMs * 10) / 10,
        lastContact: Object.fromEntries([...counters.lastContact].map(([id, ms]) => [id, new Date(ms).toISOString()])),
        ...(opts.amqp ? opts.amqp.status() : { mqtt: client?.connected ? "connected" : "disconnected" }),
        ...(shareProbe ? { sharedSubscriptions: shareProbe } : {}),
      };
    },
  };
}
