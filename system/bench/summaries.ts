/**
 * `npm run bench -- summaries`: what heartbeat summaries save (issue 17). A hall of `--devices` devices (100) sending a
 * heartbeat every `--interval` s (30), a few of them with a scripted outage, over `--minutes` (60) of simulated time,
 * twice: as an older gateway sends it (every heartbeat a reading, every reading sealed within batch.maxWaitMs) and as
 * a gateway that summarises heartbeats (PresenceTracker, 10-minute summaries, SealPriority's 5 s low-priority wait).
 *
 * Real parts: the gateway's durable buffer, its presence tracker and its seal priority, batches sealed and signed as
 * the uplink seals them, Mosquitto, the hub's ingest (verifying each batch's signature and chain and each reading) and
 * influxd. Simulated: the clock. The heartbeats' times and the uplink's sealing timer (the first waiting reading waits
 * batch.maxWaitMs, or lowPriorityWaitMs while only heartbeats and summaries wait; then everything waiting is sealed)
 * run on a virtual clock, so an hour takes seconds; the batches then go to the hub as fast as it acknowledges them.
 *
 * Counted: broker messages (batches published and the hub's acks), hub verifications (batches: signature and chain;
 * readings: schema and slice), InfluxDB points (every point the ingest wrote, per hub_ingest_points_written_total,
 * checked against the points found in influxd).
 */
import { parseArgs } from "node:util";
import { BatchAck, generateGatewayKeys, gatewayTopics } from "@supervision/firmware-protocols";
import { createIngestExtension, ensureDatabase } from "@supervision/hub";
import { testContext, testRegistry } from "@supervision/hub/testing";
import { startInfluxd, startMosquitto, type TestInfluxd } from "@supervision/test-support";
import mqtt from "mqtt";
import { simulateHall } from "./hall-sim.ts";

