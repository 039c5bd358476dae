import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import type { GatewayDevice } from "@supervision/firmware-protocols";
import { assertInLoopbackNamespace, freePort, installLoopbackGuard } from "@supervision/test-support";
import pino from "pino";
import { Registry } from "prom-client";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { MemorySink } from "../testing/memory-sink.ts";
import { startHttpApi } from "../../http/server.ts";
import { OnvifAdapter } from "./index.ts";
import { Fmp4Segmenter } from "./live/fmp4.ts";
import { OnvifReplay } from "./testing/replay-server.ts";
import { type RtspSource, startRtspSource } from "./testing/rtsp-source.ts";
import { testSealing } from "./testing/secrets.ts";

// Live view against a real RTSP server (GStreamer, Digest auth) behind the ONVIF replay's stream URI, with the real
// ffmpeg: what the gateway streams, how its ffmpeg is supervised, and that nothing is left running.
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

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const PASSWORD = "rtsp-Pa55:w@rd";
const TOKEN = "live-view-token-0123456789";
const sealing = testSealing();
const gone = (pid: number) => !existsSync(`/proc/${pid}`);

async function setup() {
  const logLines: string[] = [];
  const logger = pino({ level: "info" }, new Writable({ write: (c, _e, cb) => (logLines.push(String(c)), cb()) }));
  const source: RtspSource = await startRtspSource({
    port: await freePort(),
    auth: { method: "digest", username: "admin", password: PASSWORD },
  });
  cleanups.push(() => source.stop());
  const replay = new OnvifReplay({ username: "admin", password: PASSWORD, pullHoldMs: 300, rtspPort: Number(new URL(source.url).port) });
  await replay.start();
  replays.push(replay);
  cleanups.push(() => replay.stop());
  const dir = mkdtempSync(join(tmpdir(), "onvif-live-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const device: GatewayDevice = {
    id: "cam-w01",
    kind: "camera",
    windowId: "w01",
    onvif: { url: replay.url, username: "admin", password: sealing.seal("cam-w01", PASSWORD) },
    heartbeatS: 60,
  };
  const adapter = new OnvifAdapter({
    devices: [device],
    logger,
    dataDir: dir,
    openSecret: sealing.open,
    backoffMs: 100,
    maxBackoffMs: 400,
    snapshots: false,
    live: { lingerMs: 200, backoffMs: 200, maxBackoffMs: 1000, maxViewers: 2 },
  });
  await adapter.start(new MemorySink());
  let stopped = false;
  const stopAdapter = async () => {
    if (!stopped) await adapter.stop();
    stopped = true;
  };
  cleanups.push(stopAdapter);
  const http = await startHttpApi({
    host: "127.0.0.1",
    port: 0,
    registry: new Registry(),
    token: TOKEN,
    probe: {
      brokerListening: () => true,
      bufferWritable: () => true,
      devices: () => [],
      details: () => ({}),
      deadLetters: () => [],
      adapterRoute: (p) => adapter.route(p),
    },
  });
  cleanups.push(() => http.close());
  const api = `http://127.0.0.1:${http.port}`;
  await waitFor("the camera's stream URI", () => adapter.link("cam-w01")?.rtspUrl() !== undefined);
  const status = async () =>
    (await (await fetch(`${api}/api/cameras/live`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as {
      deviceId: string;
      pid: number | null;
      viewers: number;
      starts: number;
      codec: string | null;
    }[];
  return { adapter, api, status, logLines, stopAdapter };
}

/** Opens the live stream and counts what arrives, as a viewer would. */
async function watch(api: string) {
  const controller = new AbortController();
  const response = await fetch(`${api}/api/cameras/live/cam-w01`, {
    headers: { authorization: `Bearer ${TOKEN}` },
    signal: controller.signal,
  });
  const seen = { status: response.status, type: response.headers.get("content-type"), inits: 0, segments: 0, ended: false };
  const segmenter = new Fmp4Segmenter();
  void (async () => {
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        for (const piece of segmenter.push(Buffer.from(chunk))) {
          if (piece.kind === "init") seen.inits += 1;
          else seen.segments += 1;
        }
      }
    } catch {
      // aborted by the test
    }
    seen.ended = true;
  })();
  return { seen, leave: () => controller.abort() };
}

describe("live view (loopback namespace, GStreamer RTSP source, real ffmpeg)", () => {
  it("refuses a viewer without the gateway's token", async () => {
    const { api, status } = await setup();
    const refused = await fetch(`${api}/api/cameras/live/cam-w01`);
    expect(refused.status).toBe(401);
    expect(
      (await fetch(`${api}/api/cameras/live/cam-w01`, { headers: { authorization: "Bearer wrong-token-0123456789abc" } })).status,
    ).toBe(401);
    expect((await fetch(`${api}/api/cameras/live/no-such-cam`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(404);
    expect(await status()).toEqual([]);
  });

  it("streams H.264 passed through; a killed ffmpeg is restarted and the same viewer gets the picture back; the last viewer leaving stops it", async () => {
    const { api, status, logLines } = await setup();
    const viewer = await watch(api);
    expect(viewer.seen).toMatchObject({ status: 200, type: "video/mp4" });
    await waitFor("segments", () => viewer.seen.inits === 1 && viewer.seen.segments >= 2);
    const [first] = await status();
    expect(first).toMatchObject({ deviceId: "cam-w01", viewers: 1, starts: 1, codec: expect.stringMatching(/^avc1\.42/) });
    const pid = first!.pid!;

    process.kill(pid, "SIGKILL");
    await waitFor("a new ffmpeg", async () => (await status())[0]!.starts === 2);
    const before = viewer.seen.segments;
    await waitFor("the picture back on the same stream", () => viewer.seen.inits === 2 && viewer.seen.segments >= before + 2);
    const second = (await status())[0]!;
    expect(second.pid).not.toBe(pid);
    expect(gone(pid)).toBe(true);

    // A second viewer shares the same ffmpeg; a third is one too many (maxViewers 2).
    const other = await watch(api);
    await waitFor("the second viewer's picture", () => other.seen.inits === 1 && other.seen.segments >= 1);
    expect((await status())[0]).toMatchObject({ viewers: 2, pid: second.pid, starts: 2 });
    expect((await fetch(`${api}/api/cameras/live/cam-w01`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(503);

    viewer.leave();
    other.leave();
    await waitFor("no ffmpeg after the last viewer", async () => (await status())[0]!.pid === null && gone(second.pid!));
    expect((await status())[0]!.viewers).toBe(0);
    const log = logLines.join("");
    expect(log).toContain("live view: ffmpeg exited; restarting");
    expect(log).not.toContain(PASSWORD);
    expect(log).not.toContain(encodeURIComponent(PASSWORD));
  });

  it("leaves no ffmpeg and no zombie when the gateway stops while someone watches", async () => {
    const { api, status, stopAdapter } = await setup();
    const viewer = await watch(api);
    await waitFor("segments", () => viewer.seen.segments >= 1);
    const pid = (await status())[0]!.pid!;
    await stopAdapter();
    // The process table has no entry for it: neither running nor a zombie waiting to be reaped.
    expect(gone(pid)).toBe(true);
    await waitFor("the viewer's stream ended", () => viewer.seen.ended);
  });
});
