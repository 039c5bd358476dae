import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

/**
 * A real RTSP camera stream for tests and the demo: Debian's GStreamer RTSP server driven by `rtsp-source.py`
 * (videotestsrc, x264 with a key frame every second, RTP over RTSP, one shared encoder for every client), bound to
 * 127.0.0.1 and mounted at `/h264main`, the path the ONVIF replay's GetStreamUri names, so replay and stream form
 * one camera. Needs `/usr/bin/python3` with `gi` and the GStreamer packages `scripts/system-deps.mjs` installs.
 */

const SCRIPT = fileURLToPath(new URL("./rtsp-source.py", import.meta.url));
/** Debian's python: a version manager's python on PATH may lack `gi`. */
export const SYSTEM_PYTHON = "/usr/bin/python3";
export const RTSP_SOURCE_PACKAGES = [
  "python3-gi",
  "gir1.2-gst-rtsp-server-1.0",
  "gstreamer1.0-plugins-base",
  "gstreamer1.0-plugins-good",
  "gstreamer1.0-plugins-ugly",
];

export interface RtspSourceOptions {
  port: number;
  path?: string;
  fps?: number;
  width?: number;
  height?: number;
  /** H.264 bit rate, kbit/s (default 800). */
  bitrate?: number;
  /** Credentials the stream demands; none: open. */
  auth?: { method: "basic" | "digest"; username: string; password: string };
  /** Give up when not listening within this (default 30 s: the first GStreamer start scans its plugins). */
  readyTimeoutMs?: number;
}

export interface RtspSource {
  /** The stream URL, without credentials. */
  readonly url: string;
  readonly pid: number;
  /** Stops the server (SIGTERM, SIGKILL after 5 s) and waits until it has exited. */
  stop(): Promise<void>;
}

/** Why the RTSP test source cannot run here (packages missing), or undefined when it can. */
export function rtspSourceMissing(): string | undefined {
  const probe = spawnSync(
    SYSTEM_PYTHON,
    [
      "-c",
      'import gi; gi.require_version("Gst", "1.0"); gi.require_version("GstRtspServer", "1.0"); from gi.repository import Gst, GstRtspServer; Gst.init(None); import sys; sys.exit(0 if all(Gst.ElementFactory.find(e) for e in ("videotestsrc", "x264enc", "rtph264pay")) else 3)',
    ],
    { encoding: "utf8", timeout: 60_000 },
  );
  if (probe.status === 0) return undefined;
  return `the RTSP test source needs ${SYSTEM_PYTHON} with GStreamer's RTSP server and x264 (apt-get install ${RTSP_SOURCE_PACKAGES.join(" ")})`;
}

/** Starts the source and resolves once it listens (it prints READY); rejects with its stderr when it cannot. */
export function startRtspSource(opts: RtspSourceOptions): Promise<RtspSource> {
  const path = opts.path ?? "/h264main";
  const args = [SCRIPT, "--port", String(opts.port), "--path", path];
  if (opts.fps) args.push("--fps", String(opts.fps));
  if (opts.width) args.push("--width", String(opts.width));
  if (opts.height) args.push("--height", String(opts.height));
  if (opts.bitrate) args.push("--bitrate", String(opts.bitrate));
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (opts.auth) {
    args.push("--auth", opts.auth.method, "--username", opts.auth.username, "--password-env", "RTSP_SOURCE_PASSWORD");
    env.RTSP_SOURCE_PASSWORD = opts.auth.password;
  }
  const child: ChildProcess = spawn(SYSTEM_PYTHON, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let stderr = "";
  child.stderr!.on("data", (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    }
  };
  return new Promise<RtspSource>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`RTSP test source not ready within ${opts.readyTimeoutMs ?? 30_000} ms: ${stderr.trim() || "no output"}`));
    }, opts.readyTimeoutMs ?? 30_000);
    child.stdout!.on("data", (c: Buffer) => {
      out += c.toString();
      if (!out.includes("READY ")) return;
      clearTimeout(timer);
      resolve({ url: `rtsp://127.0.0.1:${opts.port}${path}`, pid: child.pid!, stop });
    });
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${SYSTEM_PYTHON} for the RTSP test source: ${error.message}`));
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`RTSP test source exited (${signal ?? code}): ${stderr.trim() || "no output"}`));
    });
  });
}
