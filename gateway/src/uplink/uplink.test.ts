import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type GatewayConfig, gatewayTopics, type Reading } from "@supervision/firmware-protocols";
import mqtt from "mqtt";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { type GatewayBuffer, openBuffer } from "../buffer/index.ts";
import { loadOrCreateKeys } from "../identity/keys.ts";
import { SealPriority } from "../devices/seal-priority.ts";
import { loadLastConfig, Uplink, type UplinkOptions } from "./index.ts";
import { startStandInHub } from "./testing/stand-in-hub.ts";

const logger = pino({ level: "silent" });
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const T0 = Date.UTC(2026, 10, 23, 1, 0);
const rating = (seq: number): Reading => ({
  kind: "rating",
  deviceId: "kp-1",
  seq,
  ts: T0 + seq,
  rxTs: T0 + seq,
  windowId: "w1",
  outcome: "rated",
  scale: "four",
  key: 1,
  level: "satisfied",
});

async function waitFor(what: string, check: () => boolean, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function setup(options: Partial<UplinkOptions> = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), "uplink-test-"));
  const { privateKey, publicKeyPem } = loadOrCreateKeys(dataDir);
  const hub = await startStandInHub({ publicKeyPem, gatewayId: "gw-1" });
  const buffer = openBuffer({ path: join(dataDir, "buffer.db"), capacityBytes: 256 * 1024 * 1024 });
  const make = () =>
    new Uplink({
      outbox: buffer,
      hubUrl: hub.url,
      gatewayId: "gw-1",
      privateKey,
      dataDir,
      logger,
      batchMaxReadings: 100,
      batchMaxWaitMs: 50,
      ...options,
    });
  const uplink = make();
  cleanups.push(
    () => rmSync(dataDir, { recursive: true, force: true }),
    () => hub.close(),
    () => buffer.close(),
    () => uplink.stop(),
  );
  return { dataDir, hub, buffer, uplink, make };
}

async function appendAll(buffer: GatewayBuffer, from: number, count: number) {
  await Promise.all(Array.from({ length: count }, (_, i) => buffer.append(rating(from + i))));
}

