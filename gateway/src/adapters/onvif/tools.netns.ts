import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { type GatewayConfig, sealSecret, secretContext } from "@supervision/firmware-protocols";
import { assertInLoopbackNamespace, installLoopbackGuard } from "@supervision/test-support";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { camerasCli } from "../../cli/cameras.ts";
import { loadOrCreateKeys } from "../../identity/keys.ts";
import { connectCamera } from "./cam-client.ts";
import { checkCamera } from "./check.ts";
import { discoverCameras, formatDiscovered } from "./discovery.ts";
import { sendPtz } from "./ptz.ts";
import { OnvifReplay, type ReplayOptions } from "./testing/replay-server.ts";

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

async function camera(opts: ReplayOptions = {}): Promise<OnvifReplay> {
  const replay = new OnvifReplay({ username: "admin", password: "s3cret", pullHoldMs: 200, ...opts });
  await replay.start();
  replays.push(replay);
  cleanups.push(() => replay.stop());
  return replay;
}

const run = promisify(execFile);
const main = new URL("../../cli/main.ts", import.meta.url).pathname;
/** The gateway CLI as a process: one call proves `gateway camera …` reaches the camera commands. */
async function cliProcess(args: string[]): Promise<{ code: number; out: string; err: string }> {
  try {
    const { stdout, stderr } = await run("npx", ["tsx", main, ...args], { timeout: 120_000 });
    return { code: 0, out: stdout, err: stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout, err: x.stderr };
  }
}

/** The camera commands in this process (a process each would cost seconds of compiling), output captured. */
async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = vi.spyOn(console, "log").mockImplementation((...a: unknown[]) => void out.push(a.join(" ")));
  const error = vi.spyOn(console, "error").mockImplementation((...a: unknown[]) => void err.push(a.join(" ")));
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    const code = await camerasCli(args);
    return { code, out: out.join("\n"), err: err.join("\n") };
  } finally {
    log.mockRestore();
    error.mockRestore();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** A gateway's settings and retained config naming `replay` as camera cam-w01, its password sealed to the gateway's key. */
function gatewayWith(replay: OnvifReplay, password: string, extra: { ptz?: boolean } = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "cam-cli-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const dataDir = join(dir, "data");
  const keys = loadOrCreateKeys(dataDir);
  const sealed = sealSecret(password, keys.sealingKeyPem, secretContext("gw-test", "cam-w01", "onvif", "password"));
  if (!sealed.ok) throw new Error(sealed.error.message);
  const config: GatewayConfig = {
    v: 1,
    gatewayId: "gw-test",
    version: 1,
    site: { id: "hall-1", name: "Hall 1", kind: "hall", tz: "Asia/Shanghai" },
    devices: [
      {
        id: "cam-w01",
        kind: "camera",
        windowId: "w01",
        heartbeatS: 60,
        onvif: { url: replay.url, username: "admin", password: sealed.value, ...extra },
      },
    ],
    windows: [{ id: "w01", name: "Window 1", departmentId: "d1" }],
    people: [],
  };
  writeFileSync(join(dataDir, "config.json"), JSON.stringify(config));
  const settings = join(dir, "gateway.yaml");
  writeFileSync(settings, `gatewayId: gw-test\ndataDir: ${dataDir}\n`);
  return settings;
}

describe("cameras discover (WS-Discovery on loopback multicast)", () => {
  it("lists every camera that answers the probe with maker, model, profiles and a registry snippet", async () => {
    const a = await camera({ endpoint: "urn:uuid:11111111-1111-4111-8111-111111111111" });
    const b = await camera({ endpoint: "urn:uuid:22222222-2222-4222-8222-222222222222" });
    await a.startDiscovery();
    await b.startDiscovery();
    const found = await discoverCameras({ timeoutMs: 1500, username: "admin", password: "s3cret" });
    expect(found.map((c) => c.url).sort()).toEqual([a.url, b.url].sort());
    expect(found.map((c) => c.endpoint).sort()).toEqual([
      "urn:uuid:11111111-1111-4111-8111-111111111111",
      "urn:uuid:22222222-2222-4222-8222-222222222222",
    ]);
    for (const c of found) {
      expect(c).toMatchObject({
        manufacturer: "Mockup Manufacturer",
        model: "Mockup Model",
        firmware: "Mockup_15_14_13",
        scopeHardware: "HD_PREDATOR",
        scopeName: "PREDATOR",
      });
      expect(c.profiles).toEqual([{ token: "main", name: "main", video: "H264 1920x1080", ptz: true }]);
      expect(c.problem).toBeUndefined();
    }
    const text = formatDiscovered(found, "admin");
    expect(text).toContain("2 ONVIF cameras answered:");
    expect(text).toContain("maker Mockup Manufacturer, model Mockup Model, firmware Mockup_15_14_13, serial 00000000");
    expect(text).toContain("profiles main (main, H264 1920x1080, PTZ)");
    expect(text).toContain(
      `      url: ${a.url}\n      username: admin\n      password: { env: CAM_PREDATOR_PASSWORD }\n      snapshot: true\n      ptz: true`,
    );
  });

  it("without credentials shows what the probe told and says what to give; none answering is said plainly", async () => {
    const a = await camera();
    await a.startDiscovery();
    const [found] = await discoverCameras({ timeoutMs: 1000 });
    expect(found).toMatchObject({ url: a.url, scopeHardware: "HD_PREDATOR", profiles: [] });
    expect(found!.problem).toMatch(/needs credentials: run again with --username and the password in CAMERA_PASSWORD/);
    await a.stop();
    expect(formatDiscovered(await discoverCameras({ timeoutMs: 500 }))).toMatch(/^no ONVIF camera answered the WS-Discovery probe/);
  });

  it("the CLI prints the list and the snippet; --help; bad options are refused", async () => {
    const a = await camera();
    await a.startDiscovery();
    const listed = await cli(["cameras", "discover", "--timeout", "1.5", "--username", "admin"], { CAMERA_PASSWORD: "s3cret" });
    const help = await cli(["cameras", "discover", "--help"]);
    const bad = await cli(["cameras", "discover", "--timeout", "0"]);
    const noPassword = await cli(["cameras", "discover", "--username", "admin"]);
    expect(listed.code).toBe(0);
    expect(listed.out).toContain(`1 ONVIF camera answered:\n\n${a.url}\n  maker Mockup Manufacturer, model Mockup Model`);
    expect(listed.out).toContain("devices:\n  - id: cam-predator\n    kind: camera");
    expect(help.out).toMatch(/^gateway cameras discover/);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--timeout 0: give seconds/);
    expect(noPassword.err).toMatch(/--username needs the password in the environment variable CAMERA_PASSWORD/);
  });
});

