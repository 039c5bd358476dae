/**
 * Cameras through the hub, with real parts on loopback inside a loopback-only network namespace: the hub's broker,
 * ingest and camera requests, its HTTP API with tokens, influxd, a real gateway process, and the ONVIF replay
 * camera. PTZ from the API and the CLI reaches the camera with its parameters; a snapshot's hash travels in the
 * signed batch into InfluxDB and the image comes back through the hub checked against it (tampered when edited on
 * the gateway's disk); an unattended-window warning makes the gateway take a snapshot whose hash the hub records.
 */
import { readdirSync, readFileSync, rmSync, writeFileSync, mkdtempSync } from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type GatewayConfig, sealSecret, secretContext } from "@supervision/firmware-protocols";
import { loadOrCreateKeys } from "@supervision/gateway";
import { gatewayProcess, type GatewayUnderTest, OnvifReplay, waitFor } from "@supervision/gateway/testing";
import { assertInLoopbackNamespace, freePort, installLoopbackGuard, startInfluxd, type TestInfluxd } from "@supervision/test-support";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type HubBroker, startHubBroker } from "../src/broker/index.ts";
import { createCamerasExtension } from "../src/cameras/index.ts";
import { cameraCommand } from "../src/cameras/cli.ts";
import type { HubContext, HubExtension, WarningEvent } from "../src/controller/extension.ts";
import { ApiTokens } from "../src/http/auth.ts";
import { HubHttpServer } from "../src/http/server.ts";
import { ensureDatabase } from "../src/influx/setup.ts";
import { createIngestExtension } from "../src/ingest/index.ts";
import { staticRegistryView, testContext, testRegistry } from "./ingest-fixtures.ts";

assertInLoopbackNamespace();
const guard = installLoopbackGuard();

const SERVICE_SECRET = "hub-service-secret-cameras";
const OPERATOR = "operator-token-0123456789abcdef";
const VIEWER = "viewer-token-0123456789abcdef";
const JPEG = readFileSync(new URL("../../gateway/src/adapters/onvif/testing/fixtures/snapshot.jpg", import.meta.url));
const JPEG_SHA = createHash("sha256").update(JPEG).digest("hex");

let replay: OnvifReplay;
let influx: TestInfluxd;
let broker: HubBroker;
let gateway: GatewayUnderTest;
let ctx: HubContext;
let api: string;
const http = new HubHttpServer(pino({ level: "silent" }), {
  tokens: {
    current: () =>
      new ApiTokens([
        { name: "centre-operator", role: "operator", token: OPERATOR },
        { name: "centre-viewer", role: "viewer", token: VIEWER },
      ]),
  },
});
const extensions: HubExtension[] = [];

beforeAll(async () => {
  replay = new OnvifReplay({ username: "admin", password: "s3cret", pullHoldMs: 300 });
  await replay.start();
  influx = await startInfluxd();
  const { registry } = testRegistry();
  const brokerPort = await freePort();
  const brokerUrl = `mqtt://127.0.0.1:${brokerPort}`;

  // The gateway process, its camera's password sealed to its own key as the hub would seal it.
  const config: GatewayConfig = {
    v: 1,
    gatewayId: "gw1",
    version: 1,
    site: { id: "hall1", name: "Hall", kind: "hall", tz: "Asia/Shanghai" },
    devices: [],
    windows: [{ id: "w1", name: "Window 1", departmentId: "tax" }],
    people: [],
  };
  gateway = await gatewayProcess({ hubUrl: brokerUrl, config, gatewayId: "gw1" });
  const keys = loadOrCreateKeys(gateway.dataDir);
  const sealed = sealSecret("s3cret", keys.sealingKeyPem, secretContext("gw1", "cam1", "onvif", "password"));
  if (!sealed.ok) throw new Error(sealed.error.message);
  config.devices.push({
    id: "cam1",
    kind: "camera",
    windowId: "w1",
    cameraId: "cam1",
    heartbeatS: 60,
    onvif: { url: replay.url, username: "admin", password: sealed.value, ptz: true },
  });
  const hubPassword = (gateway.settings.hub as { password: string }).password;
  registry.gateways.set("gw1", { id: "gw1", site: "hall1", publicKey: keys.publicKeyPem, secret: hubPassword });
  registry.devices.set("cam1", {
    id: "cam1",
    kind: "camera",
    site: "hall1",
    window: "w1",
    cameraId: "cam1",
    heartbeatS: 60,
    scale: "four",
    onvif: { url: replay.url, username: "admin", ptz: true },
  });

  broker = await startHubBroker({
    port: brokerPort,
    registry: staticRegistryView(registry),
    logger: pino({ level: "silent" }),
    serviceSecret: SERVICE_SECRET,
  });
  ctx = { ...testContext(registry, influx.url), http };
  await ensureDatabase(ctx.influx, "supervision", ctx.logger);
  const credentials = { brokerUrl, username: "hub", password: SERVICE_SECRET };
  extensions.push(createIngestExtension({ ...credentials, shareGroup: "" }), createCamerasExtension({ ...credentials, timeoutMs: 10_000 }));
  for (const e of extensions) await e.start(ctx);
  api = `http://127.0.0.1:${await http.listen(0, "127.0.0.1")}`;
  await gateway.start();
  // The gateway's camera is connected once it has subscribed to motion.
  await waitFor("the gateway's motion subscription", () => replay.count("events.CreatePullPointSubscription") >= 1, 60_000);
}, 240_000);

