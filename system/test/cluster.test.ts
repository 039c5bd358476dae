/**
 * Issue 17: three RabbitMQ nodes, two hub copies sharing one quorum queue over AMQP, three real gateways under load.
 * Mid-stream one hub copy is killed with kill -9, then one RabbitMQ node is stopped: every reading the gateways had
 * acknowledged is stored once and none twice, the copies shared the load within 60/40 while both ran, and a config
 * change still reaches the gateways after they moved to another node (retained messages do not cross nodes).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateGatewayKeys, type Reading } from "@supervision/firmware-protocols";
import { type GatewayProcess, parseSettings, runGateway } from "@supervision/gateway";
import { freePort, startInfluxd, type TestInfluxd } from "@supervision/test-support";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createIngestExtension, probeSharedSubscriptions } from "@supervision/hub";
import { testContext, testRegistry } from "@supervision/hub/testing";
import { planCluster, RabbitCluster } from "../cluster/rabbitmq.ts";

const ROOT = join(import.meta.dirname, "../..");
const dir = mkdtempSync(join(tmpdir(), "cluster-test-"));
const USER = { username: "sv", password: `pw-${Math.random().toString(36).slice(2)}` };
const GATEWAYS = ["gw-c1", "gw-c2", "gw-c3"];
const logger = pino({ level: process.env.LOG_LEVEL ?? "silent" });

let cluster: RabbitCluster | undefined;
let influx: TestInfluxd | undefined;
const hubs: { name: string; child: ChildProcess; httpPort: number; token: () => string; output: string[] }[] = [];
const gateways: GatewayProcess[] = [];

afterAll(async () => {
  await Promise.allSettled(gateways.map((g) => g.close()));
  for (const hub of hubs) if (hub.child.exitCode === null && hub.child.signalCode === null) hub.child.kill("SIGKILL");
  // Its data goes with the directory: no need for a graceful stop.
  cluster?.kill();
  await influx?.close();
  rmSync(dir, { recursive: true, force: true });
}, 180_000);

function registryYaml(keys: string[], windowName: string): string {
  const lines = [
    "regions: [{ id: r1, name: Region }]",
    "towns: [{ id: t1, name: Town, region: r1 }]",
    "departments: [{ id: tax, name: Tax }]",
  ];
  lines.push(
    "sites:",
    ...GATEWAYS.map((g, i) => `  - { id: hall-${i + 1}, kind: hall, name: Hall ${i + 1}, town: t1, tz: Asia/Shanghai, gateway: ${g} }`),
  );
  lines.push("windows:", ...GATEWAYS.map((_, i) => `  - { id: w${i + 1}, site: hall-${i + 1}, name: ${windowName}, department: tax }`));
  lines.push(
    "devices:",
    ...GATEWAYS.map((_, i) => `  - { id: kp-${i + 1}, kind: keypad, site: hall-${i + 1}, window: w${i + 1}, secret: kp-secret-${i + 1} }`),
  );
  lines.push("gateways:");
  GATEWAYS.forEach((g, i) => {
    lines.push(`  - id: ${g}`, `    site: hall-${i + 1}`, `    secret: lab-${g}`, "    publicKey: |");
    for (const l of keys[i]!.trim().split("\n")) lines.push(`      ${l}`);
  });
  return lines.join("\n") + "\n";
}

async function hubStatus(hub: (typeof hubs)[number]): Promise<{ ingest: Record<string, unknown>; config: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${hub.httpPort}/api/status`, { headers: { authorization: `Bearer ${hub.token()}` } });
  const body = (await res.json()) as { extensions: Record<string, { detail: Record<string, unknown> }> };
  return { ingest: body.extensions.ingest!.detail, config: body.extensions["config-publisher"]!.detail };
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  const ports = [];
  for (let i = 0; i < 3; i++) ports.push({ mqttPort: await freePort(), amqpPort: await freePort(), distPort: await freePort() });
  cluster = new RabbitCluster(planCluster(join(dir, "rabbit"), { epmdPort: await freePort(), nodes: ports }, USER));
  // influxd boots while the nodes do (one at a time: Erlang is slow to boot on two shared cores).
  [influx] = await Promise.all([startInfluxd(), cluster.up()]);
}, 400_000);

describe("hub copies on a RabbitMQ cluster (AMQP ingest)", () => {
  it("finds that RabbitMQ delivers nothing to $share, and a hub relying on it refuses to start, saying what to set", async () => {
    const url = `mqtt://127.0.0.1:${cluster!.layout.nodes[0]!.mqttPort}`;
    expect(await probeSharedSubscriptions({ brokerUrl: url, ...USER, shareGroup: "hub" })).toBe("not_delivered");
    const ingest = createIngestExtension({ brokerUrl: url, ...USER, shareGroup: "hub" });
    const ctx = testContext(testRegistry().registry, influx!.url);
    await expect(ingest.start(ctx)).rejects.toThrow(/delivers nothing to them.*broker\.transport: amqp/);
    await ingest.stop();
  });

  it(
    "loses and doubles nothing when a hub copy is killed and a node stops mid-stream; configs still arrive",
    { timeout: 400_000 },
    async () => {
      const layout = cluster!.layout;
      const mqttUrls = layout.nodes.map((n) => `mqtt://127.0.0.1:${n.mqttPort}`);
      const amqpUrls = layout.nodes.map((n) => `amqp://127.0.0.1:${n.amqpPort}`);

      // Gateway keys first: the registry names their public keys.
      const keys = GATEWAYS.map(() => generateGatewayKeys());
      const registryDir = join(dir, "registry");
      mkdirSync(registryDir);
      writeFileSync(
        join(registryDir, "cluster.yaml"),
        registryYaml(
          keys.map((k) => k.publicKeyPem),
          "Window",
        ),
      );

      // Two hub copies, each its own process (so one can be killed), sharing the audit key, InfluxDB and the queue.
      writeFileSync(join(dir, "audit.key"), `${"ab".repeat(32)}\n`, { mode: 0o600 });
      for (const name of ["copy-a", "copy-b"]) {
        const httpPort = await freePort();
        const dataDir = join(dir, name);
        const settings = join(dir, `${name}.yaml`);
        writeFileSync(
          settings,
          [
            `influx: { url: "${influx!.url}" }`,
            "broker:",
            `  url: ${mqttUrls[0]}`,
            `  username: ${USER.username}`,
            `  password: ${USER.password}`,
            "  transport: amqp",
            `  copyName: ${name}`,
            // Copy B starts on the node that will be stopped: its AMQP side must move to another node.
            `  amqp: { urls: [${(name === "copy-b" ? [amqpUrls[2], amqpUrls[0], amqpUrls[1]] : amqpUrls).join(", ")}], prefetch: 8 }`,
            `http: { port: ${httpPort} }`,
            `registry: { dir: ${registryDir} }`,
            `dataDir: ${dataDir}`,
            `audit: { keyFile: ${join(dir, "audit.key")}, intervalMinutes: 0 }`,
            "logLevel: warn",
          ].join("\n"),
        );
        const output: string[] = [];
        // node itself (not the tsx wrapper), so kill -9 reaches the hub and nothing else.
        const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "hub/src/cli/main.ts"), "start", "--settings", settings], {
          cwd: ROOT,
          stdio: ["ignore", "pipe", "pipe"],
        });
        child.stdout?.on("data", (d: Buffer) => output.push(d.toString()));
        child.stderr?.on("data", (d: Buffer) => output.push(d.toString()));
        const token = () =>
          (JSON.parse(readFileSync(join(dataDir, "secrets/api-tokens.json"), "utf8")) as { tokens: { token: string }[] }).tokens[0]!.token;
        hubs.push({ name, child, httpPort, token, output });
      }
      for (const hub of hubs)
        await waitFor(`${hub.name} healthy (output: ${hub.output.join("").slice(-2000)})`, async () => {
          const res = await fetch(`http://127.0.0.1:${hub.httpPort}/healthz`).catch(() => undefined);
          return res?.status === 200;
        });

      // Three gateways, each on another node first, the other two as failover. They start with no config: the hubs
      // published theirs before they were connected and RabbitMQ keeps no retained message for them here.
      for (const [i, gatewayId] of GATEWAYS.entries()) {
        const dataDir = join(dir, gatewayId);
        mkdirSync(dataDir, { recursive: true });
        writeFileSync(join(dataDir, "key.pem"), keys[i]!.privateKeyPem, { mode: 0o600 });
        const order = [0, 1, 2].map((k) => mqttUrls[(i + k) % 3]!);
        const settings = parseSettings(
          [
            `gatewayId: ${gatewayId}`,
            `dataDir: ${dataDir}`,
            `keyFile: ${join(dataDir, "key.pem")}`,
            `broker: { port: ${await freePort()} }`,
            `http: { port: ${await freePort()} }`,
            `hub: { url: "${order[0]}", failoverUrls: ["${order[1]}", "${order[2]}"], username: ${USER.username}, password: ${USER.password} }`,
            "batch: { maxReadings: 50, maxWaitMs: 50, maxInFlight: 4 }",
            "logLevel: warn",
          ].join("\n"),
        );
        gateways.push(await runGateway(settings, logger));
      }
      const firstVersion = await waitFor("every gateway's config, sent when it announced itself", () => {
        const versions = gateways.map((g) => g.gateway.status().configVersion);
        return versions.every((v) => v !== null) ? versions[0]! : undefined;
      });

      // Load: each gateway's buffer receives heartbeats as its devices would send them (appended durably, then sent),
      // 10 readings per gateway every 50 ms until the outages are over, so both happen mid-stream.
      let perGateway = 0;
      let stopLoad = false;
      const t0 = Date.now() - 120_000;
      const load = (async () => {
        // Stops at the first failed append (a gateway closed by a failing assertion): the test reports that failure.
        while (!stopLoad && gateways.every((g) => g.buffer.stats() !== undefined)) {
          const appends: Promise<unknown>[] = [];
          for (const [i, g] of gateways.entries())
            for (let k = perGateway + 1; k <= perGateway + 10; k++) {
              const reading = {
                kind: "heartbeat",
                v: 1,
                deviceId: `kp-${i + 1}`,
                seq: k,
                ts: t0 + k * 5,
                rxTs: t0 + k * 5 + 3,
                intervalS: 30,
                uptimeS: k,
              };
              appends.push(g.buffer.append(reading as Reading));
            }
          if ((await Promise.allSettled(appends)).some((r) => r.status === "rejected")) return;
          perGateway += 10;
          await new Promise((r) => setTimeout(r, 50));
        }
      })();

      // Batches each copy stored (a dead copy: its last count is gone with it, -1).
      const batches = async () =>
        Promise.all(hubs.map(async (h) => ((await hubStatus(h).catch(() => undefined))?.ingest.batchesStored as number | undefined) ?? -1));
      // Both copies take batches; their shares are read before either is harmed.
      const [a, b] = await waitFor("both copies running a while (40 batches stored)", async () => {
        const counts = await batches();
        return counts[0]! + counts[1]! >= 40 ? counts : undefined;
      });
      const share = a! / (a! + b!);
      expect(a! + b!).toBeGreaterThan(20);
      expect(share).toBeGreaterThanOrEqual(0.4);
      expect(share).toBeLessThanOrEqual(0.6);
      // What `hub status` shows on either copy: both copies with their share of the last minute (from reports every 5 s).
      const view = await waitFor("both copies in copy B's traffic view", async () => {
        const copies = (await hubStatus(hubs[1]!)).ingest.copies as Record<string, { lastMinute: number; share: number }>;
        return copies["copy-a"] && copies["copy-a"].lastMinute > 0 && copies["copy-b"]!.lastMinute > 0 ? copies : undefined;
      });
      expect(Object.keys(view).sort()).toEqual(["copy-a", "copy-b"]);
      expect(view["copy-a"]!.share + view["copy-b"]!.share).toBeCloseTo(1, 1);
      const total = view["copy-a"]!.lastMinute + view["copy-b"]!.lastMinute;
      expect(view["copy-a"]!.share).toBeCloseTo(view["copy-a"]!.lastMinute / total, 2);

      // kill -9 of copy A mid-stream: what it held unacknowledged goes back to the queue, copy B stores it.
      hubs[0]!.child.kill("SIGKILL");
      await waitFor("copy B storing after copy A died", async () => ((await batches())[1]! > b! + 5 ? true : undefined));

      // Stop the node gateway 3 and copy B's AMQP connection are on: both move to the others.
      const stopped = layout.nodes[2]!;
      cluster!.stopNode(stopped);
      const afterStop = (await batches())[1]!;
      await waitFor("copy B storing after the node stopped", async () => ((await batches())[1]! > afterStop + 10 ? true : undefined));
      stopLoad = true;
      await load;

      // A registry change after the move: the config goes through the exchange to the gateways' sessions, now on
      // another node (a retained config published on the stopped node would never reach them).
      writeFileSync(
        join(registryDir, "cluster.yaml"),
        registryYaml(
          keys.map((k) => k.publicKeyPem),
          "Window renamed",
        ),
      );
      await waitFor("the new config on every gateway", () =>
        gateways.every((g) => (g.gateway.status().configVersion ?? 0) > firstVersion) ? true : undefined,
      );

      await waitFor(
        "every gateway's backlog stored and acknowledged",
        () => (gateways.every((g) => g.buffer.stats().depth === 0 && g.uplink.status().inFlight === 0) ? true : undefined),
        120_000,
      );

      // Every reading once: one heartbeat point per (device, seq); none missing, none twice.
      for (const [i] of GATEWAYS.entries()) {
        const res = await influx!.query(`SELECT count("uptime_s") FROM "health"."heartbeat" WHERE "device" = 'kp-${i + 1}'`, "supervision");
        const count = res.results[0]?.series?.[0]?.values?.[0]?.[1];
        expect(count, `heartbeats of kp-${i + 1}`).toBe(perGateway);
      }
      const survivor = await hubStatus(hubs[1]!);
      expect(survivor.ingest.amqp).toBe("connected");
      expect(survivor.ingest.reconnects).toBeGreaterThanOrEqual(1);
      expect(survivor.ingest.node).not.toBe(`127.0.0.1:${stopped.amqpPort}`);
    },
  );
});
