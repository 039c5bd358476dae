/**
 * Ingest benchmark (no pass/fail): readings per second from signed gateway batches into InfluxDB through the
 * ingest path, against the same points written straight to InfluxDB (the ceiling): encoded as line protocol and
 * posted with the same batch size and the same writes in flight as the hub's writer, by a process doing nothing
 * else. Also, for reference, the `influx` package's writePoints on the same points; and device-time-to-queryable
 * latency at a steady 1000 readings/s. A reading counts as queryable when its batch is acknowledged, since the
 * hub acks only after InfluxDB accepted the write.
 *
 * With --profile FILE, the hub process's CPU profile of the measured ingest run (warm-up left out) is written to FILE
 * (a .cpuprofile for Chrome DevTools) and summarised by stage (profile-summary.ts).
 *
 * Gateways send uplink v3 batches (rows signed over the body's SHA-256, PROTOCOL.md 4.3), as gateways told so by
 * their config do; with --envelope 2, v2 (the same rows signed over the body's bytes, 4.2), with --envelope 1, v1 (one
 * JSON object per reading).
 *
 *   npx tsx hub/bench/ingest.ts [--readings 200000] [--envelope 3] [--profile FILE] [--help]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { generateGatewayKeys, type Reading } from "@supervision/firmware-protocols";
import { cpuMeter, freshInfluxd, microsPerReading, startInfluxd } from "@supervision/test-support";
import { encodePoint, type Point } from "../src/influx/line-protocol.ts";
import { ensureDatabase } from "../src/influx/setup.ts";
import { readingToPoint } from "../src/ingest/points.ts";
import { rating, startMosquitto, TestGateway, testContext, testRegistry } from "../test/ingest-fixtures.ts";
import { startIngestProcess, WARM_UP_GATEWAY, WARM_UP_SEQ, warmUp } from "./ingest-process.ts";
import { printProfileSummary } from "./profile-summary.ts";

const { values: args } = parseArgs({
  options: {
    readings: { type: "string", default: "200000" },
    envelope: { type: "string", default: "3" },
    profile: { type: "string" },
    help: { type: "boolean", default: false },
  },
});
if (args.help) {
  console.log(
    "usage: npx tsx hub/bench/ingest.ts [--readings N] [--envelope 1|2|3] [--profile FILE.cpuprofile]   (starts its own influxd and mosquitto; under a minute)",
  );
  process.exit(0);
}
const TOTAL = Number(args.readings);
if (!Number.isInteger(TOTAL) || TOTAL < 10_000) {
  console.error("--readings must be an integer of at least 10000");
  process.exit(2);
}
if (args.envelope !== "1" && args.envelope !== "2" && args.envelope !== "3") {
  console.error("--envelope must be 1, 2 or 3");
  process.exit(2);
}
/** The uplink envelope the gateways send: 3 (rows signed over their digest), as gateways told so by their config do, 2 or 1. */
const ENVELOPE = Number(args.envelope) as 1 | 2 | 3;
/** The next batch of `gw`'s chain in ENVELOPE. */
const nextBatch = (gw: TestGateway, readings: Reading[], createdAt: number) =>
  ENVELOPE === 1 ? gw.next(readings, createdAt) : gw.nextV2({ readings }, createdAt, { v: ENVELOPE });
const WRITE_BATCH = 5000;
/** The hub writer's writes in flight (PointWriter's default). */
const WRITES_IN_FLIGHT = 2;
const GATEWAY_BATCH = 1000;
/** Several halls' gateways, each with at most IN_FLIGHT unacknowledged batches, as a gateway does. */
const GATEWAYS = 4;
const IN_FLIGHT = 10;

/**
 * Both runs' influxd writes its cache to a TSM file during the run, as a long-running one does with every point
 * sooner or later: with a 2 MB threshold it did so once in each run (sometimes twice in the ingest's, the table's "MB
 * cache written to TSM" shows how much). At influxd's 25 MB the ceiling's 200,000 points stayed just under it and the
 * ingest's (their batch manifests and the warm-up) crossed it in some runs and not others: one snapshot, about 1 µs
 * per point on a coin flip (hub/src/ingest/README.md, "Sixth pass").
 */