afterAll(async () => {
  await gateway?.cleanup();
  for (const e of extensions.reverse()) await e.stop();
  await http.close();
  await broker?.close();
  await replay?.stop();
  await influx?.close();
  guard.dispose();
  expect(guard.violations).toEqual([]);
  expect(replay.violations).toEqual([]);
}, 60_000);

const call = (method: "GET" | "POST", path: string, token: string | undefined, body?: unknown) =>
  fetch(`${api}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

/** The hub CLI in this process (a process each would cost seconds of compiling), output captured. */
async function hubCli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = vi.spyOn(console, "log").mockImplementation((...a: unknown[]) => void out.push(a.join(" ")));
  const error = vi.spyOn(console, "error").mockImplementation((...a: unknown[]) => void err.push(a.join(" ")));
  try {
    const code = await cameraCommand.run([...args, "--url", api, "--token", OPERATOR]);
    return { code, out: out.join("\n"), err: err.join("\n") };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}

describe("PTZ from the hub (API with an operator token, hub camera ptz) down the gateway's uplink", () => {
  it("turns the camera with the requested parameters; viewers, strangers, bad requests and unknown cameras are refused", async () => {
    const res = await call("POST", "/api/cameras/cam1/ptz", OPERATOR, { action: "preset", preset: "P003" });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, device: "cam1", ptz: { action: "preset", preset: "P003" } });
    expect(replay.ptzCalls.at(-1)).toEqual({ action: "GotoPreset", profileToken: "main", preset: "P003" });

    expect((await hubCli(["ptz", "cam1", "move", "-0.5", "0.25", "--seconds", "3"])).out).toBe("ok   camera cam1: move -0.5 0.25");
    expect(replay.ptzCalls.at(-1)).toEqual({
      action: "ContinuousMove",
      profileToken: "main",
      pan: -0.5,
      tilt: 0.25,
      zoom: 0,
      timeout: "PT3S",
    });
    expect((await hubCli(["ptz", "cam1", "stop"])).code).toBe(0);
    expect((await hubCli(["ptz", "cam1", "home"])).code).toBe(0);
    expect(replay.ptzCalls.slice(-2).map((c) => c.action)).toEqual(["Stop", "GotoHomePosition"]);
    const calls = replay.ptzCalls.length;

    expect((await call("POST", "/api/cameras/cam1/ptz", VIEWER, { action: "home" })).status).toBe(403);
    expect((await call("POST", "/api/cameras/cam1/ptz", undefined, { action: "home" })).status).toBe(401);
    const bad = await call("POST", "/api/cameras/cam1/ptz", OPERATOR, { action: "preset", preset: "</PresetToken><x>" });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/preset: a preset token/);
    expect((await call("POST", "/api/cameras/cam1/ptz", OPERATOR, { action: "move", pan: 3, tilt: 0 })).status).toBe(400);
    expect((await call("POST", "/api/cameras/kp1/ptz", OPERATOR, { action: "home" })).status).toBe(404);
    expect((await hubCli(["ptz", "cam1", "spin"])).code).toBe(2);
    expect(replay.ptzCalls.length).toBe(calls);
  });
});

describe("snapshots through the hub, checked against the hash the reading recorded", () => {
  it("motion's snapshot hash reaches InfluxDB in the signed batch; the image comes back through the hub; edited on the gateway, it is tampered", async () => {
    replay.notify({ variant: "cell-ismotion", motion: true });
    const stored = async () =>
      (await ctx.influx.query(`SELECT "snapshot_sha256" FROM "raw"."motion" WHERE "device" = 'cam1'`)) as unknown as {
        snapshot_sha256: string;
      }[];
    await waitFor("the motion reading in InfluxDB", async () => (await stored()).length > 0, 60_000);
    const sha = (await stored())[0]!.snapshot_sha256;
    expect(sha).toBe(JPEG_SHA);

    const res = await call("GET", `/api/cameras/cam1/snapshots/${sha}`, VIEWER);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/jpeg");
    expect(Buffer.from(await res.arrayBuffer()).equals(JPEG)).toBe(true);
    const dir = mkdtempSync(join(tmpdir(), "hub-camera-"));
    const fetched = await hubCli(["fetch", "cam1", sha, "--out", join(dir, "s.jpg")]);
    expect(fetched.out).toMatch(new RegExp(`^ok   camera cam1 snapshot ${sha}: ${JPEG.length} bytes, matches its recorded hash`));
    expect(readFileSync(join(dir, "s.jpg")).equals(JPEG)).toBe(true);

    // A hash no reading recorded is not fetched at all; a malformed one is refused.
    const unrecorded = await call("GET", `/api/cameras/cam1/snapshots/${"ab".repeat(32)}`, VIEWER);
    expect(unrecorded.status).toBe(404);
    expect(((await unrecorded.json()) as { code: string }).code).toBe("not_recorded");
    expect((await call("GET", "/api/cameras/cam1/snapshots/..%2F..%2Fetc", VIEWER)).status).toBe(400);
    expect((await call("GET", `/api/cameras/cam1/snapshots/${sha}`, undefined)).status).toBe(401);

    // Someone edits the kept file on the gateway's disk.
    const folder = join(gateway.dataDir, "cameras", "snapshots");
    const files = readdirSync(folder).filter((f) => f.endsWith(`-cam1-${sha}.jpg`));
    expect(files.length).toBeGreaterThan(0);
    const edited = Buffer.concat([JPEG.subarray(0, JPEG.length - 2), Buffer.from([0x00]), JPEG.subarray(JPEG.length - 2)]);
    for (const f of files) writeFileSync(join(folder, f), edited);
    const tampered = await call("GET", `/api/cameras/cam1/snapshots/${sha}`, VIEWER);
    expect(tampered.status).toBe(409);
    expect(await tampered.json()).toMatchObject({
      status: "tampered",
      device: "cam1",
      sha256: sha,
      actualSha256: createHash("sha256").update(edited).digest("hex"),
    });
    const cli = await hubCli(["fetch", "cam1", sha, "--out", join(dir, "t.jpg")]);
    expect(cli.code).toBe(1);
    expect(cli.err).toMatch(new RegExp(`^TAMPERED camera cam1 snapshot ${sha}`));
    for (const f of files) writeFileSync(join(folder, f), JPEG);
    rmSync(dir, { recursive: true, force: true });
  });

  it("an unattended-window warning makes the gateway take a snapshot of that window, its hash recorded at the hub; an operator takes one on demand", async () => {
    const before = replay.count("snapshot");
    const warning: WarningEvent = {
      ts: Date.now() - 40 * 60_000,
      site: "hall1",
      category: "people",
      subjectKind: "window",
      subject: "w1",
      rule: "unattended",
      severity: "warning",
      active: true,
      message: "窗口「Window 1」无人值守 40 分钟",
    };
    ctx.events.emit("warning", warning);
    // Another rule's warning, and one from a day judged long after, ask for nothing.
    ctx.events.emit("warning", { ...warning, rule: "left_post" });
    ctx.events.emit("warning", { ...warning, ts: Date.now() - 3 * 86_400_000 });
    const recorded = async () =>
      (await ctx.influx.query(
        `SELECT "sha256", "warning_ts", "window" FROM "raw"."camera_snapshot" WHERE "device" = 'cam1' AND "reason" = 'unattended'`,
      )) as unknown as {
        sha256: string;
        warning_ts: number;
        window: string;
      }[];
    await waitFor("the warning's snapshot recorded", async () => (await recorded()).length > 0, 60_000);
    expect((await recorded()).map((r) => [r.sha256, r.warning_ts, r.window])).toEqual([[JPEG_SHA, warning.ts, "w1"]]);
    expect(replay.count("snapshot")).toBeGreaterThan(before);

    const taken = await call("POST", "/api/cameras/cam1/snapshot", OPERATOR);
    expect(taken.status).toBe(200);
    const link = `/cameras/snapshot?device=cam1&sha256=${JPEG_SHA}`;
    expect(await taken.json()).toMatchObject({
      device: "cam1",
      sha256: JPEG_SHA,
      url: `/api/cameras/cam1/snapshots/${JPEG_SHA}`,
      page: link,
    });
    // The evidence page a warning or dashboard links to: open (it holds no data), it fetches with the viewer's token.
    const page = await call("GET", link, undefined);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain("<title>抓拍核验</title>");
    expect(html).toContain("/api/cameras/${encodeURIComponent(device)}/snapshots/${encodeURIComponent(sha)}");
    expect((await call("POST", "/api/cameras/cam1/snapshot", VIEWER)).status).toBe(403);
  });

  it("a gateway that is gone: the request times out with a reason instead of hanging", async () => {
    await gateway.stop();
    const res = await call("POST", "/api/cameras/cam1/ptz", OPERATOR, { action: "home" });
    expect(res.status).toBe(504);
    expect(((await res.json()) as { error: string }).error).toMatch(/gateway gw1 did not answer within 10 s: it may be offline/);
  }, 60_000);
});
