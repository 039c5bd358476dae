/**
 * Drain benchmark (no pass/fail): a gateway buffer holding a backlog of readings (default 1,000,000) drains through
 * the real uplink into the real hub ingest and a real influxd, against the hub's own ingest rate measured in the
 * same run with pre-signed batches of the same size published straight at it. Target: drain ≥ 0.8 × ingest.
 * Gateway and hub each run in a process of their own, as deployed. BENCH_NODE_FLAGS (e.g. "--cpu-prof") is passed
 * to both child processes.
 *
 * With --envelope 2 the gateway is told by its config to send uplink v2 (rows, PROTOCOL.md 4.2), and the baseline's
 * pre-signed batches and the warm-up are v2 too.
 *
 *   npx tsx system/bench/drain.ts [--readings 1000000] [--envelope 1|2] [--help]
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { type GatewayConfig, generateGatewayKeys, type Reading } from "@supervision/firmware-protocols";
import { benchNodeFlags, cpuMeter, freshInfluxd, microsPerReading, startInfluxd, startMosquitto } from "@supervision/test-support";
import { openBuffer } from "@supervision/gateway";
import { GATEWAY_ENV, GATEWAY_NODE_FLAGS } from "@supervision/gateway/node-flags";
import { startStandInHub } from "@supervision/gateway/testing";
import { startIngestProcess, WARM_UP_GATEWAY, WARM_UP_SEQ, warmUp } from "@supervision/hub/bench";
import { rating, TestGateway, testRegistry } from "@supervision/hub/testing";

const { values: args } = parseArgs({
  options: {
    readings: { type: "string", default: "1000000" },
    envelope: { type: "string", default: "1" },
    help: { type: "boolean", default: false },
  },
});
if (args.help) {
  console.log("usage: npx tsx system/bench/drain.ts [--readings N]   (starts influxd and mosquitto; about 1-2 minutes)");
  process.exit(0);
}
const TOTAL = Number(args.readings);
if (args.envelope !== "1" && args.envelope !== "2") {
  console.error("--envelope must be 1 or 2");
  process.exit(2);
}
const ENVELOPE = Number(args.envelope) as 1 | 2;
if (!Number.isInteger(TOTAL) || TOTAL < 10_000) {
  console.error("--readings must be an integer of at least 10000");
  process.exit(2);
}
const BATCH = 5000;
const IN_FLIGHT = 4;
const BASELINE = Math.min(TOTAL, 200_000);

const dir = mkdtempSync(join(tmpdir(), "drain-bench-"));
let influx = await startInfluxd();
const broker = await startMosquitto();
const { registry, privateKeyPem } = testRegistry();
const T0 = Date.now() - 3 * 86_400_000;
// Device times within the three days behind: the phases' seq ranges start at 0, 1e9 and 2e9 (so their identities
// differ), but a time of T0 + 1e9 ms would be days ahead of the hub's clock, and the hub refuses those (device_time).
const readings = (from: number, count: number): Reading[] =>
  Array.from({ length: count }, (_, i) => rating(from + i, T0 + (from % 1_000_000_000) + i));
const progress = (what: string) => (done: number, total: number, started: number) => {
  const rate = done / ((performance.now() - started) / 1000);
  process.stdout.write(
    `\r${what}: ${done.toLocaleString("en")}/${total.toLocaleString("en")}, ${Math.round(rate).toLocaleString("en")}/s   `,
  );
};

/**
 * Runs the uplink in a process of its own with the gateway's node flags and malloc settings, as on a gateway box,
 * until the buffer is empty; returns the time and the CPU it used.
 */
async function drainInChild(bufferPath: string, hubUrl: string): Promise<{ ms: number; cpuSeconds: number }> {
  const child = spawn(
    process.execPath,
    [
      ...GATEWAY_NODE_FLAGS,
      ...benchNodeFlags(),
      "--import",
      "tsx",
      fileURLToPath(new URL("./drain-gateway.ts", import.meta.url)),
      bufferPath,
      hubUrl,
      join(dir, "key.pem"),
      String(BATCH),
      String(IN_FLIGHT),
    ],
    { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, ...GATEWAY_ENV } },
  );
  let drainMs = 0;
  let cpuSeconds = 0;
  createInterface({ input: child.stdout }).on("line", (line) => {
    const [word, a, b] = line.split(" ");
    if (word === "progress") process.stdout.write(`\rdraining: ${Number(a).toLocaleString("en")}/${Number(b).toLocaleString("en")}   `);
    if (word === "drained") [drainMs, cpuSeconds] = [Number(a), Number(b)];
  });
  const code = await new Promise<number | null>((r) => child.once("exit", r));
  process.stdout.write("\n");
  if (code !== 0 || drainMs === 0) throw new Error(`the gateway process failed (exit ${code})`);
  return { ms: drainMs, cpuSeconds };
}

