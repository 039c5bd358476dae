/**
 * Gateway benchmark (no pass/fail; prints figures and ratios measured side by side in one run):
 *  1. accepted QoS 1 readings per second into the gateway, every one committed to its on-disk buffer before its
 *     PUBACK, against the same load into Debian's mosquitto, which keeps nothing durable (target: at least 0.5);
 *  2. the gateway's resident memory with 200 connected devices (target: under 100 MB).
 * Both brokers run as child processes; the same load generator drives both.
 *
 *   npx tsx gateway/bench/gateway.ts [--readings 100000] [--devices 50] [--help]
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { deviceTopics } from "@supervision/firmware-protocols";
import { freePort, startMosquitto } from "@supervision/test-support";
import mqtt, { type MqttClient } from "mqtt";
import { type GatewayUnderTest, gatewayProcess, hallConfig, ratingPayload } from "../test/fixtures.ts";

const { values: args } = parseArgs({
  options: {
    readings: { type: "string", default: "100000" },
    devices: { type: "string", default: "50" },
    help: { type: "boolean", default: false },
  },
});
if (args.help) {
  console.log("usage: npx tsx gateway/bench/gateway.ts [--readings N] [--devices N]   (about a minute; starts mosquitto and a gateway)");
  process.exit(0);
}
const TOTAL = Number(args.readings);
const DEVICES = Number(args.devices);
if (!Number.isInteger(TOTAL) || TOTAL < 1000 || !Number.isInteger(DEVICES) || DEVICES < 1 || DEVICES > 200) {
  console.error("--readings must be an integer of at least 1000 and --devices from 1 to 200");
  process.exit(2);
}
const MEMORY_DEVICES = 200;
// The gateway as deployed on an edge box: the bundle (npm run build), started with GATEWAY_NODE_FLAGS.
const BUNDLE = "gateway/dist/gateway.mjs";
const built = spawnSync(process.execPath, ["gateway/bin/build.mjs"], { stdio: "inherit" });
if (built.status !== 0) throw new Error("npm run build failed");
/** Unacknowledged publishes per device connection, as a device with a small send window would keep. */
const WINDOW = 64;

/** The fixture hall's keypads: kp-w1..kp-wN on windows w1..wN, secret "secret-kp-wN". */
const deviceId = (i: number) => `kp-w${i + 1}`;

async function connectDevices(url: string, count: number, withCredentials: boolean): Promise<MqttClient[]> {
  return Promise.all(
    Array.from({ length: count }, (_, i) =>
      mqtt.connectAsync(url, {
        clientId: deviceId(i),
        username: withCredentials ? deviceId(i) : undefined,
        password: withCredentials ? `secret-${deviceId(i)}` : undefined,
        clean: true,
        reconnectPeriod: 0,
        protocolVersion: 4,
      }),
    ),
  );
}

/** Every device publishes its share with at most WINDOW unacknowledged; resolves with readings per second. */
async function drive(clients: MqttClient[], total: number, seqBase: number): Promise<number> {
  const perDevice = Math.ceil(total / clients.length);
  const started = process.hrtime.bigint();
  await Promise.all(
    clients.map(
      (client, i) =>
        new Promise<void>((resolve, reject) => {
          const id = deviceId(i);
          const topic = deviceTopics.event(id, "rating");
          let sent = 0;
          let acked = 0;
          const pump = () => {
            while (sent < perDevice && sent - acked < WINDOW) {
              const seq = seqBase + sent++;
              client.publish(topic, ratingPayload(id, seq, `w${i + 1}`), { qos: 1 }, (error) => {
                if (error) return reject(error);
                if (++acked === perDevice) resolve();
                else pump();
              });
            }
          };
          pump();
        }),
    ),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return (perDevice * clients.length) / seconds;
}

async function closeAll(clients: MqttClient[]) {
  await Promise.all(clients.map((c) => c.endAsync()));
}

async function startGatewayChild(devices: number): Promise<GatewayUnderTest> {
  // No hub listens on the uplink URL: readings stay in the buffer, as they do while a hall is offline.
  const gateway = await gatewayProcess({
    entry: BUNDLE,
    config: hallConfig(devices, "gw-bench"),
    hubUrl: `mqtt://127.0.0.1:${await freePort()}`,
  });
  await gateway.start();
  return gateway;
}

function residentMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((l) => l.startsWith("VmRSS:"));
  return Number(line?.match(/(\d+)/)?.[1] ?? NaN) / 1024;
}

const mosquitto = await startMosquitto();
const gateway = await startGatewayChild(MEMORY_DEVICES);
const url = `mqtt://127.0.0.1:${gateway.devicePort}`;
let cleanup = () => gateway.cleanup();
try {
  console.log(`${TOTAL} QoS 1 ratings from ${DEVICES} device connections, ${WINDOW} unacknowledged each`);
  // Warm-up on both, so neither pays for JIT and first allocations in the measured run.
  const warmMosquitto = await connectDevices(mosquitto.url, DEVICES, false);
  await drive(warmMosquitto, 5000, 0);
  const mosquittoRate = await drive(warmMosquitto, TOTAL, 10_000);
  await closeAll(warmMosquitto);

  const gatewayClients = await connectDevices(url, DEVICES, true);
  await drive(gatewayClients, 5000, 0);
  const gatewayRate = await drive(gatewayClients, TOTAL, 10_000);
  await closeAll(gatewayClients);

  console.log(`mosquitto (nothing durable)        ${Math.round(mosquittoRate).toLocaleString("en")} readings/s`);
  console.log(`gateway (committed before PUBACK)  ${Math.round(gatewayRate).toLocaleString("en")} readings/s`);
  console.log(`ratio gateway/mosquitto            ${(gatewayRate / mosquittoRate).toFixed(2)}   (target >= 0.50)`);

  // Memory on a fresh gateway, so the throughput run's transient heap growth does not count.
  await gateway.cleanup();
  const fresh = await startGatewayChild(MEMORY_DEVICES);
  cleanup = () => fresh.cleanup();
  const many = await connectDevices(`mqtt://127.0.0.1:${fresh.devicePort}`, MEMORY_DEVICES, true);
  await drive(many, MEMORY_DEVICES * 10, 1_000_000);
  await new Promise((r) => setTimeout(r, 2000));
  const rss = residentMb(fresh.child.pid!);
  console.log(`gateway resident memory, ${MEMORY_DEVICES} devices connected   ${rss.toFixed(1)} MB   (target < 100 MB)`);
  await closeAll(many);
} finally {
  await cleanup();
  await mosquitto.close();
}
