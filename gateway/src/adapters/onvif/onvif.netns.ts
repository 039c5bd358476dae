import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { GatewayDevice, Reading } from "@supervision/firmware-protocols";
import { assertInLoopbackNamespace, installLoopbackGuard } from "@supervision/test-support";
import pino from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { MemorySink } from "../testing/memory-sink.ts";
import { OnvifAdapter, type OnvifAdapterOptions } from "./index.ts";
import { OnvifReplay, type ReplayOptions } from "./testing/replay-server.ts";
import { testSealing } from "./testing/secrets.ts";

// Runs inside `unshare --net` (gateway/test/netns.test.ts): only loopback exists, and the guard fails the file on
// any connection attempt elsewhere.
assertInLoopbackNamespace();
const guard = installLoopbackGuard();
const replays: OnvifReplay[] = [];
afterAll(() => {
  guard.dispose();
  expect(guard.violations).toEqual([]);
  expect(replays.flatMap((r) => r.violations)).toEqual([]);
});

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function waitFor(what: string, check: () => boolean, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** An RTSP server that only answers OPTIONS: enough for the adapter's stream-reachable probe (live view tests use a real one). */
async function rtspOptionsResponder(): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((socket) => {
    socket.on("data", () => socket.end("RTSP/1.0 200 OK\r\nCSeq: 1\r\nPublic: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN\r\n\r\n"));
    socket.on("error", () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return { port: (server.address() as { port: number }).port, close: () => new Promise((r) => server.close(() => r())) };
}

const logger = pino({ level: process.env.LOG_LEVEL ?? "silent" });
// Passwords reach the gateway sealed to its key, as the hub sends them; the adapter opens them through the link context.
const sealing = testSealing();

async function setup(replayOpts: ReplayOptions = {}, adapterOpts: Partial<OnvifAdapterOptions> = {}, dataDir?: string) {
  const rtsp = await rtspOptionsResponder();
  cleanups.push(() => rtsp.close());
  const replay = new OnvifReplay({ username: "admin", password: "s3cret", rtspPort: rtsp.port, pullHoldMs: 300, ...replayOpts });
  await replay.start();
  replays.push(replay);
  cleanups.push(() => replay.stop());
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), "onvif-"));
  if (!dataDir) cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const device: GatewayDevice = {
    id: "cam-w01",
    kind: "camera",
    windowId: "w01",
    cameraId: "cam-w01",
    onvif: { url: replay.url, username: "admin", password: sealing.seal("cam-w01", "s3cret") },
    heartbeatS: 5,
  };
  const sink = new MemorySink();
  const start = async () => {
    const adapter = new OnvifAdapter({
      devices: [device],
      logger,
      dataDir: dir,
      openSecret: sealing.open,
      backoffMs: 100,
      maxBackoffMs: 400,
      quietMs: 60_000,
      ...adapterOpts,
    });
    await adapter.start(sink);
    cleanups.push(() => adapter.stop());
    return adapter;
  };
  const adapter = await start();
  const motion = () =>
    sink.readings.filter((r) => r.kind === "motion") as (Reading & { state: string; cameraId: string; source: string })[];
  return { replay, adapter, sink, motion, dir, start };
}

