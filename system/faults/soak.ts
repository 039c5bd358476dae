import { readdirSync, readFileSync } from "node:fs";
import { waitFor } from "@supervision/gateway/testing";
import { type InfluxAccess, rows } from "./accounting.ts";
import { DeviceFleet } from "./devices.ts";
import { seededRandom } from "./matrix.ts";
import { FaultWorld } from "./world.ts";

export interface SoakOptions {
  minutes: number;
  /** Readings per second over all keypads. */
  rate: number;
  keypads: number;
  /** Seconds between two samples. */
  sampleS: number;
  progress: (line: string) => void;
}

export interface ProcessSample {
  rssMiB: number;
  fds: number;
}

export interface SoakSample {
  atS: number;
  acknowledged: number;
  /** Readings per second since the previous sample. */
  rate: number;
  waiting: number;
  processes: Record<string, ProcessSample | undefined>;
}

export interface SoakResult {
  samples: SoakSample[];
  acknowledged: number;
  stored: number;
  lost: number;
  /** Per process: lowest RSS and mean descriptors of the first and the last third of the run (after the first sample), and the verdict. */
  growth: Record<string, { rssFirstMiB: number; rssLastMiB: number; fdsFirst: number; fdsLast: number; growing: boolean }>;
  ok: boolean;
}

/** Resident memory (VmRSS) and open file descriptors of a process, from /proc. */
export function sampleProcess(pid: number | undefined): ProcessSample | undefined {
  if (pid === undefined) return undefined;
  try {
    const rssKiB = Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? Number.NaN);
    return { rssMiB: rssKiB / 1024, fds: readdirSync(`/proc/${pid}/fd`).length };
  } catch {
    return undefined; // the process is gone
  }
}

const mean = (xs: number[]) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);

/**
 * Memory grows when the last third's lowest RSS is more than a fifth and 16 MiB above the first third's (after
 * warm-up, the first sample left out): garbage waiting for a collection comes and goes (a saw-tooth), a leak raises
 * the floor. Descriptors grow when the last third holds 10 more on average. Caches filling early (V8's heap, SQLite's
 * page cache) stay in the first third; a leak keeps climbing into the last.
 */
export function judgeGrowth(samples: SoakSample[]): SoakResult["growth"] {
  const growth: SoakResult["growth"] = {};
  const settled = samples.slice(1);
  const third = Math.max(1, Math.floor(settled.length / 3));
  for (const name of Object.keys(samples[0]?.processes ?? {})) {
    const values = (part: SoakSample[], pick: (p: ProcessSample) => number) =>
      part
        .map((s) => s.processes[name])
        .filter((p): p is ProcessSample => p !== undefined)
        .map(pick);
    const first = settled.slice(0, third);
    const last = settled.slice(-third);
    const rssFirstMiB = Math.min(...values(first, (p) => p.rssMiB));
    const rssLastMiB = Math.min(...values(last, (p) => p.rssMiB));
    const fdsFirst = mean(values(first, (p) => p.fds));
    const fdsLast = mean(values(last, (p) => p.fds));
    const growing = (rssLastMiB > rssFirstMiB * 1.2 && rssLastMiB - rssFirstMiB > 16) || fdsLast - fdsFirst >= 10;
    growth[name] = { rssFirstMiB, rssLastMiB, fdsFirst, fdsLast, growing };
  }
  return growth;
}

