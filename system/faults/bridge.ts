import { TOPIC_ROOT } from "@supervision/firmware-protocols";
import { waitFor } from "@supervision/gateway/testing";
import { freePort, startMosquitto } from "@supervision/test-support";
import mqtt from "mqtt";
import { DeviceFleet } from "./devices.ts";
import { seededRandom } from "./matrix.ts";
import { startCutProxy } from "./proxy.ts";

/** The outages the improvised setup gets: the same as the matrix's uplink cut, hub kill -9 and gateway kill -9. */
export const BRIDGE_OUTAGES = ["uplink cut, hall broker kill -9 during it", "central broker kill -9", "hall broker kill -9"] as const;
export type BridgeOutage = (typeof BRIDGE_OUTAGES)[number];

export interface BridgeOptions {
  readings: number;
  keypads: number;
  seed: number;
  /** Readings acknowledged while each outage lasts. */
  outage: number;
  progress: (line: string) => void;
}

export interface BridgeResult {
  readings: number;
  acknowledged: number;
  /** Distinct readings that reached the central subscriber. */
  arrived: number;
  lost: number;
  /** Readings that arrived more than once. */
  doubled: number;
  rounds: Array<{ outage: BridgeOutage; atAcked: number; observed: string }>;
}

type Broker = Awaited<ReturnType<typeof startMosquitto>>;

/**
 * What an integrator improvises instead of the gateway and hub: a Mosquitto in the hall bridged to a central Mosquitto
 * (mosquitto.conf's bridge, QoS 1 both ways, the defaults for queues and persistence), and a bare subscriber at the
 * centre counting what arrives. The same keypads publish into the hall broker, and the same kinds of outage strike.
 */
