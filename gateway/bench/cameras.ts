/**
 * Camera benchmark (no pass/fail; figures beside their baseline, measured in one run): the gateway following 50 ONVIF
 * cameras (PullPoint subscriptions held by 50 replay cameras, WS-Security, stream checks) against the same gateway
 * with none, both idle: resident memory and CPU of the gateway process alone (from /proc), the cameras running in
 * this process. Targets: at most +30 MB resident and under 2 % of a core while idle.
 *
 *   npx tsx gateway/bench/cameras.ts [--cameras 50] [--seconds 120] [--help]
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { type GatewayConfig, sealSecret, secretContext } from "@supervision/firmware-protocols";
import { freePort } from "@supervision/test-support";
import { OnvifReplay } from "../src/adapters/onvif/testing/replay-server.ts";
import { loadOrCreateKeys } from "../src/identity/keys.ts";
import { type GatewayUnderTest, gatewayProcess, waitFor } from "../test/fixtures.ts";

const { values: args } = parseArgs({
  options: {
    cameras: { type: "string", default: "50" },
    seconds: { type: "string", default: "120" },
    help: { type: "boolean", default: false },
  },
});
if (args.help) {
  console.log(
    "usage: npx tsx gateway/bench/cameras.ts [--cameras N] [--seconds S]   (about 5 minutes: two gateways, each idle for S seconds)",
  );
  process.exit(0);
}
const CAMERAS = Number(args.cameras);
const SECONDS = Number(args.seconds);
if (!Number.isInteger(CAMERAS) || CAMERAS < 1 || CAMERAS > 500 || !Number.isFinite(SECONDS) || SECONDS < 10 || SECONDS > 3600) {
  console.error("--cameras must be an integer from 1 to 500 and --seconds from 10 to 3600");
  process.exit(2);
}
// The gateway as deployed on an edge box: the bundle (npm run build), started with GATEWAY_NODE_FLAGS.
const BUNDLE = "gateway/dist/gateway.mjs";
const built = spawnSync(process.execPath, ["gateway/bin/build.mjs"], { stdio: "inherit" });
if (built.status !== 0) throw new Error("npm run build failed");
const SETTLE_MS = 15_000;
const TICKS_PER_S = 100; // USER_HZ of /proc/<pid>/stat on Linux

const config = (devices: GatewayConfig["devices"]): GatewayConfig => ({
  v: 1,
  gatewayId: "gw-bench",
  version: 1,
  site: { id: "hall-bench", name: "Bench hall", kind: "hall", tz: "Asia/Shanghai" },
  devices,
  windows: devices.map((d) => ({ id: d.windowId!, name: d.windowId!, departmentId: "tax" })),
  people: [],
});

function residentMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((l) => l.startsWith("VmRSS:"));
  return Number(line?.match(/(\d+)/)?.[1] ?? NaN) / 1024;
}

/** User + system CPU seconds of a process so far. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S;
}

/** Idle cost of a running gateway: CPU over `SECONDS` (% of one core) and resident memory at the end. */
async function idle(gateway: GatewayUnderTest): Promise<{ cpuPct: number; rssMb: number }> {
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const pid = gateway.child.pid!;
  const [cpu0, t0] = [cpuSeconds(pid), Date.now()];
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const cpuPct = ((cpuSeconds(pid) - cpu0) / ((Date.now() - t0) / 1000)) * 100;
  return { cpuPct, rssMb: residentMb(pid) };
}

// No hub listens on the uplink URL (the same for both): readings stay in the buffer, as while a hall is offline.
const hubUrl = `mqtt://127.0.0.1:${await freePort()}`;

// Baseline: the same gateway, no camera.
const bare = await gatewayProcess({ entry: BUNDLE, config: config([]), hubUrl });
await bare.start();
const baseline = await idle(bare);
await bare.cleanup();

// 50 cameras: each a replay holding PullMessages a minute, as cameras do, with credentials checked (WS-Security) and
// subscriptions of 90 s, so the idle figures include renewals (a lapsed subscription would show as resubscriptions).
const replays = await Promise.all(
  Array.from({ length: CAMERAS }, async () => {
    const replay = new OnvifReplay({ username: "admin", password: "bench-secret", pullHoldMs: 60_000, terminationMs: 90_000 });
    await replay.start();
    return replay;
  }),
);
const withCameras = await gatewayProcess({ entry: BUNDLE, config: config([]), hubUrl });
const keys = loadOrCreateKeys(withCameras.dataDir);
withCameras.settings.config = config(
  replays.map((replay, i) => {
    const id = `cam-w${i + 1}`;
    const sealed = sealSecret("bench-secret", keys.sealingKeyPem, secretContext("gw-bench", id, "onvif", "password"));
    if (!sealed.ok) throw new Error(sealed.error.message);
    return {
      id,
      kind: "camera",
      windowId: `w${i + 1}`,
      heartbeatS: 60,
      onvif: { url: replay.url, username: "admin", password: sealed.value },
    };
  }),
);
await withCameras.start();
await waitFor(`${CAMERAS} motion subscriptions`, () => replays.every((r) => r.activeSubscriptions() === 1), 120_000);
const cameras = await idle(withCameras);
const resubscribed = replays.reduce((n, r) => n + r.count("events.CreatePullPointSubscription"), 0) - CAMERAS;
await withCameras.cleanup();
await Promise.all(replays.map((r) => r.stop()));

const row = (what: string, b: number, c: number, unit: string, target: string) =>
  console.log(
    `${what.padEnd(34)} ${b.toFixed(unit === "%" ? 2 : 1).padStart(7)} ${unit.padEnd(3)} ${c.toFixed(unit === "%" ? 2 : 1).padStart(7)} ${unit.padEnd(3)} ${(c - b >= 0 ? "+" : "") + (c - b).toFixed(unit === "%" ? 2 : 1)} ${unit}   (${target})`,
  );
console.log(`\ngateway idle for ${SECONDS} s: no camera vs ${CAMERAS} ONVIF cameras subscribed (replays, PullMessages held 60 s)`);
console.log(`${"".padEnd(34)} ${"none".padStart(11)} ${`${CAMERAS} cams`.padStart(11)}   difference`);
row("resident memory", baseline.rssMb, cameras.rssMb, "MB", "target: at most +30 MB");
row("CPU, % of one core", baseline.cpuPct, cameras.cpuPct, "%", "target: under 2 % with the cameras");
const renewals = replays.reduce((n, r) => n + r.count("events.Renew"), 0);
console.log(`subscriptions renewed ${renewals} times, lapsed and made again ${resubscribed} times (target: 0)`);
