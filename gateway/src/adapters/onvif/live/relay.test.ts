import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable, type Readable } from "node:stream";
import pino from "pino";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { Fmp4Segmenter } from "./fmp4.ts";
import { ffmpegArgs, LiveRelay, redactor } from "./relay.ts";
import { sampleFmp4 } from "./testing.ts";

// The supervisor's logic against a stand-in "ffmpeg": a shell script that writes a real fragmented MP4 (made by
// ffmpeg once), complains on stderr with the credentials in the URL as ffmpeg does, and exits 0 or waits. The real
// ffmpeg against a real RTSP server is in ../live.netns.ts.
const dir = mkdtempSync(join(tmpdir(), "live-relay-"));
const sampleFile = join(dir, "sample.mp4");
writeFileSync(sampleFile, sampleFmp4());
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fakeFfmpeg(name: string, after: string): string {
  const script = join(dir, name);
  writeFileSync(
    script,
    `#!/bin/sh\necho "[rtsp @ 0x1] rtsp://admin:hunter2@127.0.0.1:554/h264main: method DESCRIBE failed (hunter2)" >&2\ncat '${sampleFile}'\n${after}\n`,
  );
  chmodSync(script, 0o755);
  return script;
}
const EXITS_AT_ONCE = fakeFfmpeg("exits.sh", "exit 0");
const KEEPS_RUNNING = fakeFfmpeg("runs.sh", "exec sleep 60");

const logLines: string[] = [];
const logger = pino({ level: "info" }, new Writable({ write: (c, _e, cb) => (logLines.push(String(c)), cb()) }));
const source = () => ({ uri: "rtsp://127.0.0.1:554/h264main", username: "admin", password: "hunter2" });
const relays: LiveRelay[] = [];
afterEach(async () => {
  await Promise.all(relays.splice(0).map((r) => r.stop()));
});

function relay(ffmpeg: string, extra: Partial<ConstructorParameters<typeof LiveRelay>[0]> = {}) {
  const r = new LiveRelay({ deviceId: "cam-1", source, logger, ffmpeg, backoffMs: 50, maxBackoffMs: 200, lingerMs: 50, ...extra });
  relays.push(r);
  return r;
}

function collect(stream: Readable) {
  const seg = new Fmp4Segmenter();
  const pieces: string[] = [];
  stream.on("data", (c: Buffer) => pieces.push(...seg.push(c).map((p) => p.kind)));
  return pieces;
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
const gone = (pid: number) => !existsSync(`/proc/${pid}`);

describe("live relay (ffmpeg supervisor)", () => {
  it("restarts ffmpeg after an exit with code 0 while someone watches; the viewer gets each run's init then its segments", async () => {
    const r = relay(EXITS_AT_ONCE);
    const pieces = collect(r.addViewer());
    await waitFor("three runs", () => r.status().starts >= 3 && pieces.filter((p) => p === "init").length >= 3);
    expect(pieces.slice(0, 3)).toEqual(["init", "segment", "segment"]);
    expect(r.status().lastExit).toMatch(/^exit 0/);
    expect(r.status().codec).toMatch(/^avc1\./);
  });

  it("logs ffmpeg's stderr with the credentials removed", async () => {
    logLines.length = 0;
    const r = relay(EXITS_AT_ONCE);
    collect(r.addViewer());
    await waitFor("a restart", () => r.status().starts >= 2);
    const log = logLines.join("");
    expect(log).toContain("live view: ffmpeg says");
    expect(log).toContain("rtsp://***@127.0.0.1:554/h264main");
    expect(log).toContain("live view: ffmpeg started");
    expect(log).not.toContain("hunter2");
  });

  it("stops ffmpeg after the last viewer left, and starts it again for the next", async () => {
    const r = relay(KEEPS_RUNNING);
    const a = r.addViewer();
    const b = r.addViewer();
    await waitFor("ffmpeg", () => r.status().pid !== null && r.status().segments >= 2);
    const pid = r.status().pid!;
    a.destroy();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(gone(pid)).toBe(false);
    b.destroy();
    await waitFor("ffmpeg gone after the last viewer", () => r.status().pid === null && gone(pid));
    expect(r.status().viewers).toBe(0);
    const pieces = collect(r.addViewer());
    await waitFor("a new ffmpeg", () => r.status().pid !== null && pieces.includes("segment"));
    expect(r.status().pid).not.toBe(pid);
  });

  it("gives a late viewer the init segment first", async () => {
    const r = relay(KEEPS_RUNNING);
    collect(r.addViewer());
    await waitFor("segments", () => r.status().segments >= 2);
    const late = collect(r.addViewer());
    await waitFor("the init", () => late.length > 0);
    expect(late[0]).toBe("init");
  });

  it("stop() ends every viewer and leaves no ffmpeg behind", async () => {
    const r = relay(KEEPS_RUNNING);
    const viewer = r.addViewer();
    const ended = new Promise((resolve) => viewer.on("end", resolve).resume());
    await waitFor("ffmpeg", () => r.status().pid !== null);
    const pid = r.status().pid!;
    await r.stop();
    expect(gone(pid)).toBe(true);
    await ended;
    expect(() => r.addViewer()).toThrow(/stopped/);
  });

  it("says what to install when there is no ffmpeg, and keeps trying", async () => {
    const r = relay(join(dir, "no-such-ffmpeg"));
    r.addViewer().resume();
    await waitFor("two tries", () => r.status().starts >= 2);
    expect(r.status().lastExit).toMatch(/install Debian's ffmpeg package/);
  });
});

describe("ffmpeg's arguments", () => {
  it("pass H.264 through over RTSP/TCP with the registry's credentials, URL-encoded", () => {
    const { args, secrets } = ffmpegArgs(
      { uri: "rtsp://cam:pw@127.0.0.1:8554/h264main?x=1", username: "ad min", password: "p@ss/w:rd" },
      5000,
    );
    expect(args.join(" ")).toContain(
      "-rtsp_transport tcp -timeout 5000000 -i rtsp://ad%20min:p%40ss%2Fw%3Ard@127.0.0.1:8554/h264main?x=1 -map 0:v:0 -c copy -an -f mp4",
    );
    const redact = redactor(secrets);
    expect(args.map(redact).join(" ")).not.toMatch(/p@ss|p%40ss/);
    expect(redact("Unauthorized p@ss/w:rd")).toBe("Unauthorized ***");
  });

  it("drop credentials a camera put in its stream URI when the registry has none", () => {
    const { args } = ffmpegArgs({ uri: "rtsp://cam:pw@127.0.0.1/s", username: undefined, password: undefined }, 5000);
    expect(args).toContain("rtsp://127.0.0.1/s");
  });
});