describe("uplink", () => {
  it("lets heartbeats and summaries wait for company, and seals them at once behind a rating", async () => {
    const priority = new SealPriority();
    // A low-priority wait no test would sit out: only an urgent reading gets the heartbeats sent.
    const { hub, buffer, uplink } = await setup({ priority, lowPriorityWaitMs: 60_000 });
    const sink = priority.sink(buffer);
    uplink.start();
    await waitFor("online", () => uplink.connected());
    const heartbeat = (seq: number): Reading => ({
      kind: "heartbeat",
      deviceId: "kp-1",
      seq,
      ts: T0 + seq,
      rxTs: T0 + seq,
      intervalS: 30,
      uptimeS: seq,
    });
    await Promise.all([1, 2, 3].map((seq) => sink.append(heartbeat(seq))));
    // The uplink has seen them (its wake-up after the commit) and set its long timer: nothing sealed.
    await new Promise((r) => setImmediate(r));
    expect(buffer.unbatchedCount()).toBe(3);
    expect(hub.readings()).toHaveLength(0);
    await sink.append(rating(4));
    await waitFor("all four at the hub", () => hub.readings().length === 4);
    expect(hub.batches()).toBe(1);
    expect(priority.urgentWaiting()).toBe(false);
  });

  it("sends batches by count and by time, several in flight, and deletes what the hub stored", async () => {
    const { hub, buffer, uplink } = await setup();
    uplink.start();
    await waitFor("online", () => uplink.connected());
    await appendAll(buffer, 0, 1050);
    await waitFor("1050 readings at the hub", () => hub.readings().length === 1050);
    expect(hub.batches()).toBeGreaterThanOrEqual(11); // 10 full batches by count, the rest by time
    expect(hub.chainBreaks()).toBe(0);
    await waitFor("an empty buffer", () => buffer.stats().depth === 0);
    expect(uplink.status()).toMatchObject({ state: "online", inFlight: 0, backlog: 0, rejected: 0 });
    expect(uplink.status().rttMs).toBeGreaterThan(0);
  });

  it("survives a buffer that cannot write (disk full): seals and records acks again once it can, losing and doubling nothing", async () => {
    const { hub, buffer, make } = await setup();
    const full = { seal: true, ack: false };
    const refused = { seal: 0, ack: 0 };
    // The real buffer, with sealing and acknowledging failing as SQLite does on a full disk.
    const outbox = Object.create(buffer) as GatewayBuffer;
    outbox.sealNext = (...args) => {
      if (full.seal && ++refused.seal) throw Object.assign(new Error("database or disk is full"), { code: "SQLITE_FULL" });
      return buffer.sealNext(...args);
    };
    outbox.acknowledge = (...args) => {
      if (full.ack && ++refused.ack) throw Object.assign(new Error("database or disk is full"), { code: "SQLITE_FULL" });
      return buffer.acknowledge(...args);
    };
    await appendAll(buffer, 0, 250);
    const uplink = make();
    cleanups.push(() => uplink.stop());
    (uplink as unknown as { opts: UplinkOptions }).opts.outbox = outbox;
    uplink.start();
    await waitFor("two refused seals (the first, and the retry a tick later)", () => refused.seal >= 2);
    expect(hub.readings()).toHaveLength(0);
    full.seal = false;
    await waitFor("250 readings at the hub", () => hub.readings().length === 250);
    await waitFor("an empty buffer", () => buffer.stats().depth === 0);
    // Acks that cannot be recorded: the batch stays and goes again; the hub sees a replay, never a new reading.
    full.ack = true;
    await appendAll(buffer, 250, 100);
    await waitFor("350 readings at the hub and a refused ack", () => hub.readings().length === 350 && refused.ack >= 1);
    expect(buffer.stats().depth).toBe(100);
    full.ack = false;
    await waitFor("an empty buffer", () => buffer.stats().depth === 0);
    expect(hub.readings().map((r) => r.seq)).toEqual(Array.from({ length: 350 }, (_, i) => i));
    expect(hub.duplicates()).toBe(0);
    expect(hub.chainBreaks()).toBe(0);
    expect(uplink.connected()).toBe(true);
  });

  it("keeps readings through a hub outage and drains them in order when it returns", async () => {
    const { hub, buffer, uplink } = await setup();
    uplink.start();
    await waitFor("online", () => uplink.connected());
    await hub.stop();
    await waitFor("offline", () => !uplink.connected());
    await appendAll(buffer, 0, 3000);
    await new Promise((r) => setTimeout(r, 300));
    expect(buffer.stats().depth).toBe(3000);
    await hub.restart();
    await waitFor("3000 readings at the hub", () => hub.readings().length === 3000, 40_000);
    expect(hub.readings().map((r) => r.seq)).toEqual(Array.from({ length: 3000 }, (_, i) => i));
    expect(hub.duplicates()).toBe(0);
    expect(hub.chainBreaks()).toBe(0);
    await waitFor("an empty buffer", () => buffer.stats().depth === 0);
  });

  it("deletes nothing on an MQTT PUBACK alone, and resends identical bytes after a restart", async () => {
    const { hub, buffer, uplink, make } = await setup({ ackTimeoutMs: 60_000 });
    hub.setAcking(false);
    uplink.start();
    await waitFor("online", () => uplink.connected());
    await appendAll(buffer, 0, 250);
    await waitFor("batches at the hub", () => hub.readings().length === 250);
    await new Promise((r) => setTimeout(r, 300));
    expect(buffer.stats().depth).toBe(250);
    const before = buffer.sealedBatches().map((b) => b.wire.toString("base64"));
    await uplink.stop();

    hub.setAcking(true);
    const again = make();
    cleanups.push(() => again.stop());
    again.start();
    await waitFor("an empty buffer", () => buffer.stats().depth === 0);
    expect(before.length).toBeGreaterThanOrEqual(3);
    expect(hub.batches()).toBe(before.length); // the same batches again, not new ones
    expect(hub.duplicates()).toBe(0);
    expect(hub.chainBreaks()).toBe(0);
  });

  it("sends an unanswered batch again, waiting twice as long each time, and stores it once when the hub answers", async () => {
    const { hub, buffer, uplink } = await setup({ ackTimeoutMs: 500 });
    hub.setAcking(false);
    uplink.start();
    await waitFor("online", () => uplink.connected());
    await appendAll(buffer, 0, 10);
    await waitFor("batch 1 sent four times", () => hub.arrivals(1).length >= 4, 30_000);
    const sendings = hub.arrivals(1);
    const gaps = sendings.slice(1, 4).map((at, i) => at - sendings[i]!);
    // At least 0.5, 1 and 2 s between sendings (a busy machine only makes them longer); without the doubling each would
    // be ~0.5-1 s. Measured at arrival, so a sending delivered a little faster than the one before shortens its gap by
    // that difference (a clean clone's run saw 1999 ms): DELIVERY_JITTER_MS is allowed for it.
    const DELIVERY_JITTER_MS = 50;
    expect(gaps[0]).toBeGreaterThanOrEqual(500 - DELIVERY_JITTER_MS);
    expect(gaps[1]).toBeGreaterThanOrEqual(1000 - DELIVERY_JITTER_MS);
    expect(gaps[2]).toBeGreaterThanOrEqual(2000 - DELIVERY_JITTER_MS);
    hub.setAcking(true);
    await waitFor("an empty buffer", () => buffer.stats().depth === 0, 30_000);
    expect(hub.readings()).toHaveLength(10);
    expect(hub.duplicates()).toBe(0);
  });

  it("ignores hostile acks and commands without deleting anything, and dead-letters a batch the hub calls malformed", async () => {
    const { hub, buffer, uplink } = await setup({ ackTimeoutMs: 60_000 });
    hub.setAcking(false);
    const commands: unknown[] = [];
    uplink.onCommand((cmd) => commands.push(cmd));
    uplink.start();
    await waitFor("online", () => uplink.connected());
    await appendAll(buffer, 0, 10);
    await waitFor("the batch at the hub", () => hub.readings().length === 10);
    const [batch] = buffer.sealedBatches();
    const foreign = await mqtt.connectAsync(hub.url, { reconnectPeriod: 0 });
    cleanups.push(() => foreign.endAsync());
    const ack = { v: 1, gatewayId: "gw-1", epoch: batch!.epoch, seq: batch!.seq, hash: batch!.hash, status: "stored" };
    for (const hostile of [
      "{not json",
      "x".repeat(2_000_000),
      JSON.stringify({ ...ack, gatewayId: "gw-2" }),
      JSON.stringify({ ...ack, hash: "0".repeat(64) }),
      JSON.stringify({ ...ack, seq: 999 }),
    ]) {
      await foreign.publishAsync(gatewayTopics.ack("gw-1"), hostile, { qos: 1 });
    }
    for (const hostile of ["{not json", JSON.stringify({ v: 1, type: "reboot-the-world" })]) {
      await foreign.publishAsync(gatewayTopics.command("gw-1"), hostile, { qos: 1 });
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(buffer.stats().depth).toBe(10);
    expect(commands).toEqual([]);
    expect(uplink.connected()).toBe(true);

    await foreign.publishAsync(
      gatewayTopics.ack("gw-1"),
      JSON.stringify({ ...ack, status: "rejected", code: "malformed", reason: "test" }),
      { qos: 1 },
    );
    await waitFor("the rejected batch to leave the outbox", () => buffer.stats().depth === 0);
    expect(uplink.status().rejected).toBe(1);
  });

  it("after an upgrade drains the v1 batches a buffer file holds as they were, then seals v2, then v3, as the hub's config lists them", async () => {
    const { hub, buffer, uplink, dataDir } = await setup();
    // The buffer file as the code before v2 leaves it: readings sealed into v1 batches (kept as the bytes around the
    // stored JSON), sent, never acknowledged.
    hub.setAcking(false);
    uplink.start();
    await waitFor("online", () => uplink.connected());
    await appendAll(buffer, 0, 150);
    await waitFor("two v1 batches at the hub", () => hub.batches() === 2);
    await uplink.stop();
    const sealed = buffer.sealedBatches();
    expect(sealed.map((b) => b.wire.subarray(0, 6).toString())).toEqual(['{"v":1', '{"v":1']);
    buffer.close();

    // Upgraded: the same file opened again, and a hub whose config for this gateway lists v2.
    hub.setAcking(true);
    const config: GatewayConfig = {
      v: 1,
      gatewayId: "gw-1",
      version: 7,
      site: { id: "hall-1", name: "Hall", kind: "hall", tz: "Asia/Shanghai" },
      devices: [{ id: "kp-1", kind: "keypad", windowId: "w1", heartbeatS: 60 }],
      windows: [{ id: "w1", name: "Window 1", departmentId: "tax" }],
      people: [],
      uplinkVersions: [1, 2],
    };
    await hub.publishConfig(config);
    const reopened = openBuffer({ path: join(dataDir, "buffer.db"), capacityBytes: 256 * 1024 * 1024 });
    const { privateKey } = loadOrCreateKeys(dataDir);
    const upgraded = new Uplink({
      outbox: reopened,
      hubUrl: hub.url,
      gatewayId: "gw-1",
      privateKey,
      dataDir,
      logger,
      batchMaxReadings: 100,
      batchMaxWaitMs: 50,
    });
    cleanups.push(
      () => reopened.close(),
      () => upgraded.stop(),
    );
    const applied: GatewayConfig[] = [];
    upgraded.onConfig((c) => applied.push(c));
    upgraded.start();
    await waitFor("the config listing v2", () => applied.length === 1);
    await appendAll(reopened, 150, 150);
    await waitFor("300 readings at the hub", () => hub.readings().length === 300);
    await waitFor("an empty buffer", () => reopened.stats().depth === 0);
    const versions = [...hub.versions()].sort(([a], [b]) => a - b).map(([, v]) => v);
    expect(versions.slice(0, 2)).toEqual([1, 1]);
    expect(versions.slice(2).length).toBeGreaterThanOrEqual(2);
    expect(new Set(versions.slice(2))).toEqual(new Set([2]));
    expect(hub.chainBreaks()).toBe(0);
    expect(hub.duplicates()).toBe(0);
    expect(hub.readings().map((r) => r.seq)).toEqual(Array.from({ length: 300 }, (_, i) => i));

    // Told v3 as well (PROTOCOL.md 4.3): the next batches are v3, signed over their SHA-256, on the same chain.
    await hub.publishConfig({ ...config, version: 8, uplinkVersions: [1, 2, 3] });
    await waitFor("the config listing v3", () => applied.length === 2);
    await appendAll(reopened, 300, 150);
    await waitFor("450 readings at the hub", () => hub.readings().length === 450);
    await waitFor("an empty buffer again", () => reopened.stats().depth === 0);
    const later = [...hub.versions()].sort(([a], [b]) => a - b).map(([, v]) => v);
    expect(later.slice(0, versions.length)).toEqual(versions);
    expect(later.length - versions.length).toBeGreaterThanOrEqual(2);
    expect(new Set(later.slice(versions.length))).toEqual(new Set([3]));
    expect(hub.chainBreaks()).toBe(0);
    expect(hub.duplicates()).toBe(0);
    expect(hub.readings().map((r) => r.seq)).toEqual(Array.from({ length: 450 }, (_, i) => i));
  });

  it("keeps the last good config on disk and ignores older, invalid and foreign ones", async () => {
    const { hub, uplink, dataDir } = await setup();
    const seen: GatewayConfig[] = [];
    uplink.onConfig((c) => seen.push(c));
    uplink.start();
    await waitFor("online", () => uplink.connected());
    const config: GatewayConfig = {
      v: 1,
      gatewayId: "gw-1",
      version: 5,
      site: { id: "hall-1", name: "Hall", kind: "hall", tz: "Asia/Shanghai" },
      devices: [{ id: "kp-1", kind: "keypad", windowId: "w1", heartbeatS: 60 }],
      windows: [{ id: "w1", name: "Window 1", departmentId: "tax" }],
      people: [],
    };
    await hub.publishConfig(config);
    await waitFor("the config", () => seen.length === 1);
    expect(loadLastConfig(dataDir)?.version).toBe(5);
    await hub.publishConfig({ ...config, version: 4 });
    await hub.publishConfig({ ...config, gatewayId: "gw-2", version: 9 });
    const hostile = await mqtt.connectAsync(hub.url);
    await hostile.publishAsync(gatewayTopics.config("gw-1"), "{not json");
    await hostile.publishAsync(gatewayTopics.config("gw-1"), JSON.stringify({ ...config, version: 6, devices: "all" }));
    await hostile.publishAsync(
      gatewayTopics.ack("gw-1"),
      JSON.stringify({ v: 1, gatewayId: "gw-1", epoch: "x", seq: 1, hash: "y", status: "stored" }),
    );
    await hostile.publishAsync(gatewayTopics.ack("gw-1"), Buffer.alloc(5 * 1024 * 1024, 0x7b));
    await hostile.publishAsync(gatewayTopics.command("gw-1"), JSON.stringify({ name: "rm -rf /" }));
    await hostile.endAsync();
    await new Promise((r) => setTimeout(r, 300));
    expect(seen.map((c) => c.version)).toEqual([5]);
    expect(uplink.connected()).toBe(true);
    // A corrupt file is no config, not a crash.
    writeFileSync(join(dataDir, "config.json"), "{half");
    expect(loadLastConfig(dataDir)).toBeUndefined();
  });
});

describe("gateway identity", () => {
  it("creates the key pair once, private to the gateway, and names the fix for a corrupt key", () => {
    const dir = mkdtempSync(join(tmpdir(), "keys-test-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const first = loadOrCreateKeys(join(dir, "data"));
    expect(first.publicKeyPem).toMatch(/BEGIN PUBLIC KEY/);
    expect(loadOrCreateKeys(join(dir, "data")).publicKeyPem).toBe(first.publicKeyPem);
    const file = join(dir, "data", "gateway-key.pem");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, "utf8")).toMatch(/BEGIN PRIVATE KEY/);
    writeFileSync(file, "garbage");
    expect(() => loadOrCreateKeys(join(dir, "data"))).toThrow(/gateway-key\.pem.*delete it to make a new one/);
  });
});
