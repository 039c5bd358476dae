import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  GENESIS_HASH,
  generateGatewayKeys,
  loadPrivateKey,
  openBatch,
  loadPublicKey,
  type Reading,
  signBatch,
  signSerializedBatch,
} from "@supervision/firmware-protocols";
import { afterEach, describe, expect, it } from "vitest";
import { BufferFullError, type GatewayBuffer, openBuffer } from "./index.ts";

const dirs: string[] = [];
const opened: GatewayBuffer[] = [];
afterEach(() => {
  for (const b of opened.splice(0)) b.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempPath() {
  const dir = mkdtempSync(join(tmpdir(), "buffer-test-"));
  dirs.push(dir);
  return join(dir, "buffer.db");
}
function open(path: string, capacityBytes = 64 * 1024 * 1024) {
  const b = openBuffer({ path, capacityBytes });
  opened.push(b);
  return b;
}
const T0 = Date.UTC(2026, 10, 23, 1, 0);
const rating = (seq: number, deviceId = "kp-1"): Reading => ({
  kind: "rating",
  deviceId,
  seq,
  ts: T0 + seq,
  rxTs: T0 + seq,
  windowId: "w1",
  outcome: "rated",
  scale: "four",
  key: 1,
  level: "satisfied",
});
const heartbeat = (seq: number): Reading => ({
  kind: "heartbeat",
  deviceId: "kp-1",
  seq,
  ts: T0 + seq,
  rxTs: T0 + seq,
  uptimeS: 1,
  intervalS: 60,
});
const keys = generateGatewayKeys();
const privateKey = loadPrivateKey(keys.privateKeyPem);
const sealer = (readingsJson: string[], head: { epoch: string; seq: number; hash: string }) =>
  signSerializedBatch(
    { v: 1, gatewayId: "gw-1", epoch: head.epoch, seq: head.seq + 1, prevHash: head.hash, createdAt: T0 },
    readingsJson,
    privateKey,
  );
/** Seals everything waiting and returns the readings in batch order. */
function drainAll(b: GatewayBuffer): Reading[] {
  const all: Reading[] = [];
  for (;;) {
    const batch = b.sealNext(10_000, 1 << 30, (json, head) => {
      all.push(...json.map((j) => JSON.parse(j) as Reading));
      return sealer(json, head);
    });
    if (!batch) return all;
  }
}

describe("gateway buffer", () => {
  it("commits concurrent appends in shared transactions and stores each reading once", async () => {
    const b = open(tempPath());
    const results = await Promise.all(Array.from({ length: 5000 }, (_, i) => b.append(rating(i))));
    expect(results.every((r) => r === "stored")).toBe(true);
    expect(await b.append(rating(42))).toBe("duplicate");
    expect(b.stats().depth).toBe(5000);
    // The same sequence number at another device time is another reading (a factory-reset device), not a duplicate.
    expect(await b.append({ ...rating(42), ts: T0 + 999_999 })).toBe("stored");
  });

  it("seals oldest first into a chain, survives reopening with identical bytes, and deletes only on acknowledgement", async () => {
    const path = tempPath();
    let b = open(path);
    await Promise.all(Array.from({ length: 250 }, (_, i) => b.append(rating(i))));
    const head0 = b.chainHead();
    expect(head0).toMatchObject({ seq: 0, hash: GENESIS_HASH });
    expect(head0.epoch).toMatch(/^[0-9a-f]{16}$/);
    const first = b.sealNext(100, 1 << 20, sealer)!;
    const second = b.sealNext(100, 1 << 20, sealer)!;
    expect([first.seq, second.seq, first.count]).toEqual([1, 2, 100]);
    expect(JSON.parse(second.wire.toString().split("\n")[0]!).prevHash).toBe(first.hash);
    expect(b.unbatchedCount()).toBe(50);
    b.close();
    opened.pop();

    b = open(path);
    const sealed = b.sealedBatches();
    expect(sealed.map((s) => s.seq)).toEqual([1, 2]);
    expect(sealed[0]!.wire.equals(first.wire)).toBe(true);
    expect(b.chainHead()).toMatchObject({ epoch: head0.epoch, seq: 2, hash: second.hash });
    expect(b.stats().depth).toBe(250);

    b.acknowledge(first.epoch, 1);
    b.acknowledge(first.epoch, 1); // a repeated ack is harmless
    b.acknowledge("ffffffffffffffff", 2); // an ack for another epoch deletes nothing
    expect(b.stats().depth).toBe(150);
    expect(await b.append(rating(5))).toBe("duplicate"); // delivered already
    const third = b.sealNext(1000, 1 << 20, sealer)!;
    expect(third.count).toBe(50);
    b.reject(third.epoch, third.seq, "malformed: test");
    expect(b.stats().depth).toBe(100);
    expect(b.deadLetters({ limit: 100 })).toHaveLength(50);
    expect(b.deadLetters({ limit: 1 })[0]).toMatchObject({ code: "hub_rejected", deviceId: "kp-1" });
  });

  it("seals the same bytes signBatch would write, which the hub opens", async () => {
    const b = open(tempPath());
    await Promise.all(Array.from({ length: 10 }, (_, i) => b.append(rating(i))));
    const batch = b.sealNext(100, 1 << 20, sealer)!;
    const head = { v: 1 as const, gatewayId: "gw-1", epoch: batch.epoch, seq: 1, prevHash: GENESIS_HASH, createdAt: T0 };
    const opened = openBatch("gw-1", batch.wire, () => loadPublicKey(keys.publicKeyPem));
    if (!opened.ok) throw new Error(opened.error.message);
    expect(opened.value.body.readings.map((r) => r.seq)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(signBatch({ ...head, readings: opened.value.body.readings }, privateKey).hash).toBe(batch.hash);
  });

  it("cuts batches by bytes as well as count", async () => {
    const b = open(tempPath());
    await Promise.all(Array.from({ length: 100 }, (_, i) => b.append(rating(i))));
    const one = JSON.stringify(rating(0)).length;
    expect(b.sealNext(100, one * 10, sealer)!.count).toBeLessThanOrEqual(10);
    expect(b.sealNext(100, 1, sealer)!.count).toBe(1); // at least one, however large
  });

  it("thins heartbeats first near the bound, never drops ratings, and refuses when only those remain", async () => {
    const capacity = 1024 * 1024;
    const b = open(tempPath(), capacity);
    let seq = 0;
    while (b.stats().bytes < capacity * 0.75) await Promise.all(Array.from({ length: 100 }, () => b.append(heartbeat(seq++))));
    const heartbeats = b.stats().depth;
    expect(b.stats().fillAlarm).toBe("warn");
    const ratings: number[] = [];
    let full: unknown;
    while (full === undefined) {
      const group = Array.from({ length: 100 }, () => seq++);
      const results = await Promise.allSettled(group.map((s) => b.append(rating(s))));
      results.forEach((r, i) => {
        if (r.status === "fulfilled") ratings.push(group[i]!);
        else full ??= r.reason;
      });
    }
    expect(full).toBeInstanceOf(BufferFullError);
    expect((full as BufferFullError).code).toBe("buffer_full");
    const stats = b.stats();
    expect(stats.thinned).toBe(heartbeats);
    expect(stats.fillAlarm).toBe("critical");
    expect(stats.depth).toBe(ratings.length);
    // Every rating is still there, in order.
    expect(drainAll(b).map((r) => r.seq)).toEqual(ratings);
  });

  it("keeps dead letters with their reasons, truncated and bounded", async () => {
    const b = open(tempPath());
    await b.deadLetter({
      rxTs: T0,
      source: "sv/v1/dev/kp-1/evt/rating",
      deviceId: "kp-1",
      code: "malformed_json",
      message: "not JSON",
      payload: new Uint8Array(200_000),
    });
    await b.deadLetter({
      rxTs: T0,
      source: "x",
      code: "bad_topic",
      message: "\u0000'; DROP TABLE readings; --",
      payload: Buffer.from("\u0000"),
    });
    const [last, first] = b.deadLetters({ limit: 10 });
    expect(last).toMatchObject({ code: "bad_topic", deviceId: undefined, message: "\u0000'; DROP TABLE readings; --" });
    expect(first!.payload.length).toBe(65_536);
    expect(b.stats().deadLetters).toBe(2);
  });

  it("keeps every append that resolved when the process is killed with -9 at a random moment", async () => {
    for (let round = 0; round < 3; round++) {
      const path = tempPath();
      const child = spawn(process.execPath, ["--import", "tsx", join(import.meta.dirname, "testing/crash-writer.ts"), path], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      let out = "";
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString();
      });
      await new Promise((r) => setTimeout(r, 1500 + Math.random() * 1500));
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGKILL");
      await exited;
      const acknowledged = out.split("\n").filter((l) => /^kp-\d+ \d+$/.test(l));
      expect(acknowledged.length).toBeGreaterThan(100);
      const b = open(path);
      const stored = new Set(drainAll(b).map((r) => `${r.deviceId} ${r.seq}`));
      for (const line of acknowledged) expect(stored.has(line), line).toBe(true);
    }
  });
});
