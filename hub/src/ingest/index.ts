import type { KeyObject } from "node:crypto";
import {
  type BatchAck,
  type ReceivedBody,
  GatewayStatus,
  GENESIS_HASH,
  gatewayTopics,
  loadPublicKey,
  openBatch,
  parseTopic,
  sha256Hex,
  splitBatch,
} from "@supervision/firmware-protocols";
import mqtt, { type MqttClient } from "mqtt";
import { Counter, Gauge, Histogram } from "prom-client";
import type { HubContext, HubExtension } from "../controller/extension.ts";
import { encodePoint, type Point } from "../influx/line-protocol.ts";
import { deadLetterCounter } from "../influx/isolating-write.ts";
import { RETENTION_MS } from "../influx/setup.ts";
import type { Registry } from "../registry/schema.ts";
import { ARRIVAL_FIELDS, Recent } from "./arrivals.ts";
import { ChainStore } from "./chain.ts";
import {
  gatewayHealthPoint,
  type IntegrityKind,
  integrityAlertPoint,
  readingToPoint,
  retentionPolicyFor,
  uplinkBatchPoint,
} from "./points.ts";
import { type DeadLetter, lineMeasurement, summariseReasons } from "../influx/dead-letters.ts";
import { LineGroups, PointWriter, sleep, WriterStoppedError } from "./writer.ts";

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
  /** Reading identities remembered to keep their first receive time (default 1,000,000: about 100 MB at most). */
  rememberReadings?: number;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Window around a batch's creation time in which its predecessor is looked up first; the gap re-check looks wider. */
const CHAIN_LOOKUP_MS = 6 * HOUR;
const GAP_LOOKUP_MS = 30 * DAY;
/** Measurements that hold a device's reading (the others are the hub's own records). */
const READING_MEASUREMENTS: ReadonlySet<string> = new Set(["rating", "signin", "motion", "heartbeat"]);

type RejectCode = NonNullable<BatchAck["code"]>;
/** What is kept of a batch body once its readings are encoded: the chain fields and how many readings it held. */
type BatchHeader = Omit<ReceivedBody, "readings"> & { readings: number };

class Rejection extends Error {
  constructor(
    readonly code: RejectCode,
    readonly kind: IntegrityKind,
    message: string,
  ) {
    super(message);
  }
}

