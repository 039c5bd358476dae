import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Reading } from "@supervision/firmware-protocols";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { openBuffer } from "../buffer/index.ts";
import { loadOrCreateKeys } from "../identity/keys.ts";
import { Uplink } from "./index.ts";
import { startStandInHub } from "./testing/stand-in-hub.ts";

const logger = pino({ level: "silent" });
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const T0 = Date.UTC(2026, 10, 23, 1, 0);
const heartbeat = (seq: number): Reading => ({
  kind: "heartbeat",
  v: 1,
  deviceId: "kp-1",
  seq,
  ts: T0 + seq,
  rxTs: T0 + seq,
  intervalS: 30,
  uptimeS: seq,
});

async function waitFor(what: string, check: () => boolean, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("uplink failover across the nodes of a broker cluster (hub.failoverUrls)", () => {
  it("moves to the next node when its node goes, says it is online there, and loses no reading", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "uplink-failover-"));
    const { privateKey, publicKeyPem } = loadOrCreateKeys(dataDir);
    const first = await startStandInHub({ publicKeyPem, gatewayId: "gw-1" });
    const second = await startStandInHub({ publicKeyPem, gatewayId: "gw-1" });
    const buffer = openBuffer({ path: join(dataDir, "buffer.db"), capacityBytes: 256 * 1024 * 1024 });
    const uplink = new Uplink({
      outbox: buffer,
      hubUrl: first.url,
      failoverUrls: [second.url],
      gatewayId: "gw-1",
      privateKey,
      dataDir,
      logger,
      batchMaxReadings: 50,
      batchMaxWaitMs: 20,
    });
    let online = 0;
    uplink.onOnline(() => online++);
    cleanups.push(
      () => rmSync(dataDir, { recursive: true, force: true }),
      () => first.close(),
      () => second.close(),
      () => buffer.close(),
      () => uplink.stop(),
    );
    uplink.start();
    await waitFor("online at the first node", () => uplink.connected());
    expect(online).toBe(1);
    await Promise.all(Array.from({ length: 100 }, (_, i) => buffer.append(heartbeat(i + 1))));
    await waitFor("100 readings at the first node", () => first.readings().length === 100);

    await first.stop();
    await Promise.all(Array.from({ length: 100 }, (_, i) => buffer.append(heartbeat(i + 101))));
    await waitFor("online again, at the second node", () => second.readings().length > 0);
    expect(online).toBe(2);
    await waitFor("the buffer empty", () => buffer.stats().depth === 0);
    const seqs = new Set([...first.readings(), ...second.readings()].map((r) => r.seq));
    expect(seqs.size).toBe(200);
    expect(second.readings().every((r) => r.seq > 100 || first.readings().some((f) => f.seq === r.seq))).toBe(true);
  });
});
