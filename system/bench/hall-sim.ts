/**
 * One hall's hour as its gateway sends it, for `npm run bench -- summaries` (and any bench of many such halls): `devices` devices with a
 * heartbeat every `intervalS`, `outages` of them off for 7 minutes, through the real gateway buffer, presence tracker
 * (mode "summaries") and seal priority, batches sealed and signed as the uplink seals them. The clock is virtual: the
 * uplink's sealing timer (the first waiting reading waits batch.maxWaitMs, or lowPriorityWaitMs while only heartbeats
 * and summaries wait; then everything waiting is sealed) runs on it, so an hour takes seconds.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadPrivateKey, type Reading, signSerializedBatch } from "@supervision/firmware-protocols";
import { openBuffer, PresenceTracker, SealPriority } from "@supervision/gateway";

export const MAX_WAIT_MS = 200;
export const LOW_PRIORITY_WAIT_MS = 5000;

export interface HallOptions {
  mode: "every heartbeat" | "summaries";
  gatewayId: string;
  privateKeyPem: string;
  /** The simulated hour's start (device and gateway time), on a summary boundary. */
  t0: number;
  devices: number;
  intervalS: number;
  minutes: number;
  summaryS: number;
  outages: number;
  deviceId: (d: number) => string;
  /**
   * Other readings of the hall's devices (ratings, sign-ins, motion: e.g. generateDay's events that are not
   * heartbeats), appended at their time as the gateway appends them; each device's seq counts its heartbeats and these.
   */
  others?: { at: number; deviceId: string; kind: string; fields: Record<string, unknown> }[];
}

export interface HallHour {
  /** The batches in the order the uplink sends them, each with the virtual time it was sealed. */
  batches: { wire: Buffer; sealedAt: number; count: number }[];
  readings: number;
  reports: { online: number; offline: number; summary: number } | undefined;
}

/** A deterministic spread of heartbeat phases and outages (the same in both modes). */
function script(o: HallOptions) {
  const events: { t: number; device: number }[] = [];
  const end = o.t0 + o.minutes * 60_000;
  for (let d = 0; d < o.devices; d++) {
    const phase = Math.floor(((d * 7919) % 1000) * o.intervalS);
    const off = d < o.outages ? { from: o.t0 + ((d + 1) * o.minutes * 60_000) / (o.outages + 2), ms: 7 * 60_000 } : undefined;
    for (let t = o.t0 + phase; t < end; t += o.intervalS * 1000)
      if (!off || t < off.from || t >= off.from + off.ms) events.push({ t, device: d });
  }
  return events.sort((a, b) => a.t - b.t || a.device - b.device);
}

export async function simulateHall(o: HallOptions): Promise<HallHour> {
  const dir = mkdtempSync(join(tmpdir(), "bench-hall-"));
  const buffer = openBuffer({ path: join(dir, "buffer.db"), capacityBytes: 256 * 1024 * 1024 });
  const priority = new SealPriority();
  const sink = priority.sink(buffer);
  const clock = { t: o.t0 };
  const tracker =
    o.mode === "summaries" ? new PresenceTracker({ sink, dataDir: dir, summaryMs: o.summaryS * 1000, now: () => clock.t }) : undefined;
  tracker?.setDevices(
    Array.from({ length: o.devices }, (_, d) => ({ id: o.deviceId(d), kind: "keypad" as const, heartbeatS: o.intervalS })),
  );

  const key = loadPrivateKey(o.privateKeyPem);
  const batches: HallHour["batches"] = [];
  let readings = 0;
  const sealAll = () => {
    for (;;) {
      const sealed = buffer.sealNext(500, 4 * 1024 * 1024, (json: Buffer, head: { epoch: string; seq: number; hash: string }) =>
        signSerializedBatch(
          { v: 1, gatewayId: o.gatewayId, epoch: head.epoch, seq: head.seq + 1, prevHash: head.hash, createdAt: clock.t },
          json,
          key,
        ),
      );
      if (!sealed) break;
      readings += sealed.count;
      batches.push({ wire: sealed.wire, sealedAt: clock.t, count: sealed.count });
    }
    if (buffer.unbatchedCount() === 0) priority.sealed();
  };
  let sealAt: number | undefined;
  let sealLow = false;
  const noteAppends = () => {
    if (buffer.unbatchedCount() === 0) return;
    const urgent = o.mode === "summaries" ? priority.urgentWaiting() : true;
    if (sealAt !== undefined && urgent && sealLow) sealAt = Math.min(sealAt, clock.t + MAX_WAIT_MS);
    if (sealAt === undefined) {
      sealLow = !urgent;
      sealAt = clock.t + (urgent ? MAX_WAIT_MS : LOW_PRIORITY_WAIT_MS);
    }
  };
  const advanceTo = async (t: number) => {
    // Every second of gateway time the tracker's timer ticks; the seal timer fires when due.
    for (;;) {
      const nextTick = tracker ? (Math.floor(clock.t / 1000) + 1) * 1000 : Infinity;
      const next = Math.min(nextTick, sealAt ?? Infinity);
      if (next > t) break;
      clock.t = next;
      if (sealAt !== undefined && sealAt <= next) {
        sealAt = undefined;
        sealAll();
      }
      if (tracker && next === nextTick) {
        await tracker.tick();
        noteAppends();
      }
    }
    clock.t = t;
  };
  const seqs = new Map<string, number>();
  const nextSeq = (deviceId: string) => {
    const seq = (seqs.get(deviceId) ?? 0) + 1;
    seqs.set(deviceId, seq);
    return seq;
  };
  const others = (o.others ?? []).filter((e) => e.at >= o.t0 && e.at < o.t0 + o.minutes * 60_000).sort((a, b) => a.at - b.at);
  let other = 0;
  const appendOthersUntil = async (t: number) => {
    for (; other < others.length && others[other]!.at <= t; other++) {
      const e = others[other]!;
      await advanceTo(e.at);
      await sink.append({
        v: 1,
        kind: e.kind,
        deviceId: e.deviceId,
        seq: nextSeq(e.deviceId),
        ts: e.at,
        rxTs: e.at,
        ...e.fields,
      } as Reading);
      noteAppends();
    }
  };
  for (const e of script(o)) {
    await appendOthersUntil(e.t);
    await advanceTo(e.t);
    const seq = nextSeq(o.deviceId(e.device));
    const hb = {
      kind: "heartbeat",
      deviceId: o.deviceId(e.device),
      seq,
      ts: e.t,
      rxTs: e.t,
      intervalS: o.intervalS,
      uptimeS: seq * o.intervalS,
    } as Reading;
    if (tracker) await tracker.heartbeat(hb as Reading & { intervalS: number });
    else await sink.append(hb);
    noteAppends();
  }
  await appendOthersUntil(Infinity);
  // The hour's end: its last summaries, and whatever waits.
  await advanceTo(o.t0 + o.minutes * 60_000 + 1000);
  sealAll();
  const reports = tracker ? { ...tracker.made } : undefined;
  await tracker?.close();
  buffer.close();
  rmSync(dir, { recursive: true, force: true });
  return { batches, readings, reports };
}