try {
  // 1. The hub's own ingest rate: pre-signed batches of BATCH readings, IN_FLIGHT in flight, straight at it.
  const warmKeys = generateGatewayKeys();
  const gateways = [
    { id: "gw1", publicKey: registry.gateways.get("gw1")!.publicKey },
    { id: WARM_UP_GATEWAY, publicKey: warmKeys.publicKeyPem },
  ];
  /** A hub ingest process, warmed up (its JIT compiled) by another gateway's batches before anything is measured. */
  const hub = async (database: string) => {
    const ingest = await startIngestProcess(
      { brokerUrl: broker.url, influxUrl: influx.url, database, writeBatchPoints: BATCH, clientId: `hub-${database}`, gateways },
      join(dir, `${database}.json`),
    );
    await warmUp(broker.url, warmKeys.privateKeyPem, BATCH, T0, ENVELOPE);
    return ingest;
  };
  const baseIngest = await hub("bench_baseline");
  const gw = await TestGateway.connect(broker.url, "gw1", privateKeyPem);
  const batches = [];
  for (let i = 0; i < BASELINE; i += BATCH)
    batches.push(ENVELOPE === 2 ? gw.nextV2({ readings: readings(i, BATCH) }, T0 + i) : gw.next(readings(i, BATCH), T0 + i));
  let cpu = cpuMeter({ hub: baseIngest.pid, influxd: influx.server.pid, mosquitto: broker.pid, "this process": process.pid });
  let started = performance.now();
  for (let i = 0; i < batches.length; i++) {
    await gw.untilAcks(i - IN_FLIGHT + 1);
    await gw.send(batches[i]!.wire);
  }
  await gw.untilAcks(batches.length);
  const ingestRate = BASELINE / ((performance.now() - started) / 1000);
  const baselineCpu = cpu.done();
  await gw.close();
  await baseIngest.stop();
  console.log(`hub ingest, pre-signed batches: ${Math.round(ingestRate).toLocaleString("en")} readings/s`);

  // 2. Fill a gateway buffer with the backlog (group commits of 5,000, as a busy hall would).
  const buffer = openBuffer({ path: join(dir, "buffer.db"), capacityBytes: 4 * 1024 * 1024 * 1024, groupCommitMax: 5000 });
  started = performance.now();
  const fill = progress("filling the buffer");
  for (let i = 0; i < TOTAL; i += 5000) {
    await Promise.all(readings(1_000_000_000 + i, Math.min(5000, TOTAL - i)).map((r) => buffer.append(r)));
    if (i % 100_000 === 0) fill(i, TOTAL, started);
  }
  fill(TOTAL, TOTAL, started);
  console.log();

  buffer.close();
  // The config a hub sends a gateway its registry marks for v2: the uplink reads it from the gateway's data directory.
  if (ENVELOPE === 2)
    writeFileSync(
      join(dir, "config.json"),
      JSON.stringify({
        v: 1,
        gatewayId: "gw1",
        version: 1,
        site: { id: "hall1", name: "Hall 1", kind: "hall", tz: "Asia/Shanghai" },
        devices: [],
        windows: [],
        people: [],
        uplinkVersions: [1, 2],
      } satisfies GatewayConfig),
    );

  // 3. Drain it into a fresh hub ingest, the uplink in a process of its own as on a gateway box.
  influx = await freshInfluxd(influx);
  const ingest = await hub("bench_drain");
  writeFileSync(join(dir, "key.pem"), privateKeyPem);
  cpu = cpuMeter({ hub: ingest.pid, influxd: influx.server.pid, mosquitto: broker.pid });
  const drained = await drainInChild(join(dir, "buffer.db"), broker.url);
  // The gateway process has exited; it reported its own CPU time over the drain.
  const drainCpu = { ...cpu.done(), gateway: drained.cpuSeconds };
  const drainRate = TOTAL / (drained.ms / 1000);
  await ingest.stop();
  const stored = await influx.query(`SELECT count("seq") FROM "rating" WHERE "seq" < ${WARM_UP_SEQ}`, "bench_drain");

  // 4. The uplink's own capacity: the same gateway process draining into a stand-in hub that only verifies and
  // acknowledges (no InfluxDB), to show which side limits the drain above.
  const capacityReadings = Math.min(TOTAL, 200_000);
  const capacityBuffer = openBuffer({ path: join(dir, "capacity.db"), capacityBytes: 4 * 1024 * 1024 * 1024, groupCommitMax: 5000 });
  for (let i = 0; i < capacityReadings; i += 5000)
    await Promise.all(readings(2_000_000_000 + i, 5000).map((r) => capacityBuffer.append(r)));
  capacityBuffer.close();
  const standIn = await startStandInHub({ publicKeyPem: registry.gateways.get("gw1")!.publicKey, gatewayId: "gw1" });
  const capacity = await drainInChild(join(dir, "capacity.db"), standIn.url);
  await standIn.close();
  const capacityRate = capacityReadings / (capacity.ms / 1000);
  console.table([
    { measure: "hub ingest, pre-signed batches (readings/s)", value: Math.round(ingestRate) },
    { measure: `backlog drain through the uplink (readings/s)`, value: Math.round(drainRate) },
    { measure: "ratio drain / ingest (target ≥ 0.8)", value: Number((drainRate / ingestRate).toFixed(2)) },
    { measure: "readings stored from the drain", value: Number(stored.results[0]?.series?.[0]?.values?.[0]?.[1] ?? 0) },
    { measure: "uplink alone, into a stand-in hub (readings/s)", value: Math.round(capacityRate) },
  ]);
  console.log("CPU µs per reading, by process (in the baseline, this process plays the gateway with pre-signed batches):");
  console.table({
    baseline: microsPerReading(baselineCpu, BASELINE),
    drain: microsPerReading(drainCpu, TOTAL),
    "uplink alone": microsPerReading({ gateway: capacity.cpuSeconds }, capacityReadings),
  });
  console.log(
    `${TOTAL.toLocaleString("en")} buffered readings, uplink v${ENVELOPE}, ${BATCH} per batch, ≤ ${IN_FLIGHT} batches in flight, mosquitto between gateway and hub; gateway and hub are separate processes sharing this machine's cores with influxd and mosquitto`,
  );
} finally {
  await broker.close();
  await influx.close();
  rmSync(dir, { recursive: true, force: true });
}