const INFLUXD = { cacheSnapshotBytes: 2 * 1024 * 1024 };
const dir = mkdtempSync(join(tmpdir(), "ingest-bench-"));
let influx = await startInfluxd(INFLUXD);
const broker = await startMosquitto();
const { registry, privateKeyPem } = testRegistry();
const gatewayKeys = [{ id: "gw1", privateKeyPem }];
const warmKeys = generateGatewayKeys();
registry.gateways.set(WARM_UP_GATEWAY, { id: WARM_UP_GATEWAY, site: "hall1", publicKey: warmKeys.publicKeyPem });
for (let g = 2; g <= GATEWAYS; g++) {
  const keys = generateGatewayKeys();
  registry.gateways.set(`gw${g}`, { id: `gw${g}`, site: "hall1", publicKey: keys.publicKeyPem });
  gatewayKeys.push({ id: `gw${g}`, privateKeyPem: keys.privateKeyPem });
}
const T0 = Date.now() - 86_400_000;
/** Keypads per gateway: each gateway's readings are its own keypads', as in a hall (a device is wired to one gateway). */
const KEYPADS = 12;
/**
 * Reading i is in batch i / GATEWAY_BATCH, which gateway (batch mod GATEWAYS) sends; its keypad is one of that
 * gateway's. Until 2026-12-04 all four gateways sent readings of the same 50 keypads, so each keypad's readings reached
 * the hub and influxd from four gateways out of time order, which no hall does (hub/src/ingest/README.md, "Sixth pass").
 */
const readings: Reading[] = Array.from({ length: TOTAL }, (_, i) =>
  rating(i, T0 + i, { deviceId: `kp${(Math.floor(i / GATEWAY_BATCH) % GATEWAYS) * KEYPADS + (i % KEYPADS)}` }),
);
/** influxd's own count of write requests, points and bytes it took (its /debug/vars), to compare what each run asked of it. */
async function influxWrites(
  url: string,
): Promise<{ requests: number; points: number; bytes: number; queries: number; snapshotBytes: number }> {
  const vars = (await (await fetch(`${url}/debug/vars`)).json()) as Record<string, { name?: string; values?: Record<string, number> }>;
  const httpd = Object.values(vars).find((v) => v.name === "httpd")?.values ?? {};
  return {
    requests: httpd.writeReq ?? 0,
    points: httpd.pointsWrittenOK ?? 0,
    bytes: httpd.writeReqBytes ?? 0,
    queries: httpd.queryReq ?? 0,
    // tsm1_cache's cachedBytes: what its shards' caches wrote to TSM files so far.
    snapshotBytes: Object.values(vars)
      .filter((v) => v.name === "tsm1_cache")
      .reduce((sum, v) => sum + (v.values?.cachedBytes ?? 0), 0),
  };
}
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

