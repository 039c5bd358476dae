import { waitFor } from "@supervision/gateway/testing";
import { type Accounting, account } from "./accounting.ts";
import { DeviceFleet } from "./devices.ts";
import { FaultWorld } from "./world.ts";

/** The faults, each injected at least once per run (rounds cycle through them in a seeded order). */
export const FAULTS = [
  "gateway kill -9",
  "hub kill -9",
  "influxd frozen",
  "influxd kill -9",
  "uplink cut, gateway kill -9 during it",
  "gateway disk full",
  "gateway clock back",
  "gateway clock forward",
] as const;
export type Fault = (typeof FAULTS)[number];

export interface MatrixOptions {
  readings: number;
  rounds: number;
  keypads: number;
  /** Readings per second over all keypads (0: as fast as PUBACKs come). */
  rate: number;
  seed: number;
  /** Share of stale and of future readings each, mixed into the stream. */
  oddShare: number;
  clockBackS: number;
  clockForwardS: number;
  diskMiB: number;
  /** Readings acknowledged while an outage lasts (uplink cut, hub dead, influxd frozen or dead); 0: readings / (rounds × 8). */
  outage: number;
  /** Keep the run's folder (logs, settings, registry) for a look afterwards. */
  keep: boolean;
  progress: (line: string) => void;
}

export const DEFAULT_OPTIONS: Omit<MatrixOptions, "progress"> = {
  readings: 4000,
  rounds: FAULTS.length,
  keypads: 4,
  rate: 0,
  seed: 1,
  oddShare: 0.03,
  clockBackS: 300,
  clockForwardS: 3600,
  diskMiB: 128,
  outage: 0,
  keep: false,
};

export interface RoundReport {
  round: number;
  fault: Fault;
  /** Acknowledged readings when it began. */
  atAcked: number;
  /** What was seen while it lasted. */
  observed: string;
  seconds: number;
}

export interface MatrixResult extends Accounting {
  readings: number;
  /** Readings acknowledged during each outage. */
  outage: number;
  ordinary: number;
  stale: number;
  future: number;
  rounds: RoundReport[];
  seconds: number;
  ok: boolean;
}