describe("ONVIF adapter against a replayed camera (loopback namespace)", () => {
  beforeAll(() => assertInLoopbackNamespace());

  it("turns each motion variant into start/end readings with the camera's identity and persistent sequence numbers", async () => {
    const { replay, adapter, sink, motion, start } = await setup();
    await waitFor(
      "the subscription",
      () => replay.count("events.CreatePullPointSubscription") === 1 && adapter.online().includes("cam-w01"),
    );
    // The camera's current state on subscribe, then changes in each variant cameras send.
    const script: Parameters<OnvifReplay["notify"]>[0][] = [
      { variant: "cell-ismotion", motion: true, operation: "Changed" },
      { variant: "cell-ismotion", motion: true, operation: "Changed" }, // re-sent state: no second start
      { variant: "cell-ismotion", motion: false, operation: "Changed" },
      { variant: "cell-value", motion: true },
      { variant: "cell-value", motion: false },
      { variant: "motion-alarm", motion: true, operation: "Changed" },
      { variant: "motion-alarm", motion: false, operation: "Changed" },
    ];
    for (const [i, spec] of script.entries()) {
      replay.notify(spec);
      const expected = [1, 1, 2, 3, 4, 5, 6][i]!;
      await waitFor(`motion reading ${expected}`, () => motion().length === expected);
    }
    const readings = motion();
    expect(readings.map((r) => r.state)).toEqual(["start", "end", "start", "end", "start", "end"]);
    for (const r of readings) expect(r).toMatchObject({ kind: "motion", deviceId: "cam-w01", cameraId: "cam-w01", source: "onvif" });
    const seqs = sink.readings.map((r) => r.seq);
    expect(new Set(seqs).size).toBe(seqs.length);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    // Times are the camera's (its clock agrees with ours here), never after the gateway received them.
    for (const r of readings) expect(r.ts).toBeLessThanOrEqual(r.rxTs as number);
    // The camera demanded credentials; the adapter sent them (WS-Security digest) and was never refused.
    expect(replay.authFailures).toBe(0);

    // A restarted gateway goes on numbering above every number it used.
    const lastSeq = Math.max(...seqs);
    await adapter.stop();
    const again = await start();
    await waitFor("the new subscription", () => replay.count("events.CreatePullPointSubscription") === 2);
    replay.notify({ variant: "cell-ismotion", motion: true });
    await waitFor("a reading after the restart", () => motion().length === 7);
    expect(motion()[6]!.seq).toBeGreaterThan(lastSeq);
    await again.stop();
  });

  it("renews the subscription before it expires instead of resubscribing", async () => {
    const { replay, motion } = await setup({ terminationMs: 1500 }, { renewBeforeMs: 1000 });
    await waitFor("three renewals", () => replay.count("events.Renew") >= 3);
    expect(replay.count("events.CreatePullPointSubscription")).toBe(1);
    replay.notify({ variant: "cell-ismotion", motion: true });
    await waitFor("motion through the renewed subscription", () => motion().length === 1);
  });

  it("takes the camera's Initialized state on subscribe and resubscribes after a dropped connection without a second start", async () => {
    const { replay, motion } = await setup();
    replay.notify({ variant: "cell-ismotion", motion: true, operation: "Initialized" }); // queued for the first subscription
    await waitFor("the initial state as a start", () => motion().length === 1);
    const pullsBefore = replay.count("events.PullMessages");
    replay.dropConnections(); // resets the held PullMessages
    await waitFor("pulling again", () => replay.count("events.PullMessages") > pullsBefore + 1);
    replay.notify({ variant: "cell-ismotion", motion: true, operation: "Changed" });
    replay.notify({ variant: "cell-ismotion", motion: false, operation: "Changed" });
    await waitFor("the end", () => motion().length === 2);
    expect(motion().map((r) => r.state)).toEqual(["start", "end"]);
  });

  it("a camera that loses power turns unhealthy (no heartbeats, not online) and comes back with a new subscription", async () => {
    const { replay, adapter, sink, motion } = await setup();
    await waitFor("healthy with a heartbeat", () => adapter.online().length === 1 && sink.readings.some((r) => r.kind === "heartbeat"));
    const beat = sink.readings.find((r) => r.kind === "heartbeat")!;
    expect(beat).toMatchObject({ deviceId: "cam-w01", intervalS: 5 });
    await replay.stop();
    await waitFor("unhealthy", () => adapter.online().length === 0);
    const health = adapter.cameras()[0]!;
    expect(health.subscribed).toBe(false);
    expect(health.lastError).toMatch(/ECONNREFUSED|ECONNRESET|hang up/);
    const beatsWhileDown = sink.readings.filter((r) => r.kind === "heartbeat").length;
    await replay.restart();
    await waitFor("healthy again", () => adapter.online().length === 1);
    expect(replay.count("events.CreatePullPointSubscription")).toBeGreaterThanOrEqual(2);
    await waitFor("a heartbeat after recovery", () => sink.readings.filter((r) => r.kind === "heartbeat").length > beatsWhileDown);
    replay.notify({ variant: "motion-alarm", motion: true });
    await waitFor("motion after recovery", () => motion().length === 1);
  });

  it("ends the episode of a camera that never says stop after the quiet time", async () => {
    const { replay, motion } = await setup({}, { quietMs: 800 });
    await waitFor("the subscription", () => replay.count("events.CreatePullPointSubscription") === 1);
    replay.notify({ variant: "cell-ismotion", motion: true });
    await waitFor("start", () => motion().length === 1);
    await waitFor("the quiet-time end", () => motion().length === 2);
    const [s, e] = motion();
    expect(e!.state).toBe("end");
    expect(e!.ts - s!.ts).toBeGreaterThanOrEqual(800);
  });

  it("a password that does not open (sealed to another gateway, or for another camera) keeps the camera down with the reason, never the secret", async () => {
    const replay = new OnvifReplay({ username: "admin", password: "s3cret" });
    await replay.start();
    replays.push(replay);
    cleanups.push(() => replay.stop());
    const dir = mkdtempSync(join(tmpdir(), "onvif-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const other = testSealing("gw-other");
    const adapter = new OnvifAdapter({
      devices: [
        {
          id: "cam-w03",
          kind: "camera",
          onvif: { url: replay.url, username: "admin", password: other.seal("cam-w03", "s3cret") },
          heartbeatS: 60,
        },
        {
          id: "cam-w04",
          kind: "camera",
          onvif: { url: replay.url, username: "admin", password: sealing.seal("cam-w03", "s3cret") },
          heartbeatS: 60,
        },
      ],
      logger,
      dataDir: dir,
      openSecret: sealing.open,
    });
    await adapter.start(new MemorySink());
    cleanups.push(() => adapter.stop());
    const health = adapter.cameras();
    for (const h of health) {
      expect(h.lastError).toMatch(/camera password: .*does not open/);
      expect(h.lastError).not.toContain("s3cret");
    }
    expect(adapter.health()).toMatchObject({ ok: false, problem: expect.stringContaining("cam-w03: camera password") });
    expect(replay.count("device.GetSystemDateAndTime")).toBe(0);
  });

  it("wrong credentials: no subscription, the reason in the camera's health, and nothing committed", async () => {
    const replay = new OnvifReplay({ username: "admin", password: "right" });
    await replay.start();
    replays.push(replay);
    cleanups.push(() => replay.stop());
    const dir = mkdtempSync(join(tmpdir(), "onvif-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const sink = new MemorySink();
    const adapter = new OnvifAdapter({
      devices: [
        {
          id: "cam-w02",
          kind: "camera",
          onvif: { url: replay.url, username: "admin", password: sealing.seal("cam-w02", "wrong") },
          heartbeatS: 60,
        },
      ],
      logger,
      openSecret: sealing.open,
      dataDir: dir,
      backoffMs: 100,
      maxBackoffMs: 200,
    });
    await adapter.start(sink);
    cleanups.push(() => adapter.stop());
    await waitFor("a refusal", () => replay.authFailures > 0 && adapter.cameras()[0]!.lastError !== null);
    expect(adapter.cameras()[0]!.lastError).toMatch(/not authori[sz]ed/i);
    expect(adapter.online()).toEqual([]);
    expect(sink.readings).toEqual([]);
  });
});
