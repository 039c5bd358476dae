/**
 * The Frigate link against a real Mosquitto with `mosquitto_pub` as Frigate (a foreign MQTT client), and a loopback
 * HTTP server as Frigate's API for event snapshots, in the loopback-only network namespace of the camera tests.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { GatewayDevice, Reading } from "@supervision/firmware-protocols";
import { assertInLoopbackNamespace, installLoopbackGuard, startMosquitto } from "@supervision/test-support";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemorySink } from "../testing/memory-sink.ts";
import { FrigateAdapter } from "./index.ts";
import { FrigateSettings } from "./settings.ts";

assertInLoopbackNamespace();
const guard = installLoopbackGuard();

const JPEG = readFileSync(new URL("../onvif/testing/fixtures/snapshot.jpg", import.meta.url));
const JPEG_SHA = createHash("sha256").update(JPEG).digest("hex");
const EVENTS = readFileSync(new URL("./testing/events.jsonl", import.meta.url), "utf8")
  .trim()
  .split("\n");
const devices: GatewayDevice[] = [
  { id: "cam-w1", kind: "camera", windowId: "w1", heartbeatS: 60, frigate: { camera: "hall_cam", zone: "w1_counter" } },
  { id: "cam-w2", kind: "camera", windowId: "w2", heartbeatS: 60, frigate: { camera: "hall_cam", zone: "w2_counter" } },
  { id: "cam-w3", kind: "camera", windowId: "w3", heartbeatS: 60, frigate: { camera: "hall_cam3" } },
];

let mosquitto: Awaited<ReturnType<typeof startMosquitto>>;
let frigateApi: Server;
let apiPort = 0;
const snapshotRequests: string[] = [];
const dataDir = mkdtempSync(join(tmpdir(), "frigate-link-"));

beforeAll(async () => {
  mosquitto = await startMosquitto();
  frigateApi = createServer((req, res) => {
    snapshotRequests.push(req.url ?? "");
    if (/^\/api\/events\/[^/]+\/snapshot\.jpg$/.test(req.url ?? "")) res.writeHead(200, { "content-type": "image/jpeg" }).end(JPEG);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => frigateApi.listen(0, "127.0.0.1", () => r()));
  apiPort = (frigateApi.address() as { port: number }).port;
});
afterAll(async () => {
  await new Promise((r) => frigateApi.close(r));
  await mosquitto.close();
  rmSync(dataDir, { recursive: true, force: true });
  guard.dispose();
  expect(guard.violations).toEqual([]);
});

/** Frigate's messages, published by mosquitto_pub (one message per line, in order, QoS 1 like `mqtt.qos: 1`). */
function publish(topic: string, messages: string[], retain = false): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      "mosquitto_pub",
      ["-h", "127.0.0.1", "-p", String(mosquitto.port), "-q", "1", "-t", topic, "-l", ...(retain ? ["-r"] : [])],
      { stdio: ["pipe", "ignore", "pipe"] },
    );
    let err = "";
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`mosquitto_pub exited ${code}: ${err}`))));
    child.stdin.end(`${messages.join("\n")}\n`);
  });
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function adapter() {
  const settings = FrigateSettings.parse({ url: mosquitto.url, use: ["events", "motion"], httpUrl: `http://127.0.0.1:${apiPort}` });
  return new FrigateAdapter({ devices, settings, logger: pino({ level: process.env.LOG_LEVEL ?? "silent" }), dataDir });
}

type Motion = Reading & { state: string; source: string; snapshotSha256?: string; cameraId: string };
const motion = (sink: MemorySink, id?: string) =>
  sink.readings.filter((r) => r.kind === "motion" && (id === undefined || r.deviceId === id)) as Motion[];