describe("cameras check", () => {
  const check = (replay: OnvifReplay, password = "s3cret", ptz = true) =>
    checkCamera({ deviceId: "cam-w01", url: replay.url, username: "admin", password, ptz, timeoutMs: 3000 });

  it("a healthy camera: every step ok, with its presets", async () => {
    const replay = await camera();
    const lines = await check(replay);
    expect(lines.map((l) => l.status)).toEqual(["ok", "ok", "ok", "ok", "FIX", "ok", "ok"]);
    expect(lines.map((l) => l.text)).toEqual([
      `reachable at ${replay.url}`,
      "camera clock within 2 s of this gateway's",
      'credentials accepted for user "admin": Mockup Manufacturer Mockup Model, firmware Mockup_15_14_13',
      "event service: PullPoint subscription created (motion will arrive)",
      // No RTSP server behind the replay's stream URI in this test.
      expect.stringMatching(/^stream rtsp:\/\/127\.0\.0\.1:554\/\S* does not answer RTSP OPTIONS: check the camera's RTSP port/),
      expect.stringMatching(/^snapshot: \d+ bytes of JPEG from http:\/\/127\.0\.0\.1:\d+\/onvif-cgi\/jpg\/image\.cgi/),
      "PTZ presets: P001 (P001), P002 (P002), P003 (P003), P004 (P004), P005 (P005), P006 (P006), P007 (P007), P008 (P008), P009 (P009), P010 (P010), P011 (P011), P012 (P012) and 33 more",
    ]);
    expect(replay.activeSubscriptions()).toBe(0); // the check's subscription was undone
  });

  it("wrong credentials, a skewed clock, no event service, an unreachable camera: each says what to fix", async () => {
    const wrong = await check(await camera(), "nope");
    expect(wrong.at(-1)).toEqual({
      status: "FIX",
      text: expect.stringMatching(/refuses user "admin" and its password: check onvif.username and onvif.password/),
    });

    const skewed = await check(await camera({ clock: 20 * 60_000 }));
    expect(skewed.find((l) => l.text.startsWith("camera clock"))).toEqual({
      status: "FIX",
      text: expect.stringMatching(/^camera clock \+(1199|1200) s from this gateway's: set the camera's clock/),
    });

    const noEvents = await check(await camera({ without: ["events"] }));
    expect(noEvents.find((l) => l.text.startsWith("event service"))).toEqual({
      status: "FIX",
      text: expect.stringMatching(/^event service: no PullPoint subscription .*enable ONVIF events/),
    });

    // Port 9 (discard): nothing serves it in this loopback-only namespace, and the kernel never hands it out
    // as an ephemeral port, so no other camera of a parallel test can take it (a stopped replay's port could be).
    const gone = await checkCamera({
      deviceId: "cam-w01",
      url: "http://127.0.0.1:9/onvif/device_service",
      username: "admin",
      password: "s3cret",
      ptz: true,
      timeoutMs: 3000,
    });
    expect(gone).toEqual([
      {
        status: "FIX",
        text: expect.stringMatching(/^camera cam-w01 does not answer at http:\/\/127\.0\.0\.1:\d+\/onvif\/device_service \(ECONNREFUSED/),
      },
    ]);
  });

  it("the CLI checks a camera of the gateway's config with its sealed password; exit 1 when something needs fixing", async () => {
    const replay = await camera();
    const settings = gatewayWith(replay, "s3cret");
    const checked = await cli(["cameras", "check", "cam-w01", "--settings", settings]);
    const unknown = await cli(["cameras", "check", "cam-w99", "--settings", settings]);
    const help = await cli(["cameras", "check", "--help"]);
    expect(checked.out).toMatch(/^camera cam-w01\nok   reachable at /);
    expect(checked.out).toContain('ok   credentials accepted for user "admin"');
    expect(checked.out).toMatch(/FIX  stream rtsp:/);
    expect(checked.code).toBe(1);
    expect(unknown.err).toMatch(/cam-w99 is not in this gateway's config; its cameras: cam-w01/);
    expect(help.out).toMatch(/^gateway cameras check <device-id>/);
  });
});

describe("PTZ", () => {
  it("preset, move, stop and home reach the camera with their parameters on its profile", async () => {
    const replay = await camera();
    const cam = await connectCamera({ url: replay.url, username: "admin", password: "s3cret", timeoutMs: 3000 });
    await sendPtz(cam, { action: "preset", preset: "3" });
    await sendPtz(cam, { action: "move", pan: 0.5, tilt: -0.25, zoom: 0, seconds: 2 });
    await sendPtz(cam, { action: "stop" });
    await sendPtz(cam, { action: "home" });
    expect(replay.ptzCalls).toEqual([
      { action: "GotoPreset", profileToken: "main", preset: "3" },
      { action: "ContinuousMove", profileToken: "main", pan: 0.5, tilt: -0.25, zoom: 0, timeout: "PT2S" },
      { action: "Stop", profileToken: "main", stopPanTilt: true, stopZoom: true },
      { action: "GotoHomePosition", profileToken: "main" },
    ]);
  });

  it("gateway camera ptz turns a camera of the config; bad requests are refused before any call", { timeout: 150_000 }, async () => {
    const replay = await camera();
    const settings = gatewayWith(replay, "s3cret", { ptz: true });
    const preset = await cliProcess(["camera", "ptz", "cam-w01", "preset", "window-3", "--settings", settings]);
    const move = await cli(["camera", "ptz", "cam-w01", "move", "-0.5", "0.2", "--seconds", "1.5", "--settings", settings]);
    const badPreset = await cli(["camera", "ptz", "cam-w01", "preset", "<x/>", "--settings", settings]);
    const tooFast = await cli(["camera", "ptz", "cam-w01", "move", "2", "0", "--settings", settings]);
    const help = await cli(["camera", "ptz", "--help"]);
    expect(preset.out.trim()).toBe("ok   camera cam-w01: go to preset window-3");
    expect(move.out.trim()).toBe("ok   camera cam-w01: move pan -0.5, tilt 0.2, zoom 0 for 1.5 s");
    expect(badPreset.code).toBe(2);
    expect(badPreset.err).toMatch(/preset: a preset token: letters, digits/);
    expect(tooFast.code).toBe(2);
    expect(tooFast.err).toMatch(/pan: a speed from -1 to 1/);
    expect(help.out).toMatch(/^gateway camera ptz <device-id> <action>/);
    expect(replay.ptzCalls.map((c) => c.action).sort()).toEqual(["ContinuousMove", "GotoPreset"]);
    expect(replay.ptzCalls.find((c) => c.action === "GotoPreset")).toEqual({
      action: "GotoPreset",
      profileToken: "main",
      preset: "window-3",
    });
    expect(replay.ptzCalls.find((c) => c.action === "ContinuousMove")).toEqual({
      action: "ContinuousMove",
      profileToken: "main",
      pan: -0.5,
      tilt: 0.2,
      zoom: 0,
      timeout: "PT1.5S",
    });
  });
});
