import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { GatewayConfig } from "@supervision/firmware-protocols";
import { gatewayProcess, OnvifReplay, startRtspSource, waitFor } from "@supervision/gateway/testing";
import { startLiveViewHub } from "@supervision/hub/testing";
import { assertInLoopbackNamespace, freePort, installLoopbackGuard } from "@supervision/test-support";
import { startChromium } from "@supervision/test-support/chromium";
import pino from "pino";
import { afterAll, describe, expect, it } from "vitest";

// The centre watches a window's camera: Chromium opens the hub's page, which plays (MSE, H.264 passed through) what
// the hub pulls from a real gateway process, whose ffmpeg pulls a real RTSP stream (GStreamer) named by an ONVIF
// camera (the replay). In a loopback-only network namespace: every address the camera hands out stays on lo.
assertInLoopbackNamespace();
const guard = installLoopbackGuard();
const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
  guard.dispose();
  expect(guard.violations).toEqual([]);
});

const GATEWAY_TOKEN = "gateway-http-token-0123456789";
const VIEWER_TOKEN = "hubtk_viewer-token-for-live-view-test";
const EXAMPLE = join(import.meta.dirname, "../../config/registry/example.yaml");
const gone = (pid: number) => !existsSync(`/proc/${pid}`);

describe("live view in a browser (loopback namespace)", () => {
  it("plays a camera through the hub; a killed ffmpeg brings the picture back; none is left when viewers leave or the gateway stops", async () => {
    const source = await startRtspSource({ port: await freePort() });
    cleanups.push(() => source.stop());
    const camera = new OnvifReplay({ pullHoldMs: 500, rtspPort: Number(new URL(source.url).port) });
    await camera.start();
    cleanups.push(() => camera.stop());

    const config: GatewayConfig = {
      v: 1,
      gatewayId: "gw-hall-1",
      version: 1,
      site: { id: "hall-1", name: "滨江政务服务中心", kind: "hall", tz: "Asia/Shanghai" },
      devices: [{ id: "cam-w1", kind: "camera", windowId: "w1", heartbeatS: 60, onvif: { url: camera.url } }],
      windows: [{ id: "w1", name: "1号窗口", departmentId: "tax" }],
      people: [],
    };
    const gateway = await gatewayProcess({ config });
    gateway.settings.http = { ...(gateway.settings.http as object), token: GATEWAY_TOKEN };
    gateway.settings.onvif = { live: { lingerS: 0.5, backoffS: 0.5 } };
    cleanups.push(() => gateway.cleanup());
    await gateway.start();
    const gatewayApi = `http://127.0.0.1:${gateway.httpPort}`;
    const relays = async () =>
      (await (await fetch(`${gatewayApi}/api/cameras/live`, { headers: { authorization: `Bearer ${GATEWAY_TOKEN}` } })).json()) as {
        pid: number | null;
        starts: number;
        viewers: number;
      }[];

    // The hub's registry: the example hall, its gateway reachable with its token, the camera at window 1.
    const registryDir = mkdtempSync(join(tmpdir(), "live-registry-"));
    cleanups.push(() => rmSync(registryDir, { recursive: true, force: true }));
    copyFileSync(EXAMPLE, join(registryDir, "example.yaml"));
    const example = readFileSync(join(registryDir, "example.yaml"), "utf8");
    writeFileSync(
      join(registryDir, "example.yaml"),
      example.replace("    publicKey: |", `    api: { url: "${gatewayApi}", token: ${GATEWAY_TOKEN} }\n    publicKey: |`),
    );
    writeFileSync(
      join(registryDir, "cameras.yaml"),
      `devices:\n  - { id: cam-w1, kind: camera, site: hall-1, window: w1, onvif: { url: "${camera.url}" } }\n`,
    );
    const hub = await startLiveViewHub({
      registryDir,
      tokens: [{ name: "centre", role: "viewer", token: VIEWER_TOKEN }],
      logger: pino({ level: "silent" }),
    });
    cleanups.push(() => hub.close());

    // Nobody without a token: not the list, not the stream; the page itself holds nothing.
    expect((await fetch(`${hub.url}/api/live/cameras`)).status).toBe(401);
    expect((await fetch(`${hub.url}/api/live/cameras/cam-w1`)).status).toBe(401);
    expect(
      (await fetch(`${hub.url}/api/live/cameras/cam-w1`, { headers: { authorization: "Bearer hubtk_not-a-token-of-this-hub" } })).status,
    ).toBe(401);
    const auth = { headers: { authorization: `Bearer ${VIEWER_TOKEN}` } };
    expect(await (await fetch(`${hub.url}/api/live/cameras?site=hall-1`, auth)).json()).toEqual([
      {
        deviceId: "cam-w1",
        site: "hall-1",
        siteName: "滨江政务服务中心",
        window: "w1",
        windowName: "1号窗口",
        gateway: "gw-hall-1",
        watchable: true,
      },
    ]);
    await waitFor(
      "the camera's stream URI at the gateway",
      async () =>
        (
          await fetch(`${gatewayApi}/api/cameras`, { headers: { authorization: `Bearer ${GATEWAY_TOKEN}` } }).then(
            (r) => r.json() as Promise<{ streamReachable: boolean }[]>,
          )
        )[0]?.streamReachable === true,
      60_000,
    );

    const chromium = await startChromium();
    cleanups.push(() => chromium.close());
    const page = await chromium.browser.newPage();
    await page.goto(`${hub.url}/live?site=hall-1#token=${VIEWER_TOKEN}`);
    const frames = () => page.evaluate(() => document.querySelector("video")?.getVideoPlaybackQuality().totalVideoFrames ?? 0);
    const stats = () =>
      page.evaluate(() => (window as unknown as { liveStats: Record<string, { inits: number; segments: number }> }).liveStats["cam-w1"]);
    await waitFor("decoded frames in the page", async () => (await frames()) > 15, 60_000);
    expect(page.url()).not.toContain(VIEWER_TOKEN);
    expect(await page.evaluate(() => document.querySelector(".tile .name")?.textContent)).toBe("1号窗口 · cam-w1");

    // ffmpeg killed by its pid: the gateway starts another, the same page gets the picture back.
    const [first] = await relays();
    expect(first).toMatchObject({ viewers: 1, starts: 1 });
    process.kill(first!.pid!, "SIGKILL");
    await waitFor("a new ffmpeg", async () => (await relays())[0]!.starts === 2, 30_000);
    const atRestart = await frames();
    await waitFor("the picture back", async () => (await stats())!.inits === 2 && (await frames()) > atRestart + 15, 60_000);
    const second = (await relays())[0]!;
    expect(gone(first!.pid!)).toBe(true);

    // The viewer leaves: no ffmpeg remains.
    await page.close();
    await waitFor("no ffmpeg after the last viewer", async () => (await relays())[0]!.pid === null && gone(second.pid!), 30_000);

    // Watching again, from Grafana's hall dashboard link this time (its variables as var-*), then the gateway stops:
    // its ffmpeg is gone with it, neither running nor a zombie.
    const again = await chromium.browser.newPage();
    await again.goto(
      `${hub.url}/live?var-region=east&var-town=riverside&var-site=hall-1&var-window=$__all&from=now%2Fd&to=now#token=${VIEWER_TOKEN}`,
    );
    await waitFor(
      "frames again",
      async () => (await again.evaluate(() => document.querySelector("video")?.getVideoPlaybackQuality().totalVideoFrames ?? 0)) > 5,
      60_000,
    );
    expect(await again.evaluate(() => document.querySelector("#site")?.textContent)).toBe("· 滨江政务服务中心");
    const third = (await relays())[0]!;
    expect(third.starts).toBe(3);
    await gateway.stop();
    expect(gone(third.pid!)).toBe(true);
    // Every URL the camera handed out was on loopback.
    expect(camera.violations).toEqual([]);
  });
});