const { values } = parseArgs({
  options: {
    devices: { type: "string", default: "100" },
    interval: { type: "string", default: "30" },
    minutes: { type: "string", default: "60" },
    summary: { type: "string", default: "600" },
    outages: { type: "string", default: "5" },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  console.log(
    "Usage: npm run bench -- summaries [--devices 100] [--interval 30 (s)] [--minutes 60 (simulated)] [--summary 600 (s)] [--outages 5 (devices with a 7-minute outage)]",
  );
  process.exit(0);
}
const DEVICES = Number(values.devices);
const INTERVAL_S = Number(values.interval);
const MINUTES = Number(values.minutes);
const SUMMARY_S = Number(values.summary);
const OUTAGES = Math.min(Number(values.outages), DEVICES);
const GATEWAY = "gw1";

interface Counts {
  mode: string;
  readings: number;
  batches: number;
  acks: number;
  batchesVerified: number;
  readingsVerified: number;
  points: number;
  pointsFound: number;
  reports: { online: number; offline: number; summary: number } | undefined;
}

async function run(mode: "every heartbeat" | "summaries", influxd: TestInfluxd, brokerUrl: string): Promise<Counts> {
  const database = mode === "summaries" ? "after" : "before";
  const { registry } = testRegistry();
  const keys = generateGatewayKeys();
  registry.gateways.set(GATEWAY, { id: GATEWAY, site: "hall1", publicKey: keys.publicKeyPem });
  for (let d = 0; d < DEVICES; d++)
    registry.devices.set(`kp-${d}`, { id: `kp-${d}`, kind: "keypad", site: "hall1", window: "w1", heartbeatS: INTERVAL_S, scale: "four" });
  const ctx = testContext(registry, influxd.url, database);
  await ensureDatabase(ctx.influx, database, ctx.logger);
  const ingest = createIngestExtension({ brokerUrl, shareGroup: "", writeBatchPoints: 5000, clientId: `hub-${database}` });
  await ingest.start(ctx);

  // The simulated hour ends a minute ago (device times the hub accepts), on a summary boundary.
  const t0 = Math.floor((Date.now() - MINUTES * 60_000 - 60_000) / (SUMMARY_S * 1000)) * SUMMARY_S * 1000;
  const hall = await simulateHall({
    mode,
    gatewayId: GATEWAY,
    privateKeyPem: keys.privateKeyPem,
    t0,
    devices: DEVICES,
    intervalS: INTERVAL_S,
    minutes: MINUTES,
    summaryS: SUMMARY_S,
    outages: OUTAGES,
    deviceId: (d) => `kp-${d}`,
  });
  const batches = hall.batches.map((b) => b.wire);
  const readings = hall.readings;

  // The batches to the hub, several in flight, each deleted from the buffer on its ack.
  const client = await mqtt.connectAsync(brokerUrl, { clientId: `gw-${database}`, reconnectPeriod: 0 });
  let acks = 0;
  client.on("message", (_topic, payload) => {
    const ack = BatchAck.parse(JSON.parse(payload.toString()));
    if (ack.status !== "stored") throw new Error(`batch ${ack.seq} refused: ${JSON.stringify(ack)}`);
    acks++;
  });
  await client.subscribeAsync(gatewayTopics.ack(GATEWAY), { qos: 1 });
  for (let i = 0; i < batches.length; i++) {
    while (i - acks >= 8) await new Promise((r) => setTimeout(r, 2));
    await client.publishAsync(gatewayTopics.batch(GATEWAY), batches[i]!, { qos: 1 });
  }
  const deadline = Date.now() + 120_000;
  while (acks < batches.length) {
    if (Date.now() > deadline) throw new Error(`only ${acks} of ${batches.length} batches acknowledged`);
    await new Promise((r) => setTimeout(r, 20));
  }
  await client.endAsync();

  const metric = async (name: string) =>
    ((await ctx.metrics.getSingleMetric(name)?.get())?.values ?? []).reduce((sum, v) => sum + v.value, 0);
  const batchesVerified = await metric("hub_ingest_batches_total");
  const readingsVerified = await metric("hub_ingest_readings_total");
  const points = await metric("hub_ingest_points_written_total");
  // Every point in the database, per measurement (the largest field count of each).
  let pointsFound = 0;
  for (const policy of ["raw", "health", "chain"]) {
    const answer = await influxd.query(`SELECT count(*) FROM "${policy}"./.*/`, database);
    for (const s of answer.results[0]?.series ?? []) pointsFound += Math.max(...(s.values[0]?.slice(1).map(Number) ?? [0]));
  }
  await ingest.stop();
  return {
    mode,
    readings,
    batches: batches.length,
    acks,
    batchesVerified,
    readingsVerified,
    points,
    pointsFound,
    reports: hall.reports,
  };
}

const influxd = await startInfluxd();
const broker = await startMosquitto();
try {
  console.log(
    `a hall of ${DEVICES} devices, a heartbeat every ${INTERVAL_S} s, ${OUTAGES} of them off for 7 minutes, ${MINUTES} simulated minutes; summaries every ${SUMMARY_S} s`,
  );
  const before = await run("every heartbeat", influxd, broker.url);
  const after = await run("summaries", influxd, broker.url);
  const row = (label: string, b: number, a: number) =>
    console.log(`${label.padEnd(40)} ${String(b).padStart(9)} ${String(a).padStart(9)} ${(b / Math.max(a, 1)).toFixed(1).padStart(8)}x`);
  console.log(`${"per gateway and simulated hour".padEnd(40)} ${"before".padStart(9)} ${"after".padStart(9)} ${"fewer".padStart(9)}`);
  row("readings sent", before.readings, after.readings);
  row("broker messages (batches + acks)", before.batches + before.acks, after.batches + after.acks);
  row("hub verifications: batches", before.batchesVerified, after.batchesVerified);
  row("hub verifications: readings", before.readingsVerified, after.readingsVerified);
  row("InfluxDB points written", before.points, after.points);
  row("InfluxDB points found", before.pointsFound, after.pointsFound);
  console.log(`presence reports: ${JSON.stringify(after.reports)}`);
  const ratio = Math.min(
    (before.batches + before.acks) / (after.batches + after.acks),
    before.batchesVerified / after.batchesVerified,
    before.readingsVerified / after.readingsVerified,
    before.points / after.points,
  );
  console.log(`smallest reduction: ${ratio.toFixed(1)}x (target >= 10x): ${ratio >= 10 ? "met" : "NOT met"}`);
} finally {
  await broker.close();
  await influxd.close();
}
