import { type KeyObject, randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type BatchAck,
  type BatchBodyV2,
  GENESIS_HASH,
  gatewayTopics,
  generateGatewayKeys,
  hashSecret,
  loadPrivateKey,
  type Reading,
  readingRow,
  type SignedBatch,
  signBatch,
} from "@supervision/firmware-protocols";
import type { TestInfluxd } from "@supervision/test-support";
import { InfluxDB } from "influx";
import mqtt, { type MqttClient } from "mqtt";
import pino from "pino";
import { Registry as MetricsRegistry } from "prom-client";
import type { HubContext, HubEvents, RegistryView } from "../src/controller/extension.ts";
import { createLineWriter } from "../src/influx/line-writer.ts";
import type { Registry } from "../src/registry/schema.ts";

/** A small registry built in code: one hall with two windows, one gateway, a keypad, a terminal, a camera. */
export function testRegistry(): { registry: Registry; privateKeyPem: string; gatewaySecret: string } {
  const keys = generateGatewayKeys();
  const gatewaySecret = "gw-secret-1";
  const registry: Registry = {
    version: 1,
    regions: new Map([["r1", { id: "r1", name: "Region" }]]),
    towns: new Map([["t1", { id: "t1", name: "Town", region: "r1" }]]),
    departments: new Map([["tax", { id: "tax", name: "Tax" }]]),
    sites: new Map([["hall1", { id: "hall1", kind: "hall", name: "Hall", town: "t1", tz: "Asia/Shanghai", gateway: "gw1" }]]),
    windows: new Map([["w1", { id: "w1", site: "hall1", name: "Window 1", department: "tax", unattendedAfterMinutes: 30 }]]),
    people: new Map([["p1", { id: "p1", name: "Clerk", role: "clerk", post: "", site: "hall1", window: "w1", roster: "day" }]]),
    rosters: new Map(),
    gateways: new Map([["gw1", { id: "gw1", site: "hall1", publicKey: keys.publicKeyPem, secretHash: hashSecret(gatewaySecret) }]]),
    devices: new Map([
      ["kp1", { id: "kp1", kind: "keypad", site: "hall1", window: "w1", heartbeatS: 60, scale: "four" }],
      ["term1", { id: "term1", kind: "terminal", site: "hall1", heartbeatS: 60, scale: "four" }],
      ["cam1", { id: "cam1", kind: "camera", site: "hall1", window: "w1", cameraId: "cam1", heartbeatS: 60, scale: "four" }],
    ]),
  };
  return { registry, privateKeyPem: keys.privateKeyPem, gatewaySecret };
}

export function staticRegistryView(registry: Registry): RegistryView {
  return { current: () => registry, onChange: () => () => {} };
}

export function rating(seq: number, ts: number, extra: Partial<Record<string, unknown>> = {}): Reading {
  return {
    kind: "rating",
    v: 1,
    deviceId: "kp1",
    seq,
    ts,
    rxTs: ts + 5,
    windowId: "w1",
    clerkId: "p1",
    outcome: "rated",
    scale: "four",
    key: 1,
    level: "very_satisfied",
    ...extra,
  } as Reading;
}

export function testContext(registry: Registry, influxUrl: string, database = "supervision"): HubContext {
  return {
    logger: pino({ level: process.env.LOG_LEVEL ?? "silent" }),
    influx: new InfluxDB(`${influxUrl}/${database}`),
    writeLines: createLineWriter({ url: influxUrl, database }),
    database,
    registry: staticRegistryView(registry),
    metrics: new MetricsRegistry(),
    http: { add: () => {} },
    events: new EventEmitter<HubEvents>(),
    now: () => Date.now(),
    dataDir: mkdtempSync(join(tmpdir(), "ingest-test-")),
  };
}

export { startMosquitto } from "@supervision/test-support";

/** A stand-in gateway: signs batches of a chain, publishes them, and waits for the hub's acks. */
export class TestGateway {
  readonly acks: BatchAck[] = [];
  /** untilAcks() callers: each wakes when that many acks arrived. */
  private ackWaiters: Array<{ count: number; wake(): void }> = [];
  private prevHash = GENESIS_HASH;
  private seq = 0;
  readonly epoch: string;