/** A small seeded generator (mulberry32): the same seed, the same stream and the same moments. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Runs devices through a real gateway, hub and influxd while the faults strike, then counts every reading. */
export async function runFaultMatrix(opts: MatrixOptions): Promise<MatrixResult> {
  const t0 = Date.now();
  const random = seededRandom(opts.seed);
  const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s`;
  const say = (line: string) => opts.progress(`[${elapsed()}] ${line}`);
  // Each kind once in a shuffled order, then again, as many rounds as asked.
  const order: Fault[] = [];
  while (order.length < opts.rounds) {
    const kinds = [...FAULTS];
    for (let i = kinds.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [kinds[i], kinds[j]] = [kinds[j] as Fault, kinds[i] as Fault];
    }
    order.push(...kinds);
  }
  order.length = opts.rounds;

  say(
    `starting the hub (managed influxd), the gateway (data on a ${opts.diskMiB} MiB tmpfs, clock by libfaketime) and the uplink proxy ...`,
  );
  const world = await FaultWorld.start({ keypads: opts.keypads, diskMiB: opts.diskMiB });
  let fleet: DeviceFleet | undefined;
  const rounds: RoundReport[] = [];
  try {
    const perDevice = Math.ceil(opts.readings / opts.keypads);
    fleet = new DeviceFleet({
      url: `mqtt://127.0.0.1:${world.gateway.devicePort}`,
      deviceIds: world.deviceIds,
      windowIds: world.windowIds,
      perDevice,
      rate: opts.rate,
      oddShare: opts.oddShare,
      random,
      credentials: (id) => ({ username: id, password: `secret-${id}` }),
    });
    const devices = fleet;
    say(
      `${devices.total} readings from ${opts.keypads} keypads (${devices.count("stale")} stale, ${devices.count("future")} future mixed in), ${opts.rounds} faults`,
    );
    // The moments: random points of the stream, in order, none in its first or last twentieth.
    const moments = Array.from({ length: opts.rounds }, () => Math.floor(devices.total * (0.05 + 0.85 * random()))).sort((a, b) => a - b);
    const hold = opts.outage > 0 ? opts.outage : Math.max(20, Math.floor(devices.total / (opts.rounds * 8)));
    let finished = false;
    let allowed = 0;
    void devices.done.then(() => (finished = true));
    const ticker = setInterval(() => {
      void world
        .gatewayStatus()
        .then((s) => say(`  acknowledged ${devices.acknowledged}/${devices.total}, gateway buffer ${s.buffer.depth} waiting`))
        .catch(() => say(`  acknowledged ${devices.acknowledged}/${devices.total}, gateway not answering`));
    }, 5000);
    /** Lets the stream run until `n` readings in all were published (never fewer than allowed before). */
    const allow = (n: number) => {
      allowed = Math.max(allowed, n);
      devices.limit = allowed;
    };
    /** Lets `n` more readings go and waits until they are acknowledged (or all are). */
    const moreAcked = async (n: number, timeoutMs = 120_000) => {
      const target = devices.acknowledged + n;
      allow(target);
      await waitFor(`${n} more readings acknowledged`, () => finished || devices.acknowledged >= target, timeoutMs);
    };
    try {
      for (let r = 0; r < order.length; r++) {
        const fault = order[r] as Fault;
        // The stream runs past the moment, so the fault strikes with readings in flight.
        allow((moments[r] as number) + hold);
        await waitFor(`the moment of round ${r + 1}`, () => finished || devices.acknowledged >= (moments[r] as number), 600_000);
        const started = Date.now();
        const atAcked = devices.acknowledged;
        say(`round ${r + 1}/${order.length}: ${fault} (at ${atAcked} acknowledged)`);
        const observed = await inject(fault, world, devices, { hold, allow, moreAcked, opts, say });
        rounds.push({ round: r + 1, fault, atAcked, observed, seconds: (Date.now() - started) / 1000 });
        say(`round ${r + 1}/${order.length}: ${fault} over: ${observed}`);
      }
      devices.limit = Number.POSITIVE_INFINITY;
      await waitFor("every reading acknowledged", () => finished, 600_000);
      say(`all ${devices.total} readings acknowledged; waiting for the gateway to drain ...`);
      await waitFor(
        "the gateway buffer to drain",
        async () => {
          try {
            const s = await world.gatewayStatus();
            return s.buffer.depth === 0;
          } catch {
            return false;
          }
        },
        300_000,
      );
    } finally {
      clearInterval(ticker);
    }
    // Stored means in InfluxDB: wait until every acknowledged reading is accounted for, or nothing changes any more.
    let result = await account(devices, { url: world.influxUrl, ...world.influxAuth }, `http://127.0.0.1:${world.gateway.httpPort}`);
    for (let stable = 0, last = -1; result.lost > 0 && stable < 20;) {
      await new Promise((r) => setTimeout(r, 500));
      result = await account(devices, { url: world.influxUrl, ...world.influxAuth }, `http://127.0.0.1:${world.gateway.httpPort}`);
      stable = result.stored === last ? stable + 1 : 0;
      last = result.stored;
    }
    const seconds = (Date.now() - t0) / 1000;
    return {
      ...result,
      readings: devices.total,
      outage: hold,
      ordinary: devices.count("ordinary"),
      stale: devices.count("stale"),
      future: devices.count("future"),
      rounds,
      seconds,
      ok: result.lost === 0 && result.doubled === 0 && result.oddStored === 0 && result.acknowledged === devices.total,
    };
  } catch (error) {
    say(`the gateway's last words: ${world.gateway.stderr().slice(-3000)}`);
    throw error;
  } finally {
    fleet?.stop();
    if (opts.keep) say(`kept the run's files in ${world.dir} (hub.log there)`);
    await world.close(opts.keep);
  }
}

interface InjectContext {
  hold: number;
  allow: (n: number) => void;
  moreAcked: (n: number, timeoutMs?: number) => Promise<void>;
  opts: MatrixOptions;
  say: (line: string) => void;
}