export function createIngestExtension(opts: IngestOptions): HubExtension {
  const shareGroup = opts.shareGroup ?? "hub";
  const batchPoints = opts.writeBatchPoints ?? 5000;
  const gapGraceMs = opts.gapGraceMs ?? 30_000;

  let ctx: HubContext;
  let client: MqttClient | undefined;
  let writer: PointWriter | undefined;
  let chain: ChainStore;
  let stopping = false;
  const gapTimers = new Set<NodeJS.Timeout>();
  const keys = new Map<string, KeyObject>();
  const lastContact = new Map<string, number>();
  // What this process stored: a replayed batch is acknowledged without a write, a reading that arrives again (in
  // another batch, e.g. a device resending after its gateway forgot it) keeps its first receive time.
  const storedBatches = new Recent<string>(100_000);
  const seenReadings = new Recent<true>(opts.rememberReadings ?? 1_000_000);
  const rejectedByCode: Record<string, number> = {};
  const deadLettersByReason: Record<string, number> = {};
  let rejectionCount = 0;
  const totals = { batchesStored: 0, readingsStored: 0, replays: 0, writes: 0, lastWriteMs: 0 };
  let metrics: ReturnType<typeof registerMetrics>;

  function keyFor(registry: Registry) {
    return (gatewayId: string): KeyObject | undefined => {
      const pem = registry.gateways.get(gatewayId)?.publicKey;
      if (!pem) return undefined;
      let key = keys.get(pem);
      if (!key) {
        key = loadPublicKey(pem);
        keys.set(pem, key);
      }
      return key;
    };
  }

  function publishAck(ack: BatchAck): void {
    client?.publish(gatewayTopics.ack(ack.gatewayId), JSON.stringify(ack), { qos: 1 });
  }

  /** Encodes a point into its policy's lines; throws UnwritablePointError for a point line protocol cannot carry. */
  function addPoint(groups: LineGroups, point: Point): void {
    groups.add(retentionPolicyFor(point.measurement), encodePoint(point));
  }

  /** Stores an alert (retrying like any write); alerts never block or fail the message that raised them. */
  function storeAlert(alert: Parameters<typeof integrityAlertPoint>[0]): Promise<void> {
    ctx.logger.warn(
      { gateway: alert.gatewayId, kind: alert.kind, epoch: alert.epoch, seq: alert.seq, detail: alert.detail },
      "integrity alert",
    );
    metrics.alerts.inc({ kind: alert.kind });
    const groups = new LineGroups({ source: "alert", gatewayId: alert.gatewayId, epoch: alert.epoch, seq: alert.seq });
    addPoint(groups, integrityAlertPoint(alert));
    return (writer as PointWriter).write(groups).then(() => undefined);
  }

  /** Retries a chain query while InfluxDB is unreachable: no batch is judged without its chain. */
  async function withRetry<T>(what: string, fn: () => Promise<T>): Promise<T> {
    let backoffMs = 100;
    for (;;) {
      try {
        const result = await fn();
        writer?.setInfluxState(true);
        return result;
      } catch (e) {
        if (stopping) throw new WriterStoppedError();
        writer?.setInfluxState(false);
        ctx.logger.warn({ err: (e as Error).message, retryInMs: backoffMs }, `influxdb ${what} failed; will retry`);
        await sleep(backoffMs);
        backoffMs = Math.min(backoffMs * 2, 5_000);
      }
    }
  }

  async function reject(gatewayId: string, wire: Buffer, rejection: Rejection): Promise<void> {
    rejectedByCode[rejection.code] = (rejectedByCode[rejection.code] ?? 0) + 1;
    metrics.batches.inc({ result: rejection.code });
    // The body is not trusted here; it is only peeked at so the gateway can match the ack to its batch.
    const parts = splitBatch(wire);
    const bodyBytes = parts.ok ? parts.value.bodyBytes : wire.subarray(0, Math.min(wire.length, 1024));
    const peek = peekIdentity(bodyBytes);
    await storeAlert({
      gatewayId,
      kind: rejection.kind,
      epoch: peek.epoch,
      seq: peek.seq,
      detail: rejection.message,
      atMs: ctx.now(),
      discriminator: rejectionCount++,
    });
    publishAck({
      v: 1,
      gatewayId,
      epoch: peek.epoch,
      seq: peek.seq,
      hash: sha256Hex(bodyBytes),
      status: "rejected",
      code: rejection.code,
      reason: rejection.message.slice(0, 512),
    });
  }

  async function handleBatch(gatewayId: string, wire: Buffer): Promise<void> {
    const registry = ctx.registry.current();
    const opened = openBatch(gatewayId, wire, keyFor(registry));
    if (!opened.ok) {
      const code = opened.error.code;
      if (code === "bad_signature" || code === "unknown_gateway")
        return reject(gatewayId, wire, new Rejection(code, code, opened.error.message));
      return reject(gatewayId, wire, new Rejection("malformed", "malformed", `${code}: ${opened.error.message}`));
    }
    const { hash } = opened.value;
    lastContact.set(gatewayId, ctx.now());
    const batchKey = `${gatewayId}/${opened.value.body.epoch}/${opened.value.body.seq}`;
    if (storedBatches.get(batchKey) === hash) {
      // Stored whole by this process (its write resolved): acknowledged again, nothing rewritten.
      metrics.batches.inc({ result: "replay" });
      totals.replays++;
      const { epoch, seq } = opened.value.body;
      publishAck({ v: 1, gatewayId, epoch, seq, hash, status: "stored" });
      return;
    }
    // The readings become lines before anything is awaited, so thousands of parsed readings never outlive this
    // tick (kept across the chain lookup, they survived into the old generation and cost more collecting than
    // parsing). A replay rewrites identical points (same keys and fields), which also repairs a half-finished write.
    const { header, groups, malformed, alerts, arrivals } = encodeBatch(opened.value.body, registry);
    const raised: IntegrityKind[] = [];
    for (const [kind, detail] of alerts) {
      addAlert(groups, header, kind, detail);
      raised.push(kind);
    }

    const stored = await withRetry("chain lookup", () =>
      chain.hashes(gatewayId, header.epoch, [header.seq, header.seq - 1], header.createdAt, CHAIN_LOOKUP_MS),
    );
    const sameSeq = stored.get(header.seq);
    if (sameSeq !== undefined && sameSeq !== hash) {
      return reject(
        gatewayId,
        wire,
        new Rejection("altered", "altered", `batch ${header.epoch}/${header.seq} was stored with hash ${sameSeq}; this copy has ${hash}`),
      );
    }
    const replay = sameSeq === hash;
    if (!replay) {
      const problem = checkChain(header, stored.get(header.seq - 1));
      if (problem) return reject(gatewayId, wire, problem);
    }
    if (!replay && header.seq === 1) {
      const restarted = await withRetry("epoch lookup", () =>
        chain.hadOtherEpoch(gatewayId, header.epoch, header.createdAt, GAP_LOOKUP_MS),
      );
      if (restarted) {
        addAlert(groups, header, "chain_restart", `gateway started chain ${header.epoch}`);
        raised.push("chain_restart");
      }
    }
    addPoint(groups, uplinkBatchPoint(header, hash));

    const { deadLetters } = await (writer as PointWriter).write(groups);
    chain.remember(gatewayId, header.epoch, header.seq, hash);
    storedBatches.set(batchKey, hash);
    for (const key of arrivals) seenReadings.set(key, true);
    const deadReadings = deadLetters.filter((l) => READING_MEASUREMENTS.has(lineMeasurement(l.line))).length;
    const count = header.readings - malformed - deadReadings;
    metrics.batches.inc({ result: replay ? "replay" : "stored" });
    if (replay) totals.replays++;
    else {
      totals.batchesStored++;
      totals.readingsStored += count;
      metrics.readings.inc(count);
      for (const kind of raised) metrics.alerts.inc({ kind });
      if (deadLetters.length > 0) await alertDeadLetters(header, deadLetters);
    }
    publishAck({ v: 1, gatewayId, epoch: header.epoch, seq: header.seq, hash, status: "stored" });
    ctx.events.emit("stored", { gatewayId, count });
    if (!replay && header.seq > 1 && !stored.has(header.seq - 1)) scheduleGapCheck(header);
  }

  /** The integrity alert of a batch whose points InfluxDB will never store (they are dead letters now). */
  async function alertDeadLetters(header: BatchHeader, letters: DeadLetter[]): Promise<void> {
    await storeAlert({
      gatewayId: header.gatewayId,
      kind: "dead_letter",
      epoch: header.epoch,
      seq: header.seq,
      detail: `${letters.length} point(s) of batch ${header.epoch}/${header.seq} can never be stored (${summariseReasons(letters)}); kept as dead letters`,
      atMs: header.createdAt,
      discriminator: header.seq,
    });
  }

  /**
   * A reading this process saw before is written without its arrival fields: InfluxDB merges the fields of a
   * point written again, so the first arrival's receive time stays.
   */
  function keepFirstArrival(point: Point, arrivals: string[]): void {
    if (point.fields.rx_ts === undefined) return;
    const key = `${point.measurement}/${point.tags?.device ?? ""}/${point.timestamp}`;
    if (!seenReadings.has(key))
      arrivals.push(key); // remembered once stored
    else for (const field of ARRIVAL_FIELDS) delete point.fields[field];
  }

  /** A batch's readings as lines by policy, with the alerts its readings raise; the header is all that is kept of the body. */
  function encodeBatch(body: ReceivedBody, registry: Registry) {
    const { readings, ...rest } = body;
    const header: BatchHeader = { ...rest, readings: readings.length };
    const groups = new LineGroups({
      source: "batch",
      gatewayId: header.gatewayId,
      epoch: header.epoch,
      seq: header.seq,
      createdAt: header.createdAt,
    });
    const unknownDevices = new Set<string>();
    const arrivals: string[] = [];
    let malformed = 0;
    for (const reading of readings) {
      const point = readingToPoint(reading, registry);
      try {
        if ("error" in point) throw new Error(point.error.message);
        keepFirstArrival(point, arrivals);
        addPoint(groups, point);
      } catch (e) {
        malformed++;
        ctx.logger.warn({ gateway: header.gatewayId, err: (e as Error).message }, "reading not stored");
        continue;
      }
      const device = point.tags?.device;
      if (device !== undefined && !registry.devices.has(device)) unknownDevices.add(device);
    }
    const alerts: Array<[IntegrityKind, string]> = [];
    if (unknownDevices.size > 0)
      alerts.push(["unknown_device", `readings of devices not in the registry: ${[...unknownDevices].join(", ")}`]);
    if (malformed > 0) alerts.push(["malformed", `${malformed} of ${readings.length} readings are malformed and were not stored`]);
    return { header, groups: groups.compact(), malformed, alerts, arrivals };
  }

  function addAlert(groups: LineGroups, header: BatchHeader, kind: IntegrityKind, detail: string): void {
    const { gatewayId, epoch, seq, createdAt } = header;
    addPoint(groups, integrityAlertPoint({ gatewayId, kind, epoch, seq, detail, atMs: createdAt, discriminator: seq }));
  }

  /** The chain link to the predecessor, when it is known; an unknown predecessor is judged later (scheduleGapCheck). */
  function checkChain(body: BatchHeader, prevStored: string | undefined): Rejection | undefined {
    if (body.seq === 1 && body.prevHash !== GENESIS_HASH)
      return new Rejection("altered", "altered", `batch ${body.epoch}/1 must start from the genesis hash`);
    if (prevStored !== undefined && prevStored !== body.prevHash)
      return new Rejection(
        "altered",
        "altered",
        `batch ${body.epoch}/${body.seq} names prevHash ${body.prevHash}; stored ${body.seq - 1} has ${prevStored}`,
      );
    return undefined;
  }

  /** Batches arrive out of order with several in flight: a gap is only a gap if the predecessor is still missing later. */
  function scheduleGapCheck(body: BatchHeader): void {
    const timer = setTimeout(async () => {
      gapTimers.delete(timer);
      try {
        const prev = await chain.hashes(body.gatewayId, body.epoch, [body.seq - 1], body.createdAt, GAP_LOOKUP_MS);
        if (prev.has(body.seq - 1)) return;
        await storeAlert({
          gatewayId: body.gatewayId,
          kind: "gap",
          epoch: body.epoch,
          seq: body.seq,
          detail: `batch ${body.seq - 1} of chain ${body.epoch} is missing before batch ${body.seq}`,
          atMs: body.createdAt,
          discriminator: body.seq,
        });
      } catch (e) {
        if (!stopping) ctx.logger.warn({ err: (e as Error).message, gateway: body.gatewayId }, "gap check failed");
      }
    }, gapGraceMs);
    gapTimers.add(timer);
  }

  async function handleStatus(gatewayId: string, payload: Buffer): Promise<void> {
    let json: unknown;
    try {
      json = JSON.parse(payload.toString("utf8"));
    } catch {
      json = undefined;
    }
    const status = GatewayStatus.safeParse(json);
    if (!status.success || status.data.gatewayId !== gatewayId || !ctx.registry.current().gateways.has(gatewayId)) {
      rejectedByCode.status = (rejectedByCode.status ?? 0) + 1;
      ctx.logger.warn(
        { gateway: gatewayId, bytes: payload.length },
        "gateway status ignored: malformed, unknown gateway, or another gateway's topic",
      );
      return;
    }
    lastContact.set(gatewayId, ctx.now());
    const groups = new LineGroups({ source: "status", gatewayId });
    addPoint(groups, gatewayHealthPoint(status.data, ctx.registry.current(), ctx.now()));
    const { deadLetters } = await (writer as PointWriter).write(groups);
    if (deadLetters.length > 0)
      await storeAlert({
        gatewayId,
        kind: "dead_letter",
        epoch: "",
        seq: 0,
        detail: `gateway status can never be stored (${summariseReasons(deadLetters)}); kept as a dead letter`,
        atMs: ctx.now(),
        discriminator: rejectionCount++,
      });
  }

  function onMessage(topic: string, payload: Buffer): void {
    const parsed = parseTopic(topic);
    if (!parsed.ok || parsed.value.scope !== "gw") {
      ctx.logger.warn({ topic: topic.slice(0, 256) }, "message on an unexpected topic ignored");
      return;
    }
    const { gatewayId, type } = parsed.value;
    const work = type === "batch" ? handleBatch(gatewayId, payload) : type === "status" ? handleStatus(gatewayId, payload) : undefined;
    work?.catch((e: unknown) => {
      if (e instanceof WriterStoppedError) return; // not acknowledged; the gateway sends it again
      ctx.logger.error({ err: (e as Error).message, gateway: gatewayId, type }, "message not processed; not acknowledged");
    });
  }

  return {
    name: "ingest",
    async start(context) {
      ctx = context;
      stopping = false;
      metrics = registerMetrics(ctx);
      chain = new ChainStore(ctx.influx, ctx.database);
      writer = new PointWriter({
        write: ctx.writeLines,
        logger: ctx.logger.child({ component: "ingest-writer" }),
        batchPoints,
        retentionMs: RETENTION_MS, // judged by the real clock, as influxd judges it (ctx.now may be a simulated day)
        onDeadLetter: (letter) => {
          deadLettersByReason[letter.reason] = (deadLettersByReason[letter.reason] ?? 0) + 1;
          metrics.deadLetters.inc({ reason: letter.reason, source: letter.context.source });
        },
        onWrite: (points, seconds) => {
          totals.writes++;
          totals.lastWriteMs = seconds * 1000;
          metrics.writeSeconds.observe(seconds);
          metrics.writtenPoints.inc(points);
        },
        onInfluxState: (up) => metrics.influxUp.set(up ? 1 : 0),
      });
      metrics.influxUp.set(1); // the writer starts assuming InfluxDB is up (ensureDatabase just reached it); it reports changes only
      const filter = (f: string) => (shareGroup ? gatewayTopics.shared(shareGroup, f) : f);
      client = await mqtt.connectAsync(opts.brokerUrl, {
        username: opts.username,
        password: opts.password,
        clientId: opts.clientId ?? `hub-ingest-${process.pid}-${Math.random().toString(16).slice(2, 8)}`,
        ...opts.tls,
        reconnectPeriod: 1000,
      });
      client.on("message", onMessage);
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
      for (const t of gapTimers) clearTimeout(t);
      gapTimers.clear();
      await client?.endAsync();
      await writer?.stop();
      client = undefined;
    },
    status() {
      return {
        batchesStored: totals.batchesStored,
        readingsStored: totals.readingsStored,
        replaysAcknowledged: totals.replays,
        rejected: { ...rejectedByCode },
        deadLetters: { ...deadLettersByReason },
        influx: writer?.influxUp === false ? "down" : "up",
        pendingPoints: writer?.pendingPoints ?? 0,
        writes: totals.writes,
        lastWriteMs: Math.round(totals.lastWriteMs * 10) / 10,
        lastContact: Object.fromEntries([...lastContact].map(([id, ms]) => [id, new Date(ms).toISOString()])),
        mqtt: client?.connected ? "connected" : "disconnected",
      };
    },
  };
}

