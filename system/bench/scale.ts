/**
 * `npm run bench -- scale` (issue 17): many halls' gateways into (a) one hub process on one Mosquitto and (b) two hub
 * copies sharing the quorum queue of a three-node RabbitMQ cluster over AMQP (the gateways on the nodes' MQTT
 * listeners, a third on each); each with every heartbeat forwarded and with heartbeat summaries. A benchmark, not a test.
 *
 * The halls (scale-hall.ts): 100 devices each (49 windows with a keypad and a camera, two sign-in terminals), 30 s
 * heartbeats, the demo hall's working day from 09:00 (ratings, sign-ins, motion). Their batches are made once by the
 * real gateway code on a virtual clock (a few template halls), then signed by each simulated gateway with its own key
 * and chain; the hub verifies them as in production (every gateway is in its registry with its site, windows, clerks
 * and devices). Each gateway has its own MQTT connection, at most 4 batches in flight (the uplink's default) and
 * resends a batch left unacknowledged for 30 s, then after waits that double up to 5 minutes, as the uplink does
 * (nextAckWaitMs).
 *
 * Time: the summaries phase plays one summary period (10 simulated minutes) of every hall; the every-heartbeat phase
 * plays one minute of each hall (halls take the ten minutes' slices in turn, so the phase's mix of readings is the
 * same ten minutes'). Each phase's batches are due over `--seconds` of wall time (60: every heartbeat in real time,
 * summaries ten times faster); halls are spread over a heartbeat interval (0-30 s apart), so they do not send in
 * lockstep. A batch is due at the wall time its virtual seal time maps to; if its gateway has 4 in flight it waits.
 *
 * Measured per phase: readings per second stored (acknowledged readings over the time from the first batch due to
 * the last ack), hub CPU µs per reading (all hub copies together, from /proc), broker messages per reading (batches
 * the gateways publish plus the acks they receive), device time → queryable p50/p99 (a reading is queryable when its
 * batch is acknowledged: the hub acks after the InfluxDB write; the time is the reading's wait in the gateway before
 * its batch was sealed, virtual, plus the wall time from the batch's due time to its ack), and in (b) each copy's share
 * of the batches. Every wait has a timeout that says what is missing. A batch the hub refuses (a `rejected` ack) is
 * settled as the gateway settles it, counted and shown with its reason, and its readings are not counted as stored.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { BatchAck, generateGatewayKeys, gatewayTopics, loadPrivateKey, localTimeToUtc } from "@supervision/firmware-protocols";
import { nextAckWaitMs } from "@supervision/gateway";
import { type IngestProcess, startIngestProcess, WARM_UP_GATEWAY, warmUp } from "@supervision/hub/bench";
import { cpuMeter, freePort, microsPerReading, startInfluxd, startMosquitto, type TestInfluxd } from "@supervision/test-support";
import mqtt, { type MqttClient } from "mqtt";
import { planCluster, rabbitInstalled, RabbitCluster } from "../cluster/rabbitmq.ts";
import { type GatewayBatch, hallPrefix, hallRegistry, signAsGateway, SUMMARY_S, type TemplateBatch, templateHall } from "./scale-hall.ts";
import { describeUnacked, dueMs, hallOffsetMs, hallPlan, percentile, ratio, shares, withinSplit } from "./scale-stats.ts";

const USAGE = `Usage: npm run bench -- scale [--gateways 1000] [--windows 49] [--templates 4] [--seconds 60]
                              [--every-minutes 1] [--configs one,two] [--ack-timeout 60] [--help]

  --gateways N       simulated halls, each its own gateway id, key and MQTT connection (1000; 20-50 for a quick run)
  --windows N        windows per hall, each with a keypad and a camera, plus two terminals: 2N+2 devices (49: 100)
  --templates N      distinct halls simulated through the gateway code, shared out among the gateways (4)
  --seconds S        wall time each phase's batches are due over (60): summaries play 10 simulated minutes in it
  --every-minutes M  simulated minutes each hall plays with every heartbeat forwarded (1; a divisor of 10)
  --configs LIST     one (one hub, one Mosquitto), two (two hub copies, three-node RabbitMQ over AMQP), or both (one,two)
  --ack-timeout S    give up when no batch was acknowledged for S seconds, naming the gateways waiting (60)

Starts its own influxd, Mosquitto and RabbitMQ cluster (loopback ports, throw-away directories). The default
offers more than one hub takes on a 2-core machine (it stores about 370 batches/s there), so the phases run until the
backlog is stored: a full run took 20 minutes there (the cluster starts in about 30 s, while the halls are prepared);
--gateways 50 takes about 3 minutes.`;

const { values } = parseArgs({
  options: {
    gateways: { type: "string", default: "1000" },
    windows: { type: "string", default: "49" },
    templates: { type: "string", default: "4" },
    seconds: { type: "string", default: "60" },
    "every-minutes": { type: "string", default: "1" },
    configs: { type: "string", default: "one,two" },
    "ack-timeout": { type: "string", default: "60" },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
function intFlag(name: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) {
    console.error(`--${name} ${text}: give a whole number from ${min} to ${max}\n\n${USAGE}`);
    process.exit(2);
  }
  return n;
}
const GATEWAYS = intFlag("gateways", values.gateways, 1, 5000);
const WINDOWS = intFlag("windows", values.windows, 1, 99);
const TEMPLATES = intFlag("templates", values.templates, 1, 50);
const SECONDS = intFlag("seconds", values.seconds, 5, 3600);
const EVERY_MINUTES = intFlag("every-minutes", values["every-minutes"], 1, 10);
const ACK_TIMEOUT_S = intFlag("ack-timeout", values["ack-timeout"], 5, 3600);
const SPAN_MINUTES = SUMMARY_S / 60;
if (SPAN_MINUTES % EVERY_MINUTES !== 0) {
  console.error(`--every-minutes ${EVERY_MINUTES}: give a divisor of ${SPAN_MINUTES}`);
  process.exit(2);
}
const CONFIGS = values.configs.split(",").filter(Boolean);
if (CONFIGS.length === 0 || CONFIGS.some((c) => c !== "one" && c !== "two")) {
  console.error(`--configs ${values.configs}: give one, two or one,two`);
  process.exit(2);
}
if (CONFIGS.includes("two") && !rabbitInstalled()) {
  console.error("--configs two needs Debian's rabbitmq-server (apt-get install rabbitmq-server); run with --configs one without it");
  process.exit(2);
}
type Mode = "every heartbeat" | "summaries";
const MODES: Mode[] = ["every heartbeat", "summaries"];
const IN_FLIGHT = 4;
/** The uplink's default ackTimeoutMs. */
const ACK_TIMEOUT_MS = 30_000;
/** Halls are spread over one heartbeat interval. */
const SPREAD_MS = 30_000;
const WRITE_BATCH = 5000;
const TZ = "Asia/Shanghai";

