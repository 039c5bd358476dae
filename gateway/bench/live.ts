/**
 * Live view benchmark (no pass/fail; figures measured side by side in one run): what one live viewer of one camera
 * costs the gateway, against ffmpeg merely reading the same RTSP stream (`-c copy -f null`), target at most 1.5 times;
 * beside them, for the record, what node-rtsp-stream's way (transcoding to MPEG-1 for jsmpeg) costs on the same stream.
 * The camera is GStreamer's RTSP server (a moving test picture, H.264) behind the ONVIF replay camera; the gateway is
 * the bundle as deployed, a process of its own; the viewer is an HTTP client in this process (not counted).
 *
 *   npx tsx gateway/bench/live.ts [--seconds 20] [--width 1280 --height 720 --fps 25 --bitrate 2000] [--help]
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import type { GatewayConfig } from "@supervision/firmware-protocols";
import { freePort, processCpuSeconds } from "@supervision/test-support";
import { OnvifReplay } from "../src/adapters/onvif/testing/replay-server.ts";
import { startRtspSource } from "../src/adapters/onvif/testing/rtsp-source.ts";
import { gatewayProcess, waitFor } from "../test/fixtures.ts";

const { values: args } = parseArgs({
  options: {
    seconds: { type: "string", default: "20" },
    width: { type: "string", default: "1280" },
    height: { type: "string", default: "720" },
    fps: { type: "string", default: "25" },
    bitrate: { type: "string", default: "2000" },
    help: { type: "boolean", default: false },
  },
});
if (args.help) {
  console.log("usage: npx tsx gateway/bench/live.ts [--seconds N] [--width W --height H --fps F --bitrate KBITS]   (about 2 minutes)");
  process.exit(0);
}
const SECONDS = Number(args.seconds);
const [WIDTH, HEIGHT, FPS, BITRATE] = [args.width, args.height, args.fps, args.bitrate].map(Number) as [number, number, number, number];
if (!(SECONDS >= 5 && SECONDS <= 600) || ![WIDTH, HEIGHT, FPS, BITRATE].every((n) => Number.isInteger(n) && n > 0)) {
  console.error("--seconds must be 5 to 600, --width/--height/--fps/--bitrate positive integers");
  process.exit(2);
}
const TOKEN = "live-bench-token-0123456789";
const BUNDLE = "gateway/dist/gateway.mjs";
const built = spawnSync(process.execPath, ["gateway/bin/build.mjs"], { stdio: "inherit" });
if (built.status !== 0) throw new Error("npm run build failed");

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** CPU (share of one core) and final RSS of processes over the measuring window. */
async function measure(pids: Record<string, number>): Promise<Record<string, { cpu: number; rssMb: number }>> {
  const start = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, processCpuSeconds(pid)]));
  const t0 = Date.now();
  await sleep(SECONDS * 1000);
  const wall = (Date.now() - t0) / 1000;
  return Object.fromEntries(
    Object.entries(pids).map(([k, pid]) => [k, { cpu: (processCpuSeconds(pid) - start[k]!) / wall, rssMb: rssMb(pid) }]),
  );
}

/** An ffmpeg reading the stream; resolves once it has decoded/copied frames for a moment. */
async function ffmpegReader(args: string[]): Promise<ChildProcess> {
  const child = spawn("ffmpeg", ["-hide_banner", "-nostdin", "-loglevel", "error", "-stats", ...args], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stats = "";
  child.stderr!.on("data", (c: Buffer) => (stats = (stats + c.toString()).slice(-2000)));
  await waitFor("ffmpeg reading frames", () => /frame=\s*[1-9]\d{1,}/.test(stats) || child.exitCode !== null, 60_000);
  if (child.exitCode !== null) throw new Error(`ffmpeg ${args.join(" ")} exited: ${stats}`);
  await sleep(3000);
  return child;
}
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exited;
}