/** epoch and seq of an untrusted body, for the ack of a rejected batch; defaults when they cannot be read. */
function peekIdentity(bodyBytes: Buffer): { epoch: string; seq: number } {
  try {
    const json = JSON.parse(bodyBytes.toString("utf8")) as { epoch?: unknown; seq?: unknown };
    const epoch = typeof json.epoch === "string" && /^[0-9a-f]{16}$/.test(json.epoch) ? json.epoch : "";
    const seq = Number.isSafeInteger(json.seq) && (json.seq as number) >= 1 ? (json.seq as number) : 1;
    return { epoch, seq };
  } catch {
    return { epoch: "", seq: 1 };
  }
}

function registerMetrics(ctx: HubContext) {
  const registers = [ctx.metrics];
  const existing = <T>(name: string) => ctx.metrics.getSingleMetric(name) as T | undefined;
  return {
    batches:
      existing<Counter<"result">>("hub_ingest_batches_total") ??
      new Counter({
        name: "hub_ingest_batches_total",
        help: "Gateway batches by result (stored, replay, or a rejection code)",
        labelNames: ["result"],
        registers,
      }),
    readings:
      existing<Counter>("hub_ingest_readings_total") ??
      new Counter({ name: "hub_ingest_readings_total", help: "Readings stored in InfluxDB", registers }),
    writtenPoints:
      existing<Counter>("hub_ingest_points_written_total") ??
      new Counter({ name: "hub_ingest_points_written_total", help: "Points written to InfluxDB", registers }),
    alerts:
      existing<Counter<"kind">>("hub_ingest_integrity_alerts_total") ??
      new Counter({ name: "hub_ingest_integrity_alerts_total", help: "Integrity alerts raised", labelNames: ["kind"], registers }),
    writeSeconds:
      existing<Histogram>("hub_ingest_write_seconds") ??
      new Histogram({
        name: "hub_ingest_write_seconds",
        help: "InfluxDB write latency",
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
        registers,
      }),
    deadLetters: deadLetterCounter(ctx.metrics),
    influxUp:
      existing<Gauge>("hub_ingest_influx_up") ??
      new Gauge({ name: "hub_ingest_influx_up", help: "1 while InfluxDB accepts writes", registers }),
  };
}