/** A promise that fails after `ms` saying what was awaited. */
async function within<T>(what: string, ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${Math.round(ms / 1000)} s: ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (line: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);

// The span: 09:00-09:10 (a summary boundary) in the hall's zone, yesterday: device times the hub accepts.
const date = new Date(Date.now() - 86_400_000).toLocaleDateString("en-CA", { timeZone: TZ });
const T0 = localTimeToUtc(date, "09:00", TZ);

interface Hall {
  id: string;
  prefix: string;
  keyPem: string;
  /** Per mode: the batches this hall's gateway sends, with their virtual times from the span's start (offset included). */
  plan: Record<Mode, { batch: GatewayBatch; at: number }[]>;
}

async function prepare(): Promise<{
  halls: Hall[];
  registry: ReturnType<typeof registryOf>;
  readingsPerHallHour: Record<Mode, Record<string, number>>;
}> {
  const started = performance.now();
  const templates: Record<Mode, TemplateBatch[][]> = { "every heartbeat": [], summaries: [] };
  for (const mode of MODES)
    for (let k = 0; k < TEMPLATES; k++)
      templates[mode].push(await templateHall({ mode, seed: k + 1, date, t0: T0, minutes: SPAN_MINUTES, windows: WINDOWS }));
  log(`${TEMPLATES} template halls simulated per mode in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  // What a hall sends per hour, by kind (templates' average over the span).
  const readingsPerHallHour = Object.fromEntries(
    MODES.map((mode) => {
      const kinds: Record<string, number> = {};
      for (const t of templates[mode]) for (const b of t) for (const [k, n] of Object.entries(b.kinds)) kinds[k] = (kinds[k] ?? 0) + n;
      const batches = templates[mode].reduce((sum, t) => sum + t.length, 0);
      kinds.batches = batches;
      for (const k of Object.keys(kinds)) kinds[k] = Math.round((kinds[k]! / TEMPLATES) * (60 / SPAN_MINUTES));
      return [mode, kinds];
    }),
  ) as Record<Mode, Record<string, number>>;
  const slices = SPAN_MINUTES / EVERY_MINUTES;
  const halls: Hall[] = [];
  for (let g = 0; g < GATEWAYS; g++) {
    const prefix = hallPrefix(g);
    const keys = generateGatewayKeys();
    const key = loadPrivateKey(keys.privateKeyPem);
    const id = `gw-${prefix}`;
    const { template, slice } = hallPlan(g, TEMPLATES, slices);
    const offset = hallOffsetMs(g, SPREAD_MS);
    const sliceFrom = T0 + slice * EVERY_MINUTES * 60_000;
    const every = templates["every heartbeat"][template]!.filter(
      (b) => b.sealedAt >= sliceFrom && b.sealedAt < sliceFrom + EVERY_MINUTES * 60_000,
    );
    const summaries = templates.summaries[template]!;
    halls.push({
      id,
      prefix,
      keyPem: keys.publicKeyPem,
      plan: {
        "every heartbeat": signAsGateway(every, prefix, id, key).map((batch) => ({ batch, at: batch.sealedAt - sliceFrom + offset })),
        summaries: signAsGateway(summaries, prefix, id, key).map((batch) => ({ batch, at: batch.sealedAt - T0 + offset })),
      },
    });
  }
  log(`${GATEWAYS} gateways' batches signed in ${((performance.now() - started) / 1000).toFixed(1)} s (in all)`);
  return { halls, registry: registryOf(halls), readingsPerHallHour };
}

function registryOf(halls: Hall[]) {
  const entries = halls.map((h, g) => hallRegistry(g, WINDOWS, h.keyPem));
  return {
    sites: entries.map((e) => e.site),
    gateways: entries.map((e) => e.gateway),
    windows: entries.flatMap((e) => e.windows),
    people: entries.flatMap((e) => e.people),
    devices: entries.flatMap((e) => e.devices),
  };
}

interface Broker {
  /** The MQTT URL gateway `g` connects to. */
  urlFor(g: number): string;
  auth: { username?: string; password?: string };
  pids: Record<string, number | undefined>;
}

interface PhaseResult {
  config: string;
  mode: Mode;
  readings: number;
  batches: number;
  acks: number;
  resends: number;
  /** Batches the hub refused, and their readings (not stored). */
  refused: number;
  refusedReadings: number;
  seconds: number;
  offeredPerS: number;
  storedPerS: number;
  hubMicros: number;
  cpu: Record<string, number>;
  p50: number;
  p99: number;
  copies: { name: string; batches: number; readings: number }[];
  /** The machine's 1-minute load average at the phase's start and end. */
  load: string;
}

/** One gateway's connection: publishes its batches, at most IN_FLIGHT unacknowledged, and resends as the uplink does. */
class SimGateway {
  readonly inFlight = new Map<number, { sentAt: number; waitMs: number; due: number; batch: GatewayBatch }>();
  readonly waiting: { due: number; batch: GatewayBatch }[] = [];
  acked = 0;
  resends = 0;
  /** Batches the hub refused (a `rejected` ack): settled, as the gateway settles them, but not stored. */
  refused = 0;
  refusedReadings = 0;

  constructor(
    readonly id: string,
    readonly client: MqttClient,
    private readonly onAcked: (gw: SimGateway, due: number, batch: GatewayBatch, at: number) => void,
    private readonly onRefused: (gw: SimGateway, ack: BatchAck) => void,
  ) {
    client.on("message", (_topic, payload) => {
      const parsed = BatchAck.safeParse(JSON.parse(payload.toString()));
      if (!parsed.success) return;
      const ack = parsed.data;
      const sent = this.inFlight.get(ack.seq);
      if (ack.status !== "stored") {
        if (!sent) return;
        this.inFlight.delete(ack.seq);
        this.refused++;
        this.refusedReadings += sent.batch.template.waits.length;
        this.onRefused(this, ack);
        this.pump();
        return;
      }
      if (!sent) return; // an ack of a resend already counted
      this.inFlight.delete(ack.seq);
      this.acked++;
      this.onAcked(this, sent.due, sent.batch, Date.now());
      this.pump();
    });
  }

  enqueue(due: number, batch: GatewayBatch): void {
    this.waiting.push({ due, batch });
    this.pump();
  }

  pump(): void {
    while (this.inFlight.size < IN_FLIGHT && this.waiting.length > 0) {
      const next = this.waiting.shift()!;
      this.inFlight.set(next.batch.seq, {
        sentAt: Date.now(),
        waitMs: nextAckWaitMs(undefined, ACK_TIMEOUT_MS),
        due: next.due,
        batch: next.batch,
      });
      this.client.publish(gatewayTopics.batch(this.id), next.batch.wire, { qos: 1 });
    }
  }

  resendOverdue(now: number): void {
    for (const entry of this.inFlight.values())
      if (now - entry.sentAt > entry.waitMs) {
        entry.sentAt = now;
        entry.waitMs = nextAckWaitMs(entry.waitMs, ACK_TIMEOUT_MS);
        this.resends++;
        this.client.publish(gatewayTopics.batch(this.id), entry.batch.wire, { qos: 1 });
      }
  }
}

async function connectGateways(
  halls: Hall[],
  broker: Broker,
  handlers: ConstructorParameters<typeof SimGateway>[2],
  refused: ConstructorParameters<typeof SimGateway>[3],
): Promise<SimGateway[]> {
  const gateways: SimGateway[] = new Array(halls.length);
  const CHUNK = 50;
  for (let i = 0; i < halls.length; i += CHUNK)
    await Promise.all(
      halls.slice(i, i + CHUNK).map(async (hall, k) => {
        const g = i + k;
        const client = await within(
          `gateway ${hall.id} connecting to ${broker.urlFor(g)}`,
          30_000,
          mqtt.connectAsync(broker.urlFor(g), { clientId: hall.id, reconnectPeriod: 0, connectTimeout: 20_000, ...broker.auth }),
        );
        await within(`gateway ${hall.id} subscribing to its acks`, 30_000, client.subscribeAsync(gatewayTopics.ack(hall.id), { qos: 1 }));
        gateways[g] = new SimGateway(hall.id, client, handlers, refused);
      }),
    );
  return gateways;
}

async function runPhase(
  config: string,
  mode: Mode,
  halls: Hall[],
  broker: Broker,
  hubs: IngestProcess[],
  hubNames: string[],
  influxPid: number | undefined,
): Promise<PhaseResult> {
  const speed = (mode === "summaries" ? SPAN_MINUTES * 60 : EVERY_MINUTES * 60) / SECONDS;
  const all: { g: number; due: number; batch: GatewayBatch }[] = [];
  halls.forEach((hall, g) => {
    for (const { batch, at } of hall.plan[mode]) all.push({ g, due: dueMs(at, speed), batch });
  });
  all.sort((a, b) => a.due - b.due);
  const readings = all.reduce((sum, b) => sum + b.batch.template.waits.length, 0);
  const latencies = new Float64Array(readings);
  let filled = 0;
  let lastAckAt = Date.now();
  const refusals: string[] = [];
  let start = 0;
  const gateways = await connectGateways(
    halls,
    broker,
    (_gw, due, batch, at) => {
      lastAckAt = at;
      const wall = at - (start + due);
      for (const wait of batch.template.waits) latencies[filled++] = wall + wait;
    },
    (gw, ack) => {
      lastAckAt = Date.now();
      refusals.push(`batch ${ack.seq} of ${gw.id}: ${ack.code ?? ""} ${ack.reason ?? ""}`);
    },
  );
  const before = await Promise.all(hubs.map((h) => within("a hub copy's status", 30_000, h.status())));
  const pids = {
    ...Object.fromEntries(hubs.map((h, i) => [hubNames[i]!, h.pid])),
    influxd: influxPid,
    ...broker.pids,
    "simulator (this process)": process.pid,
  };
  const loadBefore = loadavg()[0]!;
  const cpu = cpuMeter(pids);
  start = Date.now() + 500;
  lastAckAt = start;
  const resender = setInterval(() => {
    const now = Date.now();
    for (const gw of gateways) gw.resendOverdue(now);
  }, 1000);
  try {
    // Hand each batch to its gateway at its due time (the gateway holds it while 4 are in flight).
    for (let i = 0; i < all.length;) {
      const now = Date.now() - start;
      if (all[i]!.due > now) {
        await sleep(Math.min(all[i]!.due - now, 50));
        continue;
      }
      for (; i < all.length && all[i]!.due <= now; i++) gateways[all[i]!.g]!.enqueue(all[i]!.due, all[i]!.batch);
    }
    // Every batch acknowledged, or no ack for ACK_TIMEOUT_S: then say which gateways wait for what.
    const total = all.length;
    for (;;) {
      const acked = gateways.reduce((sum, gw) => sum + gw.acked + gw.refused, 0);
      if (acked === total) break;
      if (Date.now() - lastAckAt > ACK_TIMEOUT_S * 1000) {
        const unacked = new Map(gateways.map((gw) => [gw.id, gw.inFlight.size + gw.waiting.length]));
        throw new Error(
          `${config}, ${mode}: no ack for ${ACK_TIMEOUT_S} s; ${acked} of ${total} batches acknowledged (stored or refused); ${describeUnacked(unacked)}`,
        );
      }
      await sleep(100);
    }
  } finally {
    clearInterval(resender);
  }
  const seconds = (lastAckAt - start) / 1000;
  const used = cpu.done();
  const after = await Promise.all(hubs.map((h) => within("a hub copy's status", 30_000, h.status())));
  await Promise.all(gateways.map((gw) => within(`gateway ${gw.id} disconnecting`, 30_000, gw.client.endAsync())));
  const sorted = latencies.subarray(0, filled).sort();
  const hubSeconds = hubNames.reduce((sum, name) => sum + (used[name] ?? 0), 0);
  const copies = hubNames.map((name, i) => ({
    name,
    batches: Number(after[i]!.batchesStored) - Number(before[i]!.batchesStored),
    readings: Number(after[i]!.readingsStored) - Number(before[i]!.readingsStored),
  }));
  const storedReadings = copies.reduce((sum, c) => sum + c.readings, 0);
  const refusedReadings = gateways.reduce((sum, gw) => sum + gw.refusedReadings, 0);
  if (refusals.length > 0)
    log(
      `${config}, ${mode}: the hub refused ${refusals.length} batches (${refusedReadings} readings), e.g. ${refusals.slice(0, 3).join("; ")}`,
    );
  if (storedReadings < readings - refusedReadings)
    throw new Error(
      `${config}, ${mode}: every batch acknowledged, yet the hub copies counted ${storedReadings} readings stored of ${readings - refusedReadings} sent and not refused`,
    );
  return {
    config,
    mode,
    readings,
    batches: all.length,
    acks: gateways.reduce((sum, gw) => sum + gw.acked + gw.refused, 0),
    refused: refusals.length,
    refusedReadings,
    resends: gateways.reduce((sum, gw) => sum + gw.resends, 0),
    seconds,
    offeredPerS: readings / Math.max(all.at(-1)!.due / 1000, 1),
    storedPerS: (readings - refusedReadings) / seconds,
    hubMicros: (hubSeconds * 1e6) / readings,
    cpu: microsPerReading(used, readings),
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    copies,
    load: `${loadBefore.toFixed(1)}-${loadavg()[0]!.toFixed(1)}`,
  };
}

async function startHubs(
  config: string,
  mode: Mode,
  dir: string,
  influx: TestInfluxd,
  registry: ReturnType<typeof registryOf>,
  broker: Broker,
  amqp?: { urls: string[]; username: string; password: string },
): Promise<{ hubs: IngestProcess[]; names: string[] }> {
  const warmKeys = generateGatewayKeys();
  const database = `scale_${config}_${mode === "summaries" ? "summaries" : "every"}`;
  const names = amqp ? ["hub copy A", "hub copy B"] : ["hub"];
  const hubs: IngestProcess[] = [];
  for (const [i, name] of names.entries())
    hubs.push(
      await within(
        `${name} starting (ingest process, ${config})`,
        120_000,
        startIngestProcess(
          {
            brokerUrl: broker.urlFor(0),
            influxUrl: influx.url,
            database,
            writeBatchPoints: WRITE_BATCH,
            clientId: `hub-scale-${i}`,
            gateways: [{ id: WARM_UP_GATEWAY, publicKey: warmKeys.publicKeyPem }],
            registry,
            ...(amqp ? { amqp: { ...amqp, copyName: name.replace(/ /g, "-") } } : {}),
          },
          join(dir, `hub-${i}.json`),
        ),
      ),
    );
  await within(
    "the warm-up batches acknowledged",
    180_000,
    warmUp(broker.urlFor(0), warmKeys.privateKeyPem, 500, T0 - 3_600_000, 2, broker.auth),
  );
  return { hubs, names };
}

/** One phase's figures as the table shows them. */
function row(r: PhaseResult, perHallHour: Record<Mode, Record<string, number>>) {
  const hallReadingsPerS = (perHallHour[r.mode].readings ?? NaN) / 3600;
  const keptUp = r.storedPerS >= 0.95 * r.offeredPerS;
  return {
    configuration: r.config === "one" ? "one hub, Mosquitto" : "two copies, RabbitMQ x3",
    heartbeats: r.mode,
    readings: r.readings,
    batches: r.batches,
    "offered/s": Math.round(r.offeredPerS),
    "stored/s": Math.round(r.storedPerS),
    "batches/s": Math.round(r.batches / r.seconds),
    // Halls whose traffic this rate carries: all of them when the hub kept up, else the hub's capacity.
    halls: `${keptUp ? ">= " : ""}${Math.round(r.storedPerS / hallReadingsPerS)}`,
    "hub µs/reading": Number(r.hubMicros.toFixed(1)),
    "hub µs/batch": Math.round((r.hubMicros * r.readings) / r.batches),
    "broker msgs/reading": Number(((r.batches + r.acks + r.resends) / r.readings).toFixed(3)),
    "p50 ms": Math.round(r.p50),
    "p99 ms": Math.round(r.p99),
    resends: r.resends,
    refused: r.refused,
    shares:
      r.copies.length > 1
        ? shares(r.copies.map((c) => c.batches))
            .map((x) => x.toFixed(2))
            .join(" / ")
        : "-",
    load: r.load,
  };
}

function report(results: PhaseResult[], perHallHour: Record<Mode, Record<string, number>>): void {
  console.log(
    `\n${GATEWAYS} halls of ${2 * WINDOWS + 2} devices (30 s heartbeats), ${TEMPLATES} template days; each phase due over ${SECONDS} s`,
  );
  for (const mode of MODES) console.log(`per hall and hour, ${mode}: ${JSON.stringify(perHallHour[mode])}`);
  console.table(results.map((r) => row(r, perHallHour)));
  console.log("CPU µs per reading, by process:");
  console.table(Object.fromEntries(results.map((r) => [`${r.config}, ${r.mode}`, r.cpu])));
  for (const r of results)
    if (r.copies.length > 1) {
      const s = shares(r.copies.map((c) => c.batches));
      console.log(
        `${r.mode}: ${r.copies.map((c, i) => `${c.name} ${c.batches} batches (${(s[i]! * 100).toFixed(0)} %)`).join(", ")}: ${withinSplit(s, 0.6) ? "within 60/40" : "NOT within 60/40"}`,
      );
    }
  const find = (config: string, mode: Mode) => results.find((r) => r.config === config && r.mode === mode);
  console.log("\nRatios:");
  for (const config of ["one", "two"]) {
    const every = find(config, "every heartbeat");
    const summ = find(config, "summaries");
    if (!every || !summ) continue;
    const hallHourCpu = (r: PhaseResult, mode: Mode) => r.hubMicros * (perHallHour[mode].readings ?? 0);
    console.log(
      `${config === "one" ? "one hub" : "two copies"}, every heartbeat / summaries: hub CPU per hall-hour ${ratio(hallHourCpu(every, "every heartbeat"), hallHourCpu(summ, "summaries"))}, broker messages per hall-hour ${ratio(perHallHour["every heartbeat"].batches!, perHallHour.summaries.batches!)}, hub µs per reading ${ratio(every.hubMicros, summ.hubMicros)}, p99 ${ratio(every.p99, summ.p99)}`,
    );
  }
  for (const mode of MODES) {
    const one = find("one", mode);
    const two = find("two", mode);
    if (!one || !two) continue;
    console.log(
      `${mode}, two copies / one hub: readings/s stored ${ratio(two.storedPerS, one.storedPerS)}, hub CPU per reading ${ratio(two.hubMicros, one.hubMicros)}, p99 ${ratio(two.p99, one.p99)}`,
    );
  }
}

const dir = mkdtempSync(join(tmpdir(), "scale-bench-"));
let influx: TestInfluxd | undefined;
let mosquitto: Awaited<ReturnType<typeof startMosquitto>> | undefined;
let cluster: RabbitCluster | undefined;
const running: IngestProcess[] = [];
const results: PhaseResult[] = [];
let perHour: Record<Mode, Record<string, number>> | undefined;
try {
  log(`preparing ${GATEWAYS} halls (${date}, 09:00-09:10 ${TZ})`);
  // The cluster boots (slowly: Erlang on two shared cores) while the halls are simulated; nothing is measured yet.
  const USER = { username: "scale", password: `pw-${Math.random().toString(36).slice(2)}` };
  let clusterUp: Promise<void> | undefined;
  if (CONFIGS.includes("two")) {
    const ports = [];
    for (let i = 0; i < 3; i++) ports.push({ mqttPort: await freePort(), amqpPort: await freePort(), distPort: await freePort() });
    cluster = new RabbitCluster(planCluster(join(dir, "rabbit"), { epmdPort: await freePort(), nodes: ports }, USER));
    const clusterStart = performance.now();
    clusterUp = cluster
      .up({ timeoutMs: 300_000 })
      .then(() => log(`RabbitMQ cluster up in ${((performance.now() - clusterStart) / 1000).toFixed(0)} s`));
    clusterUp.catch(() => undefined);
  }
  const { halls, registry, readingsPerHallHour } = await prepare();
  perHour = readingsPerHallHour;
  for (const mode of MODES) {
    const kinds = readingsPerHallHour[mode];
    kinds.readings = Object.entries(kinds).reduce((sum, [k, n]) => (k === "batches" ? sum : sum + n), 0);
  }
  influx = await startInfluxd();

  if (CONFIGS.includes("one")) {
    mosquitto = await startMosquitto({ config: ["max_queued_messages 100000"] });
    const broker: Broker = { urlFor: () => mosquitto!.url, auth: {}, pids: { mosquitto: mosquitto.pid } };
    for (const mode of MODES) {
      const { hubs, names } = await startHubs("one", mode, dir, influx, registry, broker);
      running.push(...hubs);
      log(`one hub, ${mode}: ${GATEWAYS} gateways sending`);
      results.push(await runPhase("one", mode, halls, broker, hubs, names, influx.server.pid));
      log(JSON.stringify(row(results.at(-1)!, readingsPerHallHour)));
      for (const h of hubs.splice(0)) await within("the hub stopping", 60_000, h.stop());
      running.length = 0;
    }
    await mosquitto.close();
    mosquitto = undefined;
  }

  if (cluster && clusterUp) {
    await within("the RabbitMQ cluster starting (three nodes, one at a time)", 900_000, clusterUp);
    const nodes = cluster.layout.nodes;
    const broker: Broker = {
      urlFor: (g) => `mqtt://127.0.0.1:${nodes[g % nodes.length]!.mqttPort}`,
      auth: USER,
      pids: Object.fromEntries(nodes.map((n, i) => [`rabbitmq ${i + 1}`, cluster!.pid(n)])),
    };
    const amqp = { urls: nodes.map((n) => `amqp://127.0.0.1:${n.amqpPort}`), ...USER };
    for (const mode of MODES) {
      const { hubs, names } = await startHubs("two", mode, dir, influx, registry, broker, amqp);
      running.push(...hubs);
      log(`two hub copies, ${mode}: ${GATEWAYS} gateways sending`);
      results.push(await runPhase("two", mode, halls, broker, hubs, names, influx.server.pid));
      log(JSON.stringify(row(results.at(-1)!, readingsPerHallHour)));
      for (const h of hubs.splice(0)) await within("a hub copy stopping", 60_000, h.stop());
      running.length = 0;
    }
  }
  report(results, readingsPerHallHour);
} catch (error) {
  if (results.length > 0 && perHour) report(results, perHour);
  console.error(`\nscale bench failed: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  for (const h of running) await within("a hub stopping", 30_000, h.stop()).catch(() => undefined);
  await mosquitto?.close();
  await influx?.close();
  cluster?.kill();
  rmSync(dir, { recursive: true, force: true });
}
process.exit();
