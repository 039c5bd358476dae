import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import {
  GENESIS_HASH,
  generateGatewayKeys,
  loadPrivateKey,
  openBatch,
  loadPublicKey,
  Reading,
  signBatch,
  signSerializedBatch,
  sha256Hex,
} from "@supervision/firmware-protocols";
import Database from "better-sqlite3";
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
const countLines = (text: string, pattern: RegExp) => text.split("\n").filter((l) => pattern.test(l)).length;
/**
 * Waits until a child's output so far satisfies `progress` (the child reported enough work), polling: on a busy
 * machine a child may take seconds to start, so a fixed delay could kill it before it did anything.
 */
async function untilOutput(child: ChildProcess, output: () => string, progress: (out: string) => boolean, what: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!progress(output())) {
    if (child.exitCode !== null) throw new Error(`the child exited with ${child.exitCode} before ${what}`);
    if (Date.now() > deadline) throw new Error(`the child did not report ${what} within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
const keys = generateGatewayKeys();
const privateKey = loadPrivateKey(keys.privateKeyPem);
const sealer = (readingsJson: Buffer, head: { epoch: string; seq: number; hash: string }) =>
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
      all.push(...(JSON.parse(`[${json}]`) as Reading[]));
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
    const readings = opened.value.body.readings.map((r) => Reading.parse(r));
    expect(readings.map((r) => r.seq)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(signBatch({ ...head, readings }, privateKey).hash).toBe(batch.hash);
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
      // Killed at a random moment after the child acknowledged at least 200 appends.
      const target = 200 + Math.floor(Math.random() * 3000);
      await untilOutput(child, () => out, (o) => countLines(o, /^kp-\d+ \d+$/) >= target, `${target} acknowledged appends`);
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGKILL");
      await exited;
      const acknowledged = out.split("\n").filter((l) => /^kp-\d+ \d+$/.test(l));
      expect(acknowledged.length).toBeGreaterThan(100);
      const b = open(path);
      const stored = new Set(drainAll(b).map((r) => `${r.deviceId} ${r.seq}`));
      for (const line of acknowledged) expect(stored.has(line), line).toBe(true);
    }
  }, 240_000);
});

/** The body of a wire (everything before the last LF), whose SHA-256 is the batch hash. */
const bodyOf = (wire: Buffer) => wire.subarray(0, wire.lastIndexOf(0x0a));
const seqsOf = (wire: Buffer) => (JSON.parse(bodyOf(wire).toString()) as { readings: Reading[] }).readings.map((r) => r.seq);

describe("gateway buffer outbox: id ranges, rebuilt wires, delivered memory", () => {
  it("seals contiguous ranges across thinning gaps and never thins a sealed reading", async () => {
    const capacity = 256 * 1024;
    const path = tempPath();
    let b = open(path, capacity);
    // Alternate heartbeats and ratings, then seal two batches that contain heartbeats.
    let seq = 0;
    const appendMixed = async (n: number) => {
      const group = Array.from({ length: n }, () => seq++);
      await Promise.all(group.map((s) => b.append(s % 2 === 0 ? heartbeat(s) : rating(s))));
    };
    await appendMixed(200);
    const first = b.sealNext(50, 1 << 20, sealer)!;
    const second = b.sealNext(50, 1 << 20, sealer)!;
    expect(seqsOf(first.wire)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(seqsOf(second.wire)).toEqual(Array.from({ length: 50 }, (_, i) => 50 + i));
    // Fill past the thinning mark: only unsealed heartbeats (seq >= 100) may go.
    while (b.stats().thinned === 0) await appendMixed(100);
    const thinnedAt = seq;
    expect(b.stats().bytes).toBeLessThanOrEqual(capacity * 0.8 + 1000);
    const [s1, s2] = b.sealedBatches();
    expect(s1!.wire.equals(first.wire)).toBe(true);
    expect(s2!.wire.equals(second.wire)).toBe(true);
    // The next batch jumps over the thinned heartbeats: the oldest unsealed readings, in order, with gaps.
    const third = b.sealNext(100, 1 << 20, sealer)!;
    const thirdSeqs = seqsOf(third.wire);
    expect(thirdSeqs[0]).toBeGreaterThanOrEqual(100);
    expect(thirdSeqs).toEqual([...thirdSeqs].sort((x, y) => x - y));
    expect(thirdSeqs.some((s, i) => i > 0 && s - thirdSeqs[i - 1]! > 1)).toBe(true);
    b.close();
    opened.pop();

    b = open(path, capacity);
    expect(b.sealedBatches().map((s) => s.wire.toString("base64"))).toEqual([first, second, third].map((s) => s.wire.toString("base64")));
    const depth = b.stats().depth;
    const bytes = b.stats().bytes;
    b.acknowledge(third.epoch, third.seq);
    expect(b.stats().depth).toBe(depth - third.count);
    expect(b.stats().bytes).toBe(
      bytes - seqsOf(third.wire).reduce((n, s) => n + JSON.stringify(s % 2 === 0 ? heartbeat(s) : rating(s)).length, 0),
    );
    // What is left is every reading not yet sealed, none of the first two batches and none of the third.
    const rest = drainAll(b).map((r) => r.seq);
    expect(rest.every((s) => s > thirdSeqs[thirdSeqs.length - 1]! && s < thinnedAt)).toBe(true);
    expect(b.unbatchedCount()).toBe(0);
    b.acknowledge(first.epoch, first.seq);
    b.acknowledge(second.epoch, second.seq);
    expect(b.stats().depth).toBe(rest.length);
  });

  it("rejects one batch's range into the dead letters and leaves its neighbours whole", async () => {
    const b = open(tempPath());
    await Promise.all(Array.from({ length: 30 }, (_, i) => b.append(rating(i))));
    const batches = [b.sealNext(10, 1 << 20, sealer)!, b.sealNext(10, 1 << 20, sealer)!, b.sealNext(10, 1 << 20, sealer)!];
    b.reject(batches[1]!.epoch, batches[1]!.seq, "malformed: reading 3 has no windowId");
    b.reject(batches[1]!.epoch, batches[1]!.seq, "again"); // a repeated reject is harmless
    expect(b.stats().depth).toBe(20);
    const dead = b.deadLetters({ limit: 100 });
    expect(dead.map((d) => (JSON.parse(Buffer.from(d.payload).toString()) as Reading).seq).sort((x, y) => x - y)).toEqual(
      Array.from({ length: 10 }, (_, i) => 10 + i),
    );
    expect(dead[0]).toMatchObject({
      code: "hub_rejected",
      deviceId: "kp-1",
      source: `uplink batch ${batches[1]!.epoch}/2`,
      message: "malformed: reading 3 has no windowId",
    });
    expect(b.stats().deadLetters).toBe(10);
    expect(b.sealedBatches().map((s) => s.seq)).toEqual([1, 3]);
    expect(b.sealedBatches()[1]!.wire.equals(batches[2]!.wire)).toBe(true);
    // A resend of a rejected reading is refused like a delivered one; the neighbours still ack normally.
    expect(await b.append(rating(15))).toBe("duplicate");
    b.acknowledge(batches[0]!.epoch, 1);
    b.acknowledge(batches[2]!.epoch, 3);
    expect(b.stats()).toMatchObject({ depth: 0, bytes: 0, oldestTs: null });
  });

  it("rebuilds every sealed wire byte for byte after reopening, and keeps a wire it cannot rebuild as it was", async () => {
    const path = tempPath();
    let b = open(path);
    // Escapes, non-ASCII and astral characters exercise the JSON and UTF-8 round trip through SQLite.
    const odd = (seq: number): Reading => ({ ...rating(seq), windowId: `w"\\\n\u00e9\u4e2d\u{1f600}${seq}`, note: "\u2028\u0000" });
    await Promise.all(Array.from({ length: 120 }, (_, i) => b.append(i % 3 === 0 ? odd(i) : rating(i, `kp-${i % 4}`))));
    const sent = [b.sealNext(40, 1 << 20, sealer)!, b.sealNext(40, 1 << 20, sealer)!];
    // A seal that does not say where the readings sit (here: pretty-printed) is stored whole.
    const pretty = b.sealNext(40, 1 << 20, (json, head) => {
      const body = JSON.stringify({ v: 1, seq: head.seq + 1, readings: JSON.parse(`[${json}]`) as Reading[] }, null, 1);
      return { epoch: head.epoch, seq: head.seq + 1, hash: sha256Hex(Buffer.from(body)), wire: Buffer.from(`${body}\nsig`) };
    })!;
    sent.push(pretty);
    for (let reopen = 0; reopen < 2; reopen++) {
      b.close();
      opened.pop();
      b = open(path);
      const again = b.sealedBatches();
      expect(again.map((s) => [s.seq, s.hash, s.count, s.oldestTs])).toEqual(sent.map((s) => [s.seq, s.hash, s.count, s.oldestTs]));
      again.forEach((s, i) => expect(s.wire.equals(sent[i]!.wire), `batch ${s.seq}`).toBe(true));
    }
    for (const s of sent.slice(0, 2)) {
      expect(sha256Hex(bodyOf(s.wire))).toBe(s.hash);
      const checked = openBatch("gw-1", b.sealedBatches().find((x) => x.seq === s.seq)!.wire, () => loadPublicKey(keys.publicKeyPem));
      expect(checked.ok).toBe(true);
    }
  });

  it("keeps ids above the sealed mark after the buffer empties, so new readings are sealed too", async () => {
    const path = tempPath();
    let b = open(path);
    await Promise.all(Array.from({ length: 20 }, (_, i) => b.append(rating(i))));
    const one = b.sealNext(100, 1 << 20, sealer)!;
    b.acknowledge(one.epoch, one.seq);
    expect(b.stats().depth).toBe(0);
    b.close();
    opened.pop();
    b = open(path);
    await Promise.all(Array.from({ length: 5 }, (_, i) => b.append(rating(100 + i))));
    expect(b.unbatchedCount()).toBe(5);
    const two = b.sealNext(100, 1 << 20, sealer)!;
    expect(seqsOf(two.wire)).toEqual([100, 101, 102, 103, 104]);
    expect(JSON.parse(bodyOf(two.wire).toString()).prevHash).toBe(one.hash);
  });

  it("reports the oldest device time exactly as batches leave, whatever the order of device clocks", async () => {
    const b = open(tempPath());
    // Device clocks disagree: ts is not in arrival order, across several blocks of ids.
    const ts = Array.from({ length: 10_000 }, (_, i) => T0 + ((i * 7919) % 10_007));
    for (let i = 0; i < ts.length; i += 1000) await Promise.all(ts.slice(i, i + 1000).map((t, k) => b.append({ ...rating(i + k), ts: t })));
    const left = new Map(ts.map((t, i) => [i, t]));
    const oldest = () => Math.min(...left.values());
    expect(b.stats().oldestTs).toBe(oldest());
    for (;;) {
      const batch = b.sealNext(1500, 1 << 30, sealer);
      if (!batch) break;
      b.acknowledge(batch.epoch, batch.seq);
      for (const s of seqsOf(batch.wire)) left.delete(s);
      expect(b.stats().oldestTs).toBe(left.size === 0 ? null : oldest());
    }
    expect(b.stats().depth).toBe(0);
  });

  it("keeps refusing the last delivered readings as duplicates, across reopening and while an old batch waits", async () => {
    const memory = 1000;
    const path = tempPath();
    let b = openBuffer({ path, capacityBytes: 64 * 1024 * 1024, deliveredMemory: memory });
    opened.push(b);
    const append = (from: number, to: number) => Promise.all(Array.from({ length: to - from }, (_, i) => b.append(rating(from + i))));
    const deliverAll = () => {
      for (let batch = b.sealNext(300, 1 << 30, sealer); batch; batch = b.sealNext(300, 1 << 30, sealer))
        b.acknowledge(batch.epoch, batch.seq);
    };
    const duplicates = async (from: number, to: number) => (await append(from, to)).filter((r) => r === "duplicate").length;

    await append(0, 1200);
    deliverAll();
    expect(b.stats()).toMatchObject({ depth: 0, bytes: 0, oldestTs: null });
    expect(await duplicates(200, 1200)).toBe(1000); // the last 1000 delivered
    b.close();
    opened.pop();
    b = openBuffer({ path, capacityBytes: 64 * 1024 * 1024, deliveredMemory: memory });
    opened.push(b);
    expect(await duplicates(200, 1200)).toBe(1000);
    // Older than the memory: new again, and stored, so nothing is lost.
    expect(await duplicates(0, 200)).toBe(0);
    expect(b.stats().depth).toBe(200);

    // A batch the hub has not acknowledged holds the trim back: everything delivered after it is still refused.
    const waiting = b.sealNext(200, 1 << 30, sealer)!;
    await append(2000, 4000);
    deliverAll();
    expect(await duplicates(2000, 4000)).toBe(2000);
    expect(b.stats().depth).toBe(200);
    b.acknowledge(waiting.epoch, waiting.seq);
    expect(b.stats()).toMatchObject({ depth: 0, oldestTs: null });
    expect(await duplicates(3000, 4000)).toBe(1000);
  });

  it("opens a buffer file of the old schema (batch column, stored wires, delivered table) and carries on", async () => {
    const path = tempPath();
    const old = new Database(path);
    old.pragma("journal_mode = WAL");
    // The schema before PRAGMA user_version 1, as the gateway wrote it.
    old.exec(`
      CREATE TABLE readings (
        id INTEGER PRIMARY KEY, device TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL, ts INTEGER NOT NULL,
        bytes INTEGER NOT NULL, json TEXT NOT NULL, batch INTEGER, UNIQUE (device, seq, ts)
      );
      CREATE INDEX readings_unbatched ON readings (batch, id);
      CREATE TABLE batches (seq INTEGER PRIMARY KEY, epoch TEXT NOT NULL, hash TEXT NOT NULL, wire BLOB NOT NULL, count INTEGER NOT NULL, oldest_ts INTEGER NOT NULL);
      CREATE TABLE delivered (id INTEGER PRIMARY KEY, device TEXT NOT NULL, seq INTEGER NOT NULL, ts INTEGER NOT NULL, UNIQUE (device, seq, ts));
      CREATE TABLE dead_letters (id INTEGER PRIMARY KEY, rx_ts INTEGER NOT NULL, source TEXT NOT NULL, device TEXT, code TEXT NOT NULL, message TEXT NOT NULL, payload BLOB NOT NULL);
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
    `);
    const epoch = "0123456789abcdef";
    const insertReading = old.prepare(
      "INSERT INTO readings (id, device, seq, kind, ts, bytes, json, batch) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    );
    const insertBatch = old.prepare("INSERT INTO batches (seq, epoch, hash, wire, count, oldest_ts) VALUES (?, ?, ?, ?, ?, ?)");
    // Readings 1-5 were delivered (their batch deleted); 6-15 and 16-25 sealed (ids with a gap: an old thinning); 26-30 waiting.
    for (let s = 1; s <= 5; s++) old.prepare("INSERT INTO delivered (device, seq, ts) VALUES (?, ?, ?)").run("kp-1", s, T0 + s);
    let head = { epoch, seq: 0, hash: GENESIS_HASH };
    const oldWires: Buffer[] = [];
    const seal = (seqs: number[], batchSeq: number, idOf: (s: number) => number, tamper = false) => {
      const json = seqs.map((s) => JSON.stringify(rating(s)));
      seqs.forEach((s, i) => insertReading.run(idOf(s), "kp-1", s, "rating", T0 + s, json[i]!.length, json[i], batchSeq));
      // The second old batch was sealed from readings spelt otherwise than stored (as another writer might have):
      // its readings do not rebuild its wire, so the migration must keep the wire as stored.
      const signed = sealer(Buffer.from((tamper ? json.map((j) => j.replace("{", "{ ")) : json).join(",")), head);
      const wire = signed.wire;
      insertBatch.run(batchSeq, epoch, signed.hash, wire, seqs.length, T0 + seqs[0]!);
      oldWires.push(wire);
      head = { epoch, seq: batchSeq, hash: signed.hash };
    };
    seal(
      Array.from({ length: 10 }, (_, i) => 6 + i),
      1,
      (s) => s,
    );
    seal(
      Array.from({ length: 10 }, (_, i) => 16 + i),
      2,
      (s) => s + 3,
      true,
    );
    for (let s = 26; s <= 30; s++)
      insertReading.run(s + 10, "kp-1", s, "rating", T0 + s, JSON.stringify(rating(s)).length, JSON.stringify(rating(s)), null);
    for (const [key, value] of [
      ["epoch", epoch],
      ["head_seq", "2"],
      ["head_hash", head.hash],
    ])
      old.prepare("INSERT INTO meta (key, value) VALUES (?, ?)").run(key, value);
    old.prepare("INSERT INTO counters (name, value) VALUES ('thinned', 3)").run();
    old.close();

    let b = open(path);
    expect(b.chainHead()).toEqual(head);
    expect(b.stats()).toMatchObject({ depth: 25, thinned: 3, oldestTs: T0 + 6 });
    expect(b.unbatchedCount()).toBe(5);
    const sealed = b.sealedBatches();
    expect(sealed.map((s) => [s.seq, s.count])).toEqual([
      [1, 10],
      [2, 10],
    ]);
    sealed.forEach((s, i) => expect(s.wire.equals(oldWires[i]!)).toBe(true));
    expect(await b.append(rating(3))).toBe("duplicate"); // remembered from the old delivered table
    expect(await b.append(rating(20))).toBe("duplicate"); // still buffered
    b.close();
    opened.pop();

    const migrated = new Database(path, { readonly: true });
    expect(migrated.pragma("user_version", { simple: true })).toBe(1);
    const columns = (table: string) => (migrated.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name);
    expect(columns("readings")).not.toContain("batch");
    expect(migrated.prepare("SELECT count(*) FROM sqlite_master WHERE name IN ('delivered', 'readings_unbatched')").pluck().get()).toBe(0);
    // The batch whose readings rebuild its wire keeps no copy of it; the other keeps its stored wire.
    expect(migrated.prepare("SELECT seq, wire IS NULL FROM batches ORDER BY seq").raw().all()).toEqual([
      [1, 1],
      [2, 0],
    ]);
    migrated.close();

    b = open(path);
    b.acknowledge(epoch, 1);
    b.reject(epoch, 2, "malformed: test");
    expect(b.deadLetters({ limit: 100 })).toHaveLength(10);
    expect(await b.append(rating(10))).toBe("duplicate"); // delivered after the migration
    await b.append(rating(31));
    const next = b.sealNext(100, 1 << 20, sealer)!;
    expect(next.seq).toBe(3);
    expect(JSON.parse(bodyOf(next.wire).toString()).prevHash).toBe(head.hash);
    expect(seqsOf(next.wire)).toEqual([26, 27, 28, 29, 30, 31]);
    b.acknowledge(epoch, 3);
    expect(b.stats()).toMatchObject({ depth: 0, bytes: 0, oldestTs: null });
  });
});