  private constructor(
    readonly client: MqttClient,
    readonly gatewayId: string,
    private readonly key: KeyObject,
  ) {
    this.epoch = randomBytes(8).toString("hex");
    client.on("message", (_t, payload) => {
      this.acks.push(JSON.parse(payload.toString()) as BatchAck);
      if (this.ackWaiters.length === 0) return;
      const due = this.ackWaiters.filter((w) => w.count <= this.acks.length);
      this.ackWaiters = this.ackWaiters.filter((w) => w.count > this.acks.length);
      for (const w of due) w.wake();
    });
  }

  static async connect(url: string, gatewayId: string, privateKeyPem: string, auth: { username?: string; password?: string } = {}) {
    const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, ...auth });
    await client.subscribeAsync(gatewayTopics.ack(gatewayId), { qos: 1 });
    return new TestGateway(client, gatewayId, loadPrivateKey(privateKeyPem));
  }

  /** The next batch of the chain (not yet sent). */
  next(readings: Reading[], createdAt = Date.now()): SignedBatch {
    this.seq++;
    const batch = signBatch(
      { v: 1, gatewayId: this.gatewayId, epoch: this.epoch, seq: this.seq, prevHash: this.prevHash, createdAt, readings },
      this.key,
    );
    this.prevHash = batch.hash;
    return batch;
  }

  /**
   * The next batch of the chain as an uplink v2 body (PROTOCOL.md 4.2): `readings` as rows of layout 1 (a reading
   * layout 1 cannot carry throws), or `rows` given as they are, hostile ones included. `v` and `layout` may be
   * overridden to send what no gateway would.
   */
  nextV2(
    items: { readings?: Reading[]; rows?: unknown[] },
    createdAt = Date.now(),
    override: { v?: unknown; layout?: unknown } = {},
  ): { body: { seq: number }; hash: string; wire: Buffer } {
    this.seq++;
    const rows =
      items.rows ??
      (items.readings ?? []).map((r) => {
        const row = readingRow(r);
        if (!row) throw new Error(`layout 1 cannot carry ${JSON.stringify(r)}`);
        return row;
      });
    const body = {
      v: 2 as const,
      gatewayId: this.gatewayId,
      epoch: this.epoch,
      seq: this.seq,
      prevHash: this.prevHash,
      createdAt,
      layout: 1 as const,
      readings: rows as unknown[][],
      ...override,
    } as BatchBodyV2;
    const batch = signBatch(body, this.key);
    this.prevHash = batch.hash;
    return batch;
  }

  async send(wire: Buffer, topicGateway = this.gatewayId): Promise<void> {
    await this.client.publishAsync(gatewayTopics.batch(topicGateway), wire, { qos: 1 });
  }

  /**
   * Resolves once `count` acks arrived in all, woken by the ack itself: a load generator polling on a timer spends
   * CPU the bench then counts against the machine it shares with the hub.
   */
  untilAcks(count: number): Promise<void> {
    if (this.acks.length >= count) return Promise.resolve();
    return new Promise((wake) => this.ackWaiters.push({ count, wake }));
  }

  async waitForAck(match: (ack: BatchAck) => boolean, timeoutMs = 20_000): Promise<BatchAck> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const found = this.acks.find(match);
      if (found) return found;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`no matching ack within ${timeoutMs} ms; acks so far: ${JSON.stringify(this.acks.slice(-5))}`);
  }

  close(): Promise<void> {
    return this.client.endAsync();
  }
}

export async function waitFor<T>(probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000, what = "condition"): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Every point of every measurement in every policy, in a stable order: two dumps are equal iff the data is. */
export async function dumpDatabase(influx: TestInfluxd, database: string): Promise<string> {
  const out: string[] = [];
  for (const rp of ["raw", "health", "chain"]) {
    const res = await influx.query(`SELECT * FROM "${rp}"./.*/ GROUP BY *`, database);
    for (const s of res.results[0]?.series ?? []) out.push(JSON.stringify([rp, s.name, s.tags, s.columns, s.values]));
  }
  return out.sort().join("\n");
}