try {
  // 1. Ceiling: the same points encoded and written straight to InfluxDB, WRITE_BATCH per write, WRITES_IN_FLIGHT at once.
  const ceilingCtx = testContext(registry, influx.url, "bench_ceiling");
  await ensureDatabase(ceilingCtx.influx, "bench_ceiling", ceilingCtx.logger);
  const points = readings.map((r) => readingToPoint(r, registry) as Point);
  const pids = (hub?: number) => ({ "this process": process.pid, hub, influxd: influx.server.pid, mosquitto: broker.pid });
  let cpu = cpuMeter(pids());
  let started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: WRITES_IN_FLIGHT }, async () => {
      for (let i = next; i < points.length; i = next) {
        next += WRITE_BATCH;
        const body = points
          .slice(i, i + WRITE_BATCH)
          .map(encodePoint)
          .join("\n");
        await ceilingCtx.writeLines(body, "raw", 30_000);
      }
    }),
  );
  const ceilingRate = TOTAL / ((performance.now() - started) / 1000);
  const ceilingCpu = cpu.done();
  const ceilingWrites = await influxWrites(influx.url);

  // For reference: the influx package's writePoints, one write at a time (what the hub used before).
  influx = await freshInfluxd(influx, INFLUXD);
  const packageCtx = testContext(registry, influx.url, "bench_package");
  await ensureDatabase(packageCtx.influx, "bench_package", packageCtx.logger);
  started = performance.now();
  for (let i = 0; i < points.length; i += WRITE_BATCH)
    await packageCtx.influx.writePoints(points.slice(i, i + WRITE_BATCH), { retentionPolicy: "raw", precision: "n" });
  const packageRate = TOTAL / ((performance.now() - started) / 1000);

  influx = await freshInfluxd(influx, INFLUXD);
  // 2. Through the ingest path, the hub in a process of its own: signed batches over MQTT, verified, chain-checked,
  // written, acknowledged.
  const ingest = await startIngestProcess(
    {
      brokerUrl: broker.url,
      influxUrl: influx.url,
      database: "bench_ingest",
      writeBatchPoints: WRITE_BATCH,
      clientId: "hub-bench",
      gateways: [...registry.gateways.values()].map((g) => ({ id: g.id, publicKey: g.publicKey })),
    },
    join(dir, "hub.json"),
  );
  await warmUp(broker.url, warmKeys.privateKeyPem, GATEWAY_BATCH, T0, ENVELOPE);
  const gateways = await Promise.all(gatewayKeys.map((k) => TestGateway.connect(broker.url, k.id, k.privateKeyPem)));
  const perGateway = gateways.map((gw, g) => {
    const batches = [];
    for (let i = g * GATEWAY_BATCH; i < TOTAL; i += GATEWAY_BATCH * GATEWAYS)
      batches.push(nextBatch(gw, readings.slice(i, i + GATEWAY_BATCH), T0 + i));
    return batches;
  });
  if (args.profile) await ingest.startProfile();
  cpu = cpuMeter(pids(ingest.pid));
  started = performance.now();
  await Promise.all(
    gateways.map(async (gw, g) => {
      const batches = perGateway[g] ?? [];
      for (let i = 0; i < batches.length; i++) {
        await gw.untilAcks(i - IN_FLIGHT + 1);
        await gw.send((batches[i] as (typeof batches)[number]).wire);
      }
      await gw.untilAcks(batches.length);
    }),
  );
  const ingestRate = TOTAL / ((performance.now() - started) / 1000);
  const batchBytes = perGateway[0]?.[0]?.wire.length ?? 0;
  const ingestCpu = cpu.done();
  const ingestWrites = await influxWrites(influx.url);
  if (args.profile) await ingest.stopProfile(resolve(args.profile));
  const gateway = gateways[0] as TestGateway;
  const stored = await influx.query(`SELECT count("seq") FROM "rating" WHERE "seq" < ${WARM_UP_SEQ}`, "bench_ingest");

  // 3. Latency at a steady 1000 readings/s: a batch of 100 readings every 100 ms (the gateway's batching included).
  const latencies: number[] = [];
  const sentAt = new Map<number, number[]>();
  gateway.acks.length = 0;
  const onAck = () => {
    for (const ack of gateway.acks.splice(0)) {
      const now = Date.now();
      for (const ts of sentAt.get(ack.seq) ?? []) latencies.push(now - ts);
      sentAt.delete(ack.seq);
    }
  };
  const poll = setInterval(onAck, 1);
  let seq = TOTAL;
  for (let tick = 0; tick < 100; tick++) {
    const due = Date.now();
    const batchReadings = Array.from({ length: 100 }, (_, i) => rating(seq + i, due - 100 + i));
    seq += 100;
    const batch = nextBatch(gateway, batchReadings, due);
    sentAt.set(
      batch.body.seq,
      batchReadings.map((r) => r.ts),
    );
    await gateway.send(batch.wire);
    await new Promise((r) => setTimeout(r, Math.max(0, due + 100 - Date.now())));
  }
  while (sentAt.size > 0) await new Promise((r) => setTimeout(r, 5));
  clearInterval(poll);
  latencies.sort((a, b) => a - b);

  await Promise.all(gateways.map((gw) => gw.close()));
  await ingest.stop();
  console.table([
    { measure: "ceiling: direct line-protocol writes (points/s)", value: Math.round(ceilingRate) },
    { measure: "for reference: influx package writePoints (points/s)", value: Math.round(packageRate) },
    { measure: "ingest path (readings/s)", value: Math.round(ingestRate) },
    { measure: "ratio ingest / ceiling (target ≥ 0.8)", value: Number((ingestRate / ceilingRate).toFixed(2)) },
    { measure: "readings stored via ingest", value: Number(stored.results[0]?.series?.[0]?.values?.[0]?.[1] ?? 0) },
    { measure: "latency p50 at 1000/s (ms)", value: percentile(latencies, 50) },
    { measure: "latency p99 at 1000/s (ms, target < 1000)", value: percentile(latencies, 99) },
  ]);
  console.log("CPU µs per reading, by process (in the ingest run, this process plays the gateways):");
  const ingestMicros = microsPerReading(ingestCpu, TOTAL);
  console.table({ ceiling: microsPerReading(ceilingCpu, TOTAL), ingest: ingestMicros });
  console.log("What influxd was asked to do (its /debug/vars; the ingest run includes the warm-up):");
  console.table(
    Object.fromEntries(
      Object.entries({ ceiling: ceilingWrites, ingest: ingestWrites }).map(([run, w]) => [
        run,
        {
          "write requests": w.requests,
          points: w.points,
          "points per request": Math.round(w.points / w.requests),
          "bytes per point": Math.round(w.bytes / w.points),
          queries: w.queries,
          "MB cache written to TSM": Number((w.snapshotBytes / 1e6).toFixed(1)),
        },
      ]),
    ),
  );
  const hubShare = (ingestMicros.hub ?? NaN) / (ingestMicros.influxd ?? NaN);
  console.log(`hub CPU per reading / influxd CPU per point, ingest run: ${hubShare.toFixed(2)} (target ≤ 0.5)`);
  console.log(
    `${TOTAL} readings from ${GATEWAYS} gateways in uplink v${ENVELOPE} batches (${batchBytes} bytes each), ${GATEWAY_BATCH} per batch, ≤ ${IN_FLIGHT} batches in flight each; ${WRITE_BATCH} points per write, ${WRITES_IN_FLIGHT} writes in flight (hub and ceiling)`,
  );
  if (args.profile) printProfileSummary(resolve(args.profile), TOTAL);
} finally {
  rmSync(dir, { recursive: true, force: true });
  await broker.close();
  await influx.close();
}