/** Injects one fault, holds it while the stream goes on, repairs it; answers what was seen meanwhile. */
async function inject(fault: Fault, world: FaultWorld, devices: DeviceFleet, ctx: InjectContext): Promise<string> {
  const { hold, moreAcked, opts } = ctx;
  switch (fault) {
    case "gateway kill -9": {
      const before = devices.acknowledged;
      await world.gateway.kill9();
      await world.startGateway();
      return `restarted; ${devices.acknowledged - before} acknowledged meanwhile, devices reconnected ${devices.reconnects} times so far`;
    }
    case "hub kill -9": {
      const influxdBefore = world.influxdPid();
      await world.killHub9();
      await moreAcked(hold);
      await world.startHub();
      return `${hold}+ acknowledged while the hub was dead; restarted, influxd ${influxdBefore} → ${world.influxdPid()} (the orphan stopped by the new hub)`;
    }
    case "influxd frozen": {
      const pid = world.influxdPid();
      if (pid === undefined) return "no influxd pid file: skipped";
      process.kill(pid, "SIGSTOP");
      let waiting = 0;
      try {
        // Held until the hub stopped taking batches: readings pile up in the gateway while devices are acknowledged.
        await moreAcked(hold);
        await waitFor(
          "readings waiting in the gateway",
          async () => devices.acknowledged >= devices.total || (waiting = (await world.gatewayStatus()).buffer.depth) >= hold,
          60_000,
        ).catch(() => undefined);
      } finally {
        process.kill(pid, "SIGCONT");
      }
      return `SIGSTOP while ${hold}+ readings were acknowledged (${waiting} waiting in the gateway), then SIGCONT`;
    }
    case "influxd kill -9": {
      const pid = world.influxdPid();
      if (pid === undefined) return "no influxd pid file: skipped";
      process.kill(pid, "SIGKILL");
      await moreAcked(hold);
      await waitFor(
        "the hub to restart its influxd",
        async () => {
          const next = world.influxdPid();
          const health = await fetch(`http://127.0.0.1:${world.ports.http}/healthz`).catch(() => undefined);
          return next !== undefined && next !== pid && health?.status === 200;
        },
        120_000,
      );
      return `killed ${pid}; the hub restarted it as ${world.influxdPid()}`;
    }
    case "uplink cut, gateway kill -9 during it": {
      // The line is down and the gateway loses power before it is back: what it buffered must survive both.
      world.proxy.cut();
      try {
        await moreAcked(hold);
        const depth = (await world.gatewayStatus()).buffer.depth;
        await world.gateway.kill9();
        await world.startGateway();
        await moreAcked(hold);
        return `cut; ${hold}+ acknowledged (${depth} waiting in the gateway), gateway killed -9 and restarted, ${hold}+ more; restored`;
      } finally {
        world.proxy.restore();
      }
    }
    case "gateway disk full": {
      const errorsBefore = devices.publishErrors;
      const ackedBefore = devices.acknowledged;
      world.fillGatewayDisk();
      try {
        // Held until the gateway refused a publish (no PUBACK), or while a few holds' worth was still acknowledged
        // (SQLite reuses its write-ahead log's room, so a full disk bites only when the log or the file must grow).
        const target = Math.min(devices.total, devices.acknowledged + 4 * hold);
        ctx.allow(target);
        await waitFor("a refused publish", () => devices.publishErrors > errorsBefore || devices.acknowledged >= target, 60_000).catch(
          () => undefined,
        );
      } finally {
        world.freeGatewayDisk();
      }
      await moreAcked(Math.min(hold, devices.total - devices.acknowledged));
      return `filled; ${devices.acknowledged - ackedBefore} acknowledged, ${devices.publishErrors - errorsBefore} publishes or connections refused while full (resent after), then freed`;
    }
    case "gateway clock back":
    case "gateway clock forward": {
      const offset = fault === "gateway clock back" ? -opts.clockBackS : opts.clockForwardS;
      world.setGatewayClock(offset);
      try {
        await waitFor("the gateway clock to jump", async () => Math.abs((await world.gatewayClockOffsetS()) - offset) <= 2, 30_000);
        await moreAcked(hold);
      } finally {
        world.setGatewayClock(0);
      }
      await waitFor("the gateway clock to come back", async () => Math.abs(await world.gatewayClockOffsetS()) <= 2, 30_000);
      return `${offset > 0 ? "+" : ""}${offset} s for ${hold}+ acknowledged readings, then back`;
    }
  }
}

/** The table a run prints, and its verdict. */
export function formatResult(r: MatrixResult): string {
  const reasons = Object.entries(r.deadLettered)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([reason, n]) => `${reason} ${n}`)
    .join(", ");
  const problems = [
    r.lost > 0 ? `${r.lost} lost (e.g. ${r.lostExamples.join(", ")})` : "",
    r.doubled > 0 ? `${r.doubled} doubled` : "",
    r.oddStored > 0 ? `${r.oddStored} stale or future readings stored` : "",
    r.acknowledged < r.readings ? `${r.readings - r.acknowledged} never acknowledged` : "",
  ].filter(Boolean);
  return [
    `fault matrix: ${r.readings} readings (${r.ordinary} ordinary, ${r.stale} stale, ${r.future} future), ${r.rounds.length} faults, ${r.seconds.toFixed(0)} s`,
    "",
    "| round | fault | at acknowledged | what happened |",
    "|---|---|---|---|",
    ...r.rounds.map((x) => `| ${x.round} | ${x.fault} | ${x.atAcked} | ${x.observed} |`),
    "",
    "| acknowledged | stored | dead-lettered (where, reason) | lost | doubled |",
    "|---|---|---|---|---|",
    `| ${r.acknowledged} | ${r.stored} | ${r.deadLetteredReadings}${reasons ? ` (${reasons})` : ""} | ${r.lost} | ${r.doubled} |`,
    "",
    r.ordinaryDeadLettered > 0
      ? `${r.ordinaryDeadLettered} ordinary readings were dead-lettered (refused because of a fault, kept with the reason)`
      : "",
    problems.length === 0 ? "verdict: PASS (nothing lost, nothing doubled)" : `verdict: FAIL: ${problems.join("; ")}`,
  ]
    .filter((line, i, all) => line !== "" || all[i - 1] !== "")
    .join("\n");
}
