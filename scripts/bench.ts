/**
 * `npm run bench`: runs every benchmark one after the other (they share 2 cores, so never in parallel).
 * Each prints its own figures measured side by side with its baseline in the same run, as ratios.
 * Usage: npm run bench [-- name ... [--flag value ...]]   names: gateway, drain, hub, live, cameras, summaries, scale; flags after the names go to
 * each bench named (e.g. `npm run bench -- hub --readings 100000 --profile hub.cpuprofile`).
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

const BENCHES: Record<string, { script: string; what: string }> = {
  gateway: { script: "gateway/bench/gateway.ts", what: "gateway durable QoS 1 ingest vs plain Mosquitto; memory with 200 devices" },
  drain: { script: "system/bench/drain.ts", what: "gateway backlog of 1,000,000 readings draining to a hub" },
  hub: { script: "hub/bench/ingest.ts", what: "hub ingest into InfluxDB vs direct writes; publish-to-queryable latency" },
  live: {
    script: "gateway/bench/live.ts",
    what: "one camera live viewer (ffmpeg -c copy + gateway relay) vs ffmpeg merely reading the stream",
  },
  cameras: { script: "gateway/bench/cameras.ts", what: "gateway idle with 50 ONVIF cameras subscribed vs none: memory and CPU" },
  summaries: {
    script: "system/bench/summaries.ts",
    what: "a hall of 100 devices at 30 s heartbeats for a simulated hour: broker messages, hub verifications, InfluxDB points, every heartbeat vs summaries",
  },
  scale: {
    script: "system/bench/scale.ts",
    what: "1,000 simulated halls' gateways into one hub on Mosquitto and two hub copies on a three-node RabbitMQ cluster, every heartbeat vs summaries: readings/s, hub CPU and broker messages per reading, p99 device to queryable, each copy's share",
  },
};

const argv = process.argv.slice(2);
const firstFlag = argv.findIndex((a) => a.startsWith("-"));
const args = firstFlag < 0 ? argv : argv.slice(0, firstFlag);
const flags = firstFlag < 0 ? [] : argv.slice(firstFlag);
if (args.length === 0 && (flags.includes("--help") || flags.includes("-h"))) {
  console.log(
    "Usage: npm run bench [-- NAME ... [--FLAG VALUE ...]]   (flags go to each bench named: NAME --help lists them)\n\nBenchmarks:",
  );
  for (const [name, b] of Object.entries(BENCHES)) console.log(`  ${name.padEnd(8)} ${b.what}`);
  process.exit(0);
}
const unknown = args.filter((a) => !(a in BENCHES));
if (unknown.length > 0) {
  console.error(`Unknown benchmark(s): ${unknown.join(", ")}. Known: ${Object.keys(BENCHES).join(", ")}`);
  process.exit(2);
}
let failed = 0;
for (const name of args.length > 0 ? args : Object.keys(BENCHES)) {
  const bench = BENCHES[name]!;
  console.log(`\n=== ${name}: ${bench.what} ===`);
  if (!existsSync(bench.script)) {
    console.error(`missing ${bench.script}`);
    failed++;
    continue;
  }
  const run = spawnSync("npx", ["tsx", bench.script, ...flags], { stdio: "inherit" });
  if (run.status !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