export async function runBridgeBaseline(opts: BridgeOptions): Promise<BridgeResult> {
  const t0 = Date.now();
  const say = (line: string) => opts.progress(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s] bridge: ${line}`);
  const random = seededRandom(opts.seed + 1);
  const centralPort = await freePort();
  const hallPort = await freePort();
  let central: Broker = await startMosquitto({ port: centralPort });
  const proxy = await startCutProxy(centralPort);
  const hallConfig = [
    "connection central",
    `address 127.0.0.1:${proxy.port}`,
    `topic ${TOPIC_ROOT}/dev/# out 1`,
    "cleansession false",
    "restart_timeout 1",
    "bridge_attempt_unsubscribe false",
  ];
  let hall: Broker = await startMosquitto({ port: hallPort, config: hallConfig });
  const arrivals = new Map<string, number>();
  const subscriber = await mqtt.connectAsync(central.url, {
    clientId: "central-subscriber",
    clean: false,
    reconnectPeriod: 200,
    protocolVersion: 4,
  });
  subscriber.on("message", (_topic, payload) => {
    try {
      const r = JSON.parse(payload.toString()) as { deviceId: string; seq: number };
      const key = `${r.deviceId}#${r.seq}`;
      arrivals.set(key, (arrivals.get(key) ?? 0) + 1);
    } catch {
      // not a reading
    }
  });
  await subscriber.subscribeAsync(`${TOPIC_ROOT}/dev/+/evt/#`, { qos: 1 });
  const deviceIds = Array.from({ length: opts.keypads }, (_, i) => `kp-w${i + 1}`);
  const fleet = new DeviceFleet({
    url: `mqtt://127.0.0.1:${hallPort}`,
    deviceIds,
    windowIds: deviceIds.map((_, i) => `w${i + 1}`),
    perDevice: Math.ceil(opts.readings / opts.keypads),
    rate: 0,
    oddShare: 0,
    random,
  });
  const rounds: BridgeResult["rounds"] = [];
  try {
    const moments = BRIDGE_OUTAGES.map(() => Math.floor(fleet.total * (0.1 + 0.7 * random()))).sort((a, b) => a - b);
    let allowed = 0;
    const allow = (n: number) => {
      allowed = Math.max(allowed, n);
      fleet.limit = allowed;
    };
    const moreAcked = async (n: number) => {
      const target = Math.min(fleet.total, fleet.acknowledged + n);
      allow(target);
      await waitFor(`${n} more readings acknowledged by the hall broker`, () => fleet.acknowledged >= target, 120_000);
    };
    for (const [r, outage] of BRIDGE_OUTAGES.entries()) {
      allow((moments[r] as number) + opts.outage);
      await waitFor(`the moment of ${outage}`, () => fleet.acknowledged >= (moments[r] as number), 120_000);
      const atAcked = fleet.acknowledged;
      say(`${outage} (at ${atAcked} acknowledged)`);
      let observed = "";
      if (outage === "uplink cut, hall broker kill -9 during it") {
        // The line is down and the hall box restarts (a power cut) before it is back.
        proxy.cut();
        await moreAcked(opts.outage);
        process.kill(hall.pid as number, "SIGKILL");
        await hall.close();
        hall = await startMosquitto({ port: hallPort, config: hallConfig });
        await moreAcked(opts.outage);
        proxy.restore();
        observed = `cut; ${opts.outage} acknowledged, hall broker killed and restarted, ${opts.outage} more; restored`;
      } else if (outage === "central broker kill -9") {
        process.kill(central.pid as number, "SIGKILL");
        await central.close();
        await moreAcked(opts.outage);
        central = await startMosquitto({ port: centralPort });
        observed = `killed; ${opts.outage} acknowledged at the hall meanwhile; restarted on its port`;
      } else {
        // The hall box loses power: whatever the hall broker acknowledged and holds in memory is gone.
        process.kill(hall.pid as number, "SIGKILL");
        await hall.close();
        hall = await startMosquitto({ port: hallPort, config: hallConfig });
        await moreAcked(opts.outage);
        observed = "killed and restarted; the keypads resent what had no PUBACK";
      }
      rounds.push({ outage, atAcked, observed });
    }
    allow(Number.POSITIVE_INFINITY);
    await waitFor("every reading acknowledged by the hall broker", () => fleet.acknowledged >= fleet.total, 300_000);
    // Arrivals settle: wait until all arrived, or nothing new arrived for 5 s (what is missing then is lost).
    let last = -1;
    let since = Date.now();
    await waitFor(
      "arrivals to settle",
      () => {
        const n = arrivals.size;
        if (n !== last) {
          last = n;
          since = Date.now();
        }
        return n >= fleet.total || Date.now() - since > 5000;
      },
      300_000,
    );
  } finally {
    fleet.stop();
    await subscriber.endAsync(true).catch(() => undefined);
    await hall.close();
    await proxy.close();
    await central.close();
  }
  let lost = 0;
  let doubled = 0;
  for (const [deviceId, plans] of fleet.plans)
    plans.forEach((_, i) => {
      const n = arrivals.get(`${deviceId}#${i + 1}`) ?? 0;
      if (n === 0 && fleet.isAcked(deviceId, i + 1)) lost++;
      if (n > 1) doubled++;
    });
  say(`${fleet.acknowledged} acknowledged by the hall broker, ${arrivals.size} arrived at the centre, ${lost} lost, ${doubled} doubled`);
  return { readings: fleet.total, acknowledged: fleet.acknowledged, arrived: arrivals.size, lost, doubled, rounds };
}

/** Ours beside the bridge: one table. */
export function formatComparison(
  ours: { acknowledged: number; stored: number; deadLetteredReadings: number; lost: number; doubled: number; rounds: unknown[] },
  bridge: BridgeResult,
  outage: number,
): string {
  return [
    `the same outages (${outage} readings acknowledged during each), ours and an improvised Mosquitto bridge:`,
    "",
    "| setup | outages | acknowledged | stored / arrived | dead-lettered | lost | doubled |",
    "|---|---|---|---|---|---|---|",
    `| gateway + hub (this project) | all ${ours.rounds.length} of the matrix | ${ours.acknowledged} | ${ours.stored} | ${ours.deadLetteredReadings} | ${ours.lost} | ${ours.doubled} |`,
    `| hall Mosquitto bridged to a central one | ${BRIDGE_OUTAGES.join(", ")} | ${bridge.acknowledged} | ${bridge.arrived} | - | ${bridge.lost} (${((100 * bridge.lost) / Math.max(1, bridge.acknowledged)).toFixed(1)} %) | ${bridge.doubled} |`,
  ].join("\n");
}
