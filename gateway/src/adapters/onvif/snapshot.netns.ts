import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { GatewayDevice, Reading } from "@supervision/firmware-protocols";
import { assertInLoopbackNamespace, installLoopbackGuard } from "@supervision/test-support";
import pino from "pino";
import { Registry } from "prom-client";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { MemorySink } from "../testing/memory-sink.ts";
import { startHttpApi } from "../../http/server.ts";
import { OnvifAdapter } from "./index.ts";
import { sha256Hex } from "./snapshot.ts";
import { OnvifReplay, type ReplayOptions } from "./testing/replay-server.ts";
import { testSealing } from "./testing/secrets.ts";

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

const logger = pino({ level: process.env.LOG_LEVEL ?? "silent" });
const JPEG = readFileSync(new URL("./testing/fixtures/snapshot.jpg", import.meta.url));
const TOKEN = "evidence-token-0123456789";
const sealing = testSealing();

async function setup(replayOpts: ReplayOptions, password = "s3cret") {
  const replay = new OnvifReplay({ username: "admin", password: "s3cret", pullHoldMs: 300, ...replayOpts });
  await replay.start();
  replays.push(replay);
  cleanups.push(() => replay.stop());
  const dir = mkdtempSync(join(tmpdir(), "onvif-snap-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const device: GatewayDevice = {
    id: "cam-w01",
    kind: "camera",
    windowId: "w01",
    onvif: { url: replay.url, username: "admin", password: sealing.seal("cam-w01", password) },
    heartbeatS: 60,
  };
  const sink = new MemorySink();
  const adapter = new OnvifAdapter({
    devices: [device],
    logger,
    dataDir: dir,
    openSecret: sealing.open,
    backoffMs: 100,
    maxBackoffMs: 400,
  });
  await adapter.start(sink);
  cleanups.push(() => adapter.stop());
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
  const motion = () => sink.readings.filter((r) => r.kind === "motion") as (Reading & { state: string; snapshotSha256?: string })[];
  return { replay, adapter, motion, dir, api: `http://127.0.0.1:${http.port}` };
}

describe("snapshots as evidence (loopback namespace)", () => {
  it("takes a snapshot with Digest auth at motion start and end, puts its SHA-256 in the reading, serves it checked", async () => {
    const { replay, motion, dir, api } = await setup({ snapshotAuth: "digest" });
    // Wrong credentials would have left the subscription down: with none, the replay's WS-Security check refuses.
    await waitFor("the subscription", () => replay.count("events.CreatePullPointSubscription") === 1);
    replay.notify({ variant: "cell-ismotion", motion: true });
    replay.notify({ variant: "cell-ismotion", motion: false });
    await waitFor("start and end", () => motion().length === 2);
    const sha = sha256Hex(JPEG);
    expect(motion().map((r) => [r.state, r.snapshotSha256])).toEqual([
      ["start", sha],
      ["end", sha],
    ]);
    // Each fetch met a Digest challenge first, then passed.
    expect(replay.count("snapshot")).toBe(4);
    expect(replay.snapshotChallenges).toBe(2);
    expect(replay.authFailures).toBe(0);

    expect((await fetch(`${api}/api/cameras/snapshots/${sha}`)).status).toBe(401);
    const auth = { headers: { authorization: `Bearer ${TOKEN}` } };
    const ok = await fetch(`${api}/api/cameras/snapshots/${sha}`, auth);
    expect(ok.status).toBe(200);
    expect(ok.headers.get("content-type")).toBe("image/jpeg");
    expect(ok.headers.get("x-snapshot-check")).toBe("ok");
    expect(sha256Hex(Buffer.from(await ok.arrayBuffer()))).toBe(sha);
    const list = (await (await fetch(`${api}/api/cameras/snapshots`, auth)).json()) as { sha256: string; deviceId: string }[];
    expect(list).toHaveLength(2);
    expect(list.every((s) => s.sha256 === sha && s.deviceId === "cam-w01")).toBe(true);

    // Someone edits the kept image: the API refuses it as tampered, with both hashes.
    const snapDir = join(dir, "cameras", "snapshots");
    for (const f of readdirSync(snapDir))
      writeFileSync(join(snapDir, f), Buffer.concat([JPEG.subarray(0, -2), Buffer.from("edit"), JPEG.subarray(-2)]));
    const tampered = await fetch(`${api}/api/cameras/snapshots/${sha}`, auth);
    expect(tampered.status).toBe(409);
    expect(await tampered.json()).toMatchObject({ status: "tampered", sha256: sha, deviceId: "cam-w01" });
    expect((await fetch(`${api}/api/cameras/snapshots/${"0".repeat(64)}`, auth)).status).toBe(404);
    expect((await fetch(`${api}/api/cameras/snapshots/..%2F..%2Fetc%2Fpasswd`, auth)).status).toBe(400);
    const health = (await (await fetch(`${api}/api/cameras`, auth)).json()) as { deviceId: string; subscribed: boolean }[];
    expect(health).toMatchObject([{ deviceId: "cam-w01", subscribed: true }]);
  });

  it("speaks Basic auth too", async () => {
    const { replay, motion } = await setup({ snapshotAuth: "basic" });
    await waitFor("the subscription", () => replay.count("events.CreatePullPointSubscription") === 1);
    replay.notify({ variant: "motion-alarm", motion: true });
    await waitFor("start", () => motion().length === 1);
    expect(motion()[0]!.snapshotSha256).toBe(sha256Hex(JPEG));
  });
});
