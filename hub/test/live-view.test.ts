import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "@supervision/test-support";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { loadRegistry, RegistryLoadError } from "../src/registry/loader.ts";
import { liveCameras } from "../src/live/index.ts";
import { startLiveViewHub } from "./live-view-hub.ts";

// The hub's side of live view against a stand-in gateway (a plain HTTP server on loopback); the real gateway, ffmpeg,
// RTSP source and a browser are in system/test/live-view.netns.ts.
const EXAMPLE = join(import.meta.dirname, "../../config/registry/example.yaml");
const VIEWER = "hubtk_viewer-token-for-the-live-view-unit";
const GATEWAY_TOKEN = "gateway-token-0123456789";
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

function registryDir(
  api: string | undefined,
  cameras = "  - { id: cam-w1, kind: camera, site: hall-1, window: w1, onvif: { url: http://127.0.0.1:1/onvif/device_service } }\n",
): string {
  const dir = mkdtempSync(join(tmpdir(), "live-registry-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  copyFileSync(EXAMPLE, join(dir, "example.yaml"));
  if (api)
    writeFileSync(
      join(dir, "example.yaml"),
      readFileSync(join(dir, "example.yaml"), "utf8").replace("    publicKey: |", `    api: ${api}\n    publicKey: |`),
    );
  writeFileSync(join(dir, "cameras.yaml"), `devices:\n${cameras}`);
  return dir;
}

async function standInGateway(
  answer: (path: string, auth: string | undefined, res: import("node:http").ServerResponse) => void,
): Promise<{ url: string; paths: string[] }> {
  const paths: string[] = [];
  const server: Server = createServer((req, res) => {
    paths.push(req.url ?? "");
    answer(req.url ?? "", req.headers.authorization, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, paths };
}

async function hub(dir: string) {
  const h = await startLiveViewHub({
    registryDir: dir,
    tokens: [{ name: "centre", role: "viewer", token: VIEWER }],
    logger: pino({ level: "silent" }),
  });
  cleanups.push(() => h.close());
  return {
    ...h,
    get: (path: string, token: string | null = VIEWER) =>
      fetch(`${h.url}${path}`, token ? { headers: { authorization: `Bearer ${token}` } } : {}),
  };
}

describe("registry: a gateway's api for live view", () => {
  it("takes the token in clear, from the environment or from a file, and says which is missing", () => {
    const clear = loadRegistry(registryDir(`{ url: "http://127.0.0.1:8081", token: ${GATEWAY_TOKEN} }`));
    expect(clear.gateways.get("gw-hall-1")!.api).toEqual({ url: "http://127.0.0.1:8081", token: GATEWAY_TOKEN });
    process.env.LIVE_TEST_GATEWAY_TOKEN = "from-the-environment-0123";
    const env = loadRegistry(registryDir('{ url: "http://127.0.0.1:8081", token: { env: LIVE_TEST_GATEWAY_TOKEN } }'));
    expect(env.gateways.get("gw-hall-1")!.api!.token).toBe("from-the-environment-0123");
    delete process.env.LIVE_TEST_GATEWAY_TOKEN;
    const fileDir = registryDir('{ url: "http://127.0.0.1:8081", token: { file: gw.token } }');
    writeFileSync(join(fileDir, "gw.token"), "from-a-file-0123456789\n");
    expect(loadRegistry(fileDir).gateways.get("gw-hall-1")!.api!.token).toBe("from-a-file-0123456789");

    const errors = (dir: string) => {
      try {
        loadRegistry(dir);
      } catch (error) {
        return (error as RegistryLoadError).errors.map((e) => e.message);
      }
      return [];
    };
    expect(errors(registryDir('{ url: "http://127.0.0.1:8081", token: { env: NO_SUCH_LIVE_TOKEN } }'))).toEqual([
      expect.stringMatching(/gateways\[0\]\.api\.token: environment variable NO_SUCH_LIVE_TOKEN is not set/),
    ]);
    // A file that fails its schema is not read at all: what refers to it fails too.
    expect(errors(registryDir('{ url: "ftp://gw", token: x }'))).toEqual(
      expect.arrayContaining([expect.stringMatching(/api\.url: an http:\/\/ or https:\/\/ URL/)]),
    );
    expect(errors(registryDir('{ url: "http://gw", token: x, extra: 1 }'))).toEqual(
      expect.arrayContaining([expect.stringMatching(/api.*extra/)]),
    );
  });

  it("lists a site's cameras with their windows, and why one cannot be watched", () => {
    const cameras = liveCameras(loadRegistry(registryDir(undefined)), "hall-1");
    expect(cameras).toEqual([
      {
        deviceId: "cam-w1",
        site: "hall-1",
        siteName: "滨江政务服务中心",
        window: "w1",
        windowName: "1号窗口",
        gateway: "gw-hall-1",
        watchable: false,
        reason: "gateway gw-hall-1 has no api (url, token) in the registry",
      },
    ]);
  });
});

describe("hub live view routes", () => {
  it("serves the page to anyone and everything else only with a token", async () => {
    const h = await hub(registryDir(undefined));
    const page = await h.get("/live", null);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(await page.text()).toContain("实时视频");
    expect((await h.get("/api/live/cameras", null)).status).toBe(401);
    expect((await h.get("/api/live/cameras/cam-w1", null)).status).toBe(401);
    expect((await h.get("/api/live/cameras?site=nowhere")).status).toBe(404);
    expect((await h.get("/api/live/cameras/no-such-camera")).status).toBe(404);
    const noApi = await h.get("/api/live/cameras/cam-w1");
    expect(noApi.status).toBe(503);
    expect(await noApi.json()).toMatchObject({ error: expect.stringContaining("no api (url, token)") });
  });

  it("passes the gateway's stream through with the gateway's token, and ends it when the viewer leaves", async () => {
    let ended = false;
    const gw = await standInGateway((path, auth, res) => {
      if (auth !== `Bearer ${GATEWAY_TOKEN}`) return void res.writeHead(401).end("{}");
      res.writeHead(200, { "content-type": "video/mp4" });
      res.write(Buffer.from("first-bytes"));
      res.on("close", () => (ended = true));
    });
    const h = await hub(registryDir(`{ url: "${gw.url}", token: ${GATEWAY_TOKEN} }`));
    const controller = new AbortController();
    const answer = await fetch(`${h.url}/api/live/cameras/cam-w1`, {
      headers: { authorization: `Bearer ${VIEWER}` },
      signal: controller.signal,
    });
    expect(answer.status).toBe(200);
    expect(answer.headers.get("content-type")).toBe("video/mp4");
    const reader = answer.body!.getReader();
    expect(Buffer.from((await reader.read()).value!).toString()).toBe("first-bytes");
    expect(gw.paths).toEqual(["/api/cameras/live/cam-w1"]);
    expect(h.status()).toMatchObject({ watching: { "cam-w1": 1 }, opened: 1 });
    controller.abort();
    const deadline = Date.now() + 10_000;
    while (!ended && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(ended).toBe(true);
    while (Object.keys(h.status().watching as object).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(h.status().watching).toEqual({});
  });

  it("answers 502 with the reason when the gateway refuses the registry's token or does not answer", async () => {
    const gw = await standInGateway((_path, _auth, res) => void res.writeHead(401).end('{"error":"token"}'));
    const wrong = await (await hub(registryDir(`{ url: "${gw.url}", token: wrong-token-0123456789 }`))).get("/api/live/cameras/cam-w1");
    expect(wrong.status).toBe(502);
    expect(await wrong.json()).toMatchObject({ error: expect.stringContaining("api.token is not its http.token") });
    const closedPort = await freePort();
    const down = await (
      await hub(registryDir(`{ url: "http://127.0.0.1:${closedPort}", token: x-token-0123456789 }`))
    ).get("/api/live/cameras/cam-w1");
    expect(down.status).toBe(502);
    expect(await down.json()).toMatchObject({ error: expect.stringContaining("does not answer") });
    const busy = await standInGateway((_path, _auth, res) => void res.writeHead(503).end('{"error":"cam-w1 already has 8 viewers"}'));
    const full = await (await hub(registryDir(`{ url: "${busy.url}", token: x-token-0123456789 }`))).get("/api/live/cameras/cam-w1");
    expect(full.status).toBe(503);
    expect(await full.text()).toContain("8 viewers");
  });
});