const source = await startRtspSource({ port: await freePort(), width: WIDTH, height: HEIGHT, fps: FPS, bitrate: BITRATE });
const camera = new OnvifReplay({ rtspPort: Number(new URL(source.url).port), terminationMs: 60_000 });
await camera.start();
const config: GatewayConfig = {
  v: 1,
  gatewayId: "gw-live-bench",
  version: 1,
  site: { id: "hall-bench", name: "Bench hall", kind: "hall", tz: "Asia/Shanghai" },
  devices: [{ id: "cam-1", kind: "camera", windowId: "w1", heartbeatS: 60, onvif: { url: camera.url } }],
  windows: [{ id: "w1", name: "Window 1", departmentId: "tax" }],
  people: [],
};
const gateway = await gatewayProcess({ config, entry: BUNDLE });
gateway.settings.http = { ...(gateway.settings.http as object), token: TOKEN };
const api = `http://127.0.0.1:${gateway.httpPort}`;
const auth = { headers: { authorization: `Bearer ${TOKEN}` } };
try {
  await gateway.start();
  await waitFor(
    "the camera's stream at the gateway",
    async () => ((await (await fetch(`${api}/api/cameras`, auth)).json()) as { streamReachable: boolean }[])[0]?.streamReachable === true,
    60_000,
  );
  console.log(
    `camera: ${WIDTH}x${HEIGHT} H.264 at ${FPS} fps, ${BITRATE} kbit/s (GStreamer RTSP server); each phase measured over ${SECONDS} s`,
  );

  // 1. The baseline: ffmpeg reading the stream and throwing it away, no muxing, no consumer.
  const bare = await ffmpegReader(["-rtsp_transport", "tcp", "-i", source.url, "-map", "0:v:0", "-c", "copy", "-an", "-f", "null", "-"]);
  const bareCost = (await measure({ ffmpeg: bare.pid! })).ffmpeg!;
  await stop(bare);

  // 2. The gateway with the camera followed (PullPoint, health) and nobody watching: what a viewer adds is over this.
  await sleep(2000);
  const idle = (await measure({ gateway: gateway.child.pid! })).gateway!;

  // 3. One live viewer through the gateway: its ffmpeg (-c copy to fragmented MP4) and the gateway relaying it.
  const controller = new AbortController();
  const answer = await fetch(`${api}/api/cameras/live/cam-1`, { ...auth, signal: controller.signal });
  if (answer.status !== 200) throw new Error(`live view answered ${answer.status}: ${await answer.text()}`);
  let bytes = 0;
  const reading = (async () => {
    try {
      for await (const chunk of answer.body as unknown as AsyncIterable<Uint8Array>) bytes += chunk.length;
    } catch {
      // aborted at the end
    }
  })();
  await waitFor("segments", () => bytes > 100_000, 60_000);
  await sleep(3000);
  const relay = ((await (await fetch(`${api}/api/cameras/live`, auth)).json()) as { pid: number }[])[0]!;
  const bytesBefore = bytes;
  const viewer = await measure({ gateway: gateway.child.pid!, ffmpeg: relay.pid });
  const kbits = ((bytes - bytesBefore) * 8) / 1000 / SECONDS;
  controller.abort();
  await reading;

  // 4. For the record: node-rtsp-stream's way, transcoding to MPEG-1 for jsmpeg (its default 1000k, 30 fps).
  const mpeg1 = await ffmpegReader([
    "-rtsp_transport",
    "tcp",
    "-i",
    source.url,
    "-f",
    "mpegts",
    "-codec:v",
    "mpeg1video",
    "-b:v",
    "1000k",
    "-r",
    "30",
    "-an",
    "-",
  ]);
  const mpeg1Cost = (await measure({ ffmpeg: mpeg1.pid! })).ffmpeg!;
  await stop(mpeg1);

  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  const viewerCpu = viewer.ffmpeg!.cpu + Math.max(0, viewer.gateway!.cpu - idle.cpu);
  const viewerRss = viewer.ffmpeg!.rssMb + Math.max(0, viewer.gateway!.rssMb - idle.rssMb);
  console.log("\n| what | CPU (of one core) | resident memory |");
  console.log("|---|---|---|");
  console.log(`| ffmpeg reading the stream (-c copy -f null): the baseline | ${pct(bareCost.cpu)} | ${bareCost.rssMb.toFixed(1)} MB |`);
  console.log(`| gateway following the camera, nobody watching | ${pct(idle.cpu)} | ${idle.rssMb.toFixed(1)} MB |`);
  console.log(
    `| one live viewer: its ffmpeg (-c copy, fragmented MP4) | ${pct(viewer.ffmpeg!.cpu)} | ${viewer.ffmpeg!.rssMb.toFixed(1)} MB |`,
  );
  console.log(
    `| one live viewer: the gateway relaying ${kbits.toFixed(0)} kbit/s (over its idle) | ${pct(Math.max(0, viewer.gateway!.cpu - idle.cpu))} | +${Math.max(0, viewer.gateway!.rssMb - idle.rssMb).toFixed(1)} MB |`,
  );
  console.log(`| node-rtsp-stream's way: ffmpeg transcoding to MPEG-1 | ${pct(mpeg1Cost.cpu)} | ${mpeg1Cost.rssMb.toFixed(1)} MB |`);
  console.log(
    `\none live viewer / bare read: CPU ${(viewerCpu / bareCost.cpu).toFixed(2)} (target ≤ 1.5), memory ${(viewerRss / bareCost.rssMb).toFixed(2)}`,
  );
  console.log(`MPEG-1 transcoding / bare read: CPU ${(mpeg1Cost.cpu / bareCost.cpu).toFixed(1)}`);
} finally {
  await gateway.cleanup();
  await camera.stop();
  await source.stop();
}