describe("gateway buffer outbox under kill -9", () => {
  // The child seals and acknowledges as fast as it can while appending, printing what each committed call did.
  const child = (indexUrl: string, protocolsUrl: string, pem: string) => `
    import { openBuffer } from ${JSON.stringify(indexUrl)};
    import { loadPrivateKey, signSerializedBatch } from ${JSON.stringify(protocolsUrl)};
    const key = loadPrivateKey(${JSON.stringify(pem)});
    const b = openBuffer({ path: process.argv[2], capacityBytes: 1 << 30, deliveredMemory: 5000 });
    const t0 = ${T0};
    const out = (line) => process.stdout.write(line + "\\n");
    let seq = 0;
    for (;;) {
      const group = Array.from({ length: 50 + Math.floor(Math.random() * 200) }, () => seq++);
      await Promise.all(group.map((s) => b.append({ kind: "rating", deviceId: "kp-1", seq: s, ts: t0 + s, rxTs: t0 + s, windowId: "w1", outcome: "rated", scale: "four", key: 1, level: "satisfied" })));
      out("appended " + group[group.length - 1]);
      const batch = b.sealNext(1 + Math.floor(Math.random() * 300), 1 << 30, (json, head) =>
        signSerializedBatch({ v: 1, gatewayId: "gw-1", epoch: head.epoch, seq: head.seq + 1, prevHash: head.hash, createdAt: t0 }, json, key));
      if (batch) out("sealed " + batch.seq + " " + batch.hash);
      const sealed = b.sealedBatches();
      if (sealed.length > 3 || (sealed.length > 0 && Math.random() < 0.5)) {
        const s = sealed[Math.floor(Math.random() * sealed.length)];
        if (Math.random() < 0.9) b.acknowledge(s.epoch, s.seq);
        else b.reject(s.epoch, s.seq, "malformed");
        out("gone " + s.seq);
      }
    }
  `;

  it("never leaves a reading in two batches, a batch off the chain, or a resend that differs from the first send", async () => {
    const dir = mkdtempSync(join(tmpdir(), "buffer-crash-"));
    dirs.push(dir);
    const script = join(dir, "drainer.mjs");
    writeFileSync(
      script,
      child(
        pathToFileURL(join(import.meta.dirname, "index.ts")).href,
        import.meta.resolve("@supervision/firmware-protocols"),
        keys.privateKeyPem,
      ),
    );
    for (let round = 0; round < 3; round++) {
      const path = join(dir, `buffer-${round}.db`);
      const proc = spawn(process.execPath, ["--import", "tsx", script, path], { stdio: ["ignore", "pipe", "inherit"] });
      let out = "";
      proc.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString();
      });
      // Killed at a random moment after the child sealed at least 10 batches.
      const target = 10 + Math.floor(Math.random() * 40);
      await untilOutput(proc, () => out, (o) => countLines(o, /^sealed \d+ /) >= target, `${target} sealed batches`);
      const exited = new Promise((r) => proc.once("exit", r));
      proc.kill("SIGKILL");
      await exited;
      // The last line may be cut short by the kill.
      const lines = out.split("\n").slice(0, -1);
      const appendedUpTo = Math.max(...lines.filter((l) => l.startsWith("appended ")).map((l) => Number(l.split(" ")[1])));
      const sentHash = new Map(lines.filter((l) => l.startsWith("sealed ")).map((l) => [Number(l.split(" ")[1]), l.split(" ")[2]!]));
      const gone = new Set(lines.filter((l) => l.startsWith("gone ")).map((l) => Number(l.split(" ")[1])));
      expect(sentHash.size).toBeGreaterThan(5);

      const b = open(path);
      const head = b.chainHead();
      const sealed = b.sealedBatches();
      // The head is the newest sealed batch (printed or sealed just before the kill), and the rest link up to it.
      expect(head.seq).toBeGreaterThanOrEqual(Math.max(...sentHash.keys()));
      if (sealed.length > 0 && sealed[sealed.length - 1]!.seq === head.seq) expect(sealed[sealed.length - 1]!.hash).toBe(head.hash);
      const seen = new Set<number>();
      for (const s of sealed) {
        expect(gone.has(s.seq), `batch ${s.seq} was acknowledged`).toBe(false);
        // Byte-identical to what was sent: same hash over the rebuilt body, a valid signature.
        expect(sha256Hex(bodyOf(s.wire))).toBe(s.hash);
        if (sentHash.has(s.seq)) expect(s.hash).toBe(sentHash.get(s.seq));
        const checked = openBatch("gw-1", s.wire, () => loadPublicKey(keys.publicKeyPem));
        if (!checked.ok) throw new Error(checked.error.message);
        for (const r of checked.value.body.readings.map((raw) => Reading.parse(raw))) {
          expect(seen.has(r.seq), `reading ${r.seq} in two batches`).toBe(false);
          seen.add(r.seq);
        }
      }
      const unsealed = drainAll(b).map((r) => r.seq);
      for (const s of unsealed) {
        expect(seen.has(s), `reading ${s} sealed and waiting`).toBe(false);
        seen.add(s);
      }
      // Every acknowledged append is either still here or in a batch that left, and so remembered as delivered: the
      // newest 2000 readings are among the last 5000 delivered (at most 4 older batches of 300 linger in between).
      expect(b.stats().depth).toBe(seen.size);
      for (let s = Math.max(0, appendedUpTo - 2000); s <= appendedUpTo; s++) {
        if (!seen.has(s)) expect(await b.append(rating(s)), `reading ${s} lost`).toBe("duplicate");
      }
      b.close();
      opened.pop();
    }
  }, 240_000);
});