describe("Frigate as a motion source (real Mosquitto, mosquitto_pub as Frigate)", () => {
  it("a person in a window's zone and a camera's motion become that window's readings exactly once; availability is health", async () => {
    const sink = new MemorySink();
    const link = adapter();
    await link.start(sink);
    try {
      await publish("frigate/available", ["online"], true);
      await waitFor(
        "a heartbeat per camera",
        () => new Set(sink.readings.filter((r) => r.kind === "heartbeat").map((r) => r.deviceId)).size === 3,
      );
      expect(link.online().sort()).toEqual(["cam-w1", "cam-w2", "cam-w3"]);
      expect(link.health()).toEqual({ ok: true });

      // Frigate on connect says OFF for every camera: nothing starts, nothing ends.
      await publish("frigate/hall_cam3/motion", ["OFF"]);
      // One person walks into w1's zone, stays (the same update twice), leaves; a car and a false positive in w2's zone.
      await publish("frigate/events", EVENTS);
      await waitFor("window 1's start and end", () => motion(sink, "cam-w1").length === 2);
      const [start, end] = motion(sink, "cam-w1");
      expect([start!.state, start!.ts, start!.source, start!.cameraId, start!.snapshotSha256]).toEqual([
        "start",
        1733130003500,
        "ai",
        "cam-w1",
        JPEG_SHA,
      ]);
      expect([end!.state, end!.ts, end!.source, end!.snapshotSha256]).toEqual(["end", 1733130600250, "vmd", undefined]);
      expect(end!.seq).toBe(start!.seq + 1);
      expect(snapshotRequests).toEqual(["/api/events/1733130000.123456-k3v9q1/snapshot.jpg"]);

      // Pixel motion of a camera without zones: ON, ON again, OFF.
      await publish("frigate/hall_cam3/motion", ["ON", "ON", "OFF"]);
      await waitFor("window 3's start and end", () => motion(sink, "cam-w3").length === 2);
      expect(motion(sink, "cam-w3").map((r) => [r.state, r.source])).toEqual([
        ["start", "vmd"],
        ["end", "vmd"],
      ]);

      // Malformed and hostile messages are refused and change nothing.
      await publish("frigate/events", ["{oops", '{"type":"new","after":{"id":"x","camera":"../etc","label":"person"}}', "[]"]);
      await publish("frigate/hall_cam/motion", ["BLINK"]);
      await waitFor("the refusals", () => link.refused === 4);
      // The same person event again after the fact (a redelivery): its end was seen, so it starts nothing new...
      await publish("frigate/events", [EVENTS.at(-1)!]);
      // ...and Frigate going away ends what is going on and stops the heartbeats.
      await publish("frigate/hall_cam3/motion", ["ON"]);
      await waitFor("window 3's second start", () => motion(sink, "cam-w3").length === 3);
      await publish("frigate/available", ["offline"], true);
      await waitFor("window 3's end when Frigate went offline", () => motion(sink, "cam-w3").length === 4);
      expect(link.online()).toEqual([]);
      expect(link.health()).toEqual({ ok: false, problem: "Frigate is offline" });
      expect(link.route("/api/frigate")?.body).toMatchObject({
        frigate: "offline",
        connected: true,
        refused: 4,
        cameras: [
          { deviceId: "cam-w1", camera: "hall_cam", zone: "w1_counter", active: false },
          { deviceId: "cam-w2", camera: "hall_cam", zone: "w2_counter", active: false },
          { deviceId: "cam-w3", camera: "hall_cam3", zone: null, active: false },
        ],
      });
      expect(motion(sink, "cam-w1")).toHaveLength(2);
      expect(motion(sink, "cam-w2")).toEqual([]);
      // The kept snapshot is served to the hub by its hash, checked.
      const reply = await link.cameraRequest({ v: 1, op: "fetch", reqId: "req-00000001", sha256: JPEG_SHA });
      expect(reply).toMatchObject({ ok: true, deviceId: "cam-w1", sha256: JPEG_SHA });
      expect(Buffer.from(reply!.jpegBase64!, "base64").equals(JPEG)).toBe(true);
    } finally {
      await link.stop();
    }
    // Identities are unique: no device repeats a sequence number.
    const ids = sink.readings.map((r) => `${r.deviceId}/${r.seq}`);
    expect(new Set(ids).size).toBe(ids.length);
    await publish("frigate/available", [""], true); // clear the retained state for the next test
  });

  it("sequence numbers continue across a restart (Frigate sends none)", async () => {
    const first = new MemorySink();
    const before = adapter();
    await before.start(first);
    await publish("frigate/available", ["online"], true);
    await waitFor("Frigate online", () => before.online().length === 3);
    await publish("frigate/hall_cam3/motion", ["ON", "OFF"]);
    await waitFor("start and end", () => motion(first, "cam-w3").length === 2);
    await before.stop();
    const last = Math.max(...first.readings.filter((r) => r.deviceId === "cam-w3").map((r) => r.seq));

    const second = new MemorySink();
    const after = adapter();
    await after.start(second);
    // Frigate's retained "online" tells the new connection it is there.
    await waitFor("Frigate online after the restart", () => after.online().length === 3);
    await publish("frigate/hall_cam3/motion", ["ON"]);
    await waitFor("a start after the restart", () => motion(second, "cam-w3").length === 1);
    await after.stop();
    expect(motion(second, "cam-w3")[0]!.seq).toBeGreaterThan(last);
    await publish("frigate/available", [""], true);
  });
});