/** `npm run soak`: readings at a steady rate through the real gateway, hub and influxd, sampled from /proc. */
export async function runSoak(opts: SoakOptions): Promise<SoakResult> {
  const t0 = Date.now();
  const say = (line: string) => opts.progress(`[${((Date.now() - t0) / 1000).toFixed(0).padStart(5)} s] ${line}`);
  say("starting the hub (managed influxd) and the gateway ...");
  const world = await FaultWorld.start({ keypads: opts.keypads, diskMiB: 1024 });
  const total = Math.max(opts.keypads, Math.round(opts.minutes * 60 * opts.rate));
  const fleet = new DeviceFleet({
    url: `mqtt://127.0.0.1:${world.gateway.devicePort}`,
    deviceIds: world.deviceIds,
    windowIds: world.windowIds,
    perDevice: Math.ceil(total / opts.keypads),
    rate: opts.rate,
    oddShare: 0,
    random: seededRandom(1),
    credentials: (id) => ({ username: id, password: `secret-${id}` }),
  });
  const samples: SoakSample[] = [];
  say(`${fleet.total} readings at ${opts.rate}/s from ${opts.keypads} keypads, a sample every ${opts.sampleS} s`);
  say("  time  acknowledged  rate/s  waiting | RSS MiB: hub gateway influxd | open fds: hub gateway influxd");
  let finished = false;
  void fleet.done.then(() => (finished = true));
  try {
    let last = { at: Date.now(), acked: 0 };
    const take = async () => {
      const now = Date.now();
      const waiting = await world
        .gatewayStatus()
        .then((s) => s.buffer.depth)
        .catch(() => Number.NaN);
      const sample: SoakSample = {
        atS: (now - t0) / 1000,
        acknowledged: fleet.acknowledged,
        rate: ((fleet.acknowledged - last.acked) * 1000) / Math.max(1, now - last.at),
        waiting,
        processes: {
          hub: sampleProcess(world.hub.process.pid),
          gateway: sampleProcess(world.gateway.child.pid),
          influxd: sampleProcess(world.influxdPid()),
        },
      };
      last = { at: now, acked: fleet.acknowledged };
      samples.push(sample);
      const p = sample.processes;
      const cell = (x: ProcessSample | undefined, pick: (s: ProcessSample) => number, w: number) =>
        (x ? pick(x).toFixed(0) : "-").padStart(w);
      say(
        `${String(sample.acknowledged).padStart(12)}  ${sample.rate.toFixed(0).padStart(6)}  ${String(waiting).padStart(7)} | ` +
          `${cell(p.hub, (s) => s.rssMiB, 11)} ${cell(p.gateway, (s) => s.rssMiB, 7)} ${cell(p.influxd, (s) => s.rssMiB, 7)} | ` +
          `${cell(p.hub, (s) => s.fds, 12)} ${cell(p.gateway, (s) => s.fds, 7)} ${cell(p.influxd, (s) => s.fds, 7)}`,
      );
    };
    while (!finished) {
      const next = Date.now() + opts.sampleS * 1000;
      await waitFor("the next sample", () => finished || Date.now() >= next, opts.sampleS * 1000 + 60_000);
      await take();
    }
    await waitFor("the gateway to drain", async () => (await world.gatewayStatus().catch(() => undefined))?.buffer.depth === 0, 300_000);
    const stored = await countStored({ url: world.influxUrl, ...world.influxAuth });
    const growth = judgeGrowth(samples);
    return {
      samples,
      acknowledged: fleet.acknowledged,
      stored,
      lost: fleet.acknowledged - stored,
      growth,
      ok: fleet.acknowledged === stored && Object.values(growth).every((g) => !g.growing),
    };
  } finally {
    fleet.stop();
    await world.close();
  }
}

async function countStored(influx: InfluxAccess): Promise<number> {
  const [row] = await rows(influx, `SELECT count("seq") FROM "raw"."rating"`);
  return Number(row?.count ?? 0);
}

/** The verdict a soak prints. */
export function formatSoak(r: SoakResult): string {
  const rows = Object.entries(r.growth).map(
    ([name, g]) =>
      `| ${name} | ${g.rssFirstMiB.toFixed(0)} → ${g.rssLastMiB.toFixed(0)} | ${g.fdsFirst.toFixed(0)} → ${g.fdsLast.toFixed(0)} | ${g.growing ? "GROWING" : "flat"} |`,
  );
  return [
    `soak: ${r.acknowledged} acknowledged, ${r.stored} stored, ${r.lost} lost`,
    "",
    "| process | lowest RSS MiB, first third → last third | open fds, first third → last third | verdict |",
    "|---|---|---|---|",
    ...rows,
    "",
    r.ok ? "verdict: PASS (nothing lost, memory and descriptors flat)" : "verdict: FAIL (see above)",
  ].join("\n");
}
