/**
 * The hub's ingest in a process of its own, as deployed, for the benchmarks: a process that also holds a
 * benchmark's pre-built readings and batches (hundreds of MB) would spend its time collecting garbage that a
 * hub never has. `startIngestProcess` runs this file as the child; the child prints "ready" once subscribed
 * and stops cleanly when its stdin closes. It runs with the hub's node flags (hub/bin/node-flags.mjs), plus
 * BENCH_NODE_FLAGS (e.g. "--cpu-prof") when set.
 */
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { benchNodeFlags } from "@supervision/test-support";
import { HUB_NODE_FLAGS } from "../bin/node-flags.mjs";
import { AmqpLink } from "../src/broker/amqp.ts";
import { ensureDatabase } from "../src/influx/setup.ts";
import { createIngestExtension } from "../src/ingest/index.ts";
import type { Device, Gateway, Person, Site, Window } from "../src/registry/schema.ts";
import { rating, TestGateway, testContext, testRegistry } from "../test/ingest-fixtures.ts";

export interface IngestProcessOptions {
  brokerUrl: string;
  influxUrl: string;
  database: string;
  writeBatchPoints: number;
  clientId: string;
  /** Gateways the child's registry knows (the test registry's devices, windows and people otherwise). */
  gateways: Array<{ id: string; publicKey: string }>;
  /** More of the registry (e.g. many halls, for the scale bench): added after `gateways`, these keep their own sites. */
  registry?: { sites?: Site[]; windows?: Window[]; people?: Person[]; devices?: Device[]; gateways?: Gateway[] };
  /** Consume the RabbitMQ quorum queue over AMQP (a hub copy of a cluster) instead of subscribing over MQTT. */
  amqp?: { urls: string[]; username: string; password: string; copyName: string; queue?: string; prefetch?: number };
}

export interface IngestProcess {
  pid: number;
  /** Starts the child's CPU profiler (node:inspector), so a profile holds only the work measured. */
  startProfile(): Promise<void>;
  /** Stops it and writes the profile (Chrome DevTools .cpuprofile) to `path`. */
  stopProfile(path: string): Promise<void>;
  /** The child's ingest status (`hub status`'s ingest detail: batches and readings stored, AMQP deliveries, ...). */
  status(): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

export async function startIngestProcess(opts: IngestProcessOptions, configPath: string): Promise<IngestProcess> {
  writeFileSync(configPath, JSON.stringify(opts));
  const child = spawn(
    process.execPath,
    [...HUB_NODE_FLAGS, ...benchNodeFlags(), "--import", "tsx", fileURLToPath(import.meta.url), configPath],
    {
      stdio: ["pipe", "pipe", "inherit"],
    },
  );
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  // The child answers each command on stdin with one line: "ready", "profiling", "profiled", "status {json}".
  const answers: Array<(line: string) => void> = [];
  const answer = () => new Promise<string>((resolve) => answers.push(resolve));
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout }).on("line", (line) => {
      if (line === "ready") resolve();
      else if (line === "profiling" || line === "profiled" || line.startsWith("status ")) answers.shift()?.(line);
      else console.error(line);
    });
    void exited.then((code) => reject(new Error(`the hub ingest process exited (${code}) before it was ready`)));
  });
  await ready;
  return {
    pid: child.pid as number,
    async startProfile() {
      child.stdin.write("profile start\n");
      await answer();
    },
    async stopProfile(path: string) {
      child.stdin.write(`profile stop ${path}\n`);
      await answer();
    },
    async status() {
      child.stdin.write("status\n");
      return JSON.parse((await answer()).slice("status ".length)) as Record<string, unknown>;
    },
    async stop() {
      child.stdin.end();
      const code = await exited;
      if (code !== 0) throw new Error(`the hub ingest process exited with ${code}`);
    },
  };
}

/** Readings a hub process ingests before it is measured (its JIT compiled), from a gateway of their own. */
export const WARM_UP_READINGS = 20_000;
/** Their seqs, above any a benchmark measures, so counts can leave them out. */
export const WARM_UP_SEQ = 3_000_000_000;
export const WARM_UP_GATEWAY = "gw-warm";

/** Sends WARM_UP_READINGS in batches of `batch` as WARM_UP_GATEWAY and waits until the hub acknowledged them all. */
export async function warmUp(
  brokerUrl: string,
  privateKeyPem: string,
  batch: number,
  t0: number,
  envelope: 1 | 2 | 3 = 1,
  auth: { username?: string; password?: string } = {},
): Promise<void> {
  const warm = await TestGateway.connect(brokerUrl, WARM_UP_GATEWAY, privateKeyPem, auth);
  for (let i = 0; i < WARM_UP_READINGS; i += batch) {
    const readings = Array.from({ length: batch }, (_, k) => rating(WARM_UP_SEQ + i + k, t0 + i + k));
    await warm.send((envelope === 1 ? warm.next(readings, t0 + i) : warm.nextV2({ readings }, t0 + i, { v: envelope })).wire);
  }
  while (warm.acks.length < WARM_UP_READINGS / batch) await new Promise((r) => setTimeout(r, 5));
  await warm.close();
}

async function runChild(configPath: string): Promise<void> {
  const opts = JSON.parse(readFileSync(configPath, "utf8")) as IngestProcessOptions;
  const { registry } = testRegistry();
  registry.gateways.clear();
  for (const g of opts.gateways) registry.gateways.set(g.id, { id: g.id, site: "hall1", publicKey: g.publicKey });
  for (const s of opts.registry?.sites ?? []) registry.sites.set(s.id, s);
  for (const w of opts.registry?.windows ?? []) registry.windows.set(w.id, w);
  for (const p of opts.registry?.people ?? []) registry.people.set(p.id, p);
  for (const d of opts.registry?.devices ?? []) registry.devices.set(d.id, d);
  for (const g of opts.registry?.gateways ?? []) registry.gateways.set(g.id, g);
  const ctx = testContext(registry, opts.influxUrl, opts.database);
  await ensureDatabase(ctx.influx, opts.database, ctx.logger);
  const ingest = createIngestExtension({
    brokerUrl: opts.brokerUrl,
    shareGroup: "",
    writeBatchPoints: opts.writeBatchPoints,
    clientId: opts.clientId,
    ...(opts.amqp
      ? {
          amqp: new AmqpLink({
            urls: opts.amqp.urls,
            username: opts.amqp.username,
            password: opts.amqp.password,
            queue: opts.amqp.queue ?? "sv.hub.ingest",
            prefetch: opts.amqp.prefetch ?? 32,
            copyName: opts.amqp.copyName,
            logger: ctx.logger,
          }),
        }
      : {}),
  });
  await ingest.start(ctx);
  console.log("ready");
  const session = new Session();
  createInterface({ input: process.stdin }).on("line", (line) => {
    void (async () => {
      const [command, what, path] = line.split(" ");
      if (command === "status") console.log(`status ${JSON.stringify(ingest.status())}`);
      if (command !== "profile") return;
      if (what === "start") {
        session.connect();
        await session.post("Profiler.enable");
        await session.post("Profiler.setSamplingInterval", { interval: 200 });
        await session.post("Profiler.start");
        console.log("profiling");
      } else if (what === "stop" && path) {
        const { profile } = await session.post("Profiler.stop");
        writeFileSync(path, JSON.stringify(profile));
        session.disconnect();
        console.log("profiled");
      }
    })();
  });
  await new Promise((resolve) => process.stdin.once("end", resolve));
  await ingest.stop();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const configPath = process.argv[2];
  if (!configPath) {
    console.error("usage: ingest-process.ts <config.json>   (started by the benchmarks)");
    process.exit(2);
  }
  await runChild(configPath);
}
