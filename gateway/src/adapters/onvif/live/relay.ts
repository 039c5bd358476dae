import { type ChildProcess, spawn } from "node:child_process";
import { PassThrough, type Readable } from "node:stream";
import type { Logger } from "pino";
import { Fmp4Segmenter, h264Codec } from "./fmp4.ts";

/** Where a relay pulls from: the camera's RTSP URI and the registry's credentials (never logged). */
export interface LiveSource {
  uri: string;
  username: string | undefined;
  password: string | undefined;
}

export interface LiveRelayOptions {
  deviceId: string;
  /** The camera's stream now (undefined while the camera has not told its stream URI). */
  source: () => LiveSource | undefined;
  logger: Logger;
  /** The ffmpeg binary (default "ffmpeg" on PATH). */
  ffmpeg?: string;
  /** First wait before restarting ffmpeg after it exits; doubles to maxBackoffMs, reset after a segment arrives. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** ffmpeg is stopped this long after the last viewer left (a page reload does not restart it). */
  lingerMs?: number;
  /** ffmpeg that sends nothing for this long is killed and restarted (a camera that stalls without closing). */
  stallMs?: number;
  /** A viewer further behind than this skips whole segments until it catches up. */
  maxViewerLagBytes?: number;
  /** RTSP socket timeout given to ffmpeg. */
  rtspTimeoutMs?: number;
}

/** What `GET /api/cameras/live` shows for one camera. */
export interface LiveRelayStatus {
  deviceId: string;
  viewers: number;
  /** The running ffmpeg's process id, or null. */
  pid: number | null;
  /** ffmpeg starts since the first viewer came (1 = never restarted). */
  starts: number;
  lastExit: string | null;
  codec: string | null;
  segments: number;
  /** Segments a slow viewer skipped. */
  skipped: number;
}

interface Viewer {
  stream: PassThrough;
  /** Waiting for the init segment (then the next whole segment). */
  needsInit: boolean;
}

/** ffmpeg's own messages are logged at most this many per minute per camera; the rest are counted. */
const LOG_LINES_PER_MINUTE = 20;

/**
 * Live view of one camera: one ffmpeg pulling its RTSP stream over TCP and passing H.264 through (`-c copy`, no
 * transcoding) as fragmented MP4, started by the first viewer and stopped after the last; restarted with backoff
 * whenever it exits while someone watches, exit code 0 included (a camera that drops makes ffmpeg end normally).
 * Each viewer gets the init segment and then whole segments from the next key frame on.
 */
export class LiveRelay {
  private readonly viewers = new Set<Viewer>();
  private child: ChildProcess | undefined;
  private childExited: Promise<void> | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private lingerTimer: NodeJS.Timeout | undefined;
  private stallTimer: NodeJS.Timeout | undefined;
  private backoff: number;
  private init: Buffer | undefined;
  private closed = false;
  private starts = 0;
  private lastExit: string | null = null;
  private codec: string | null = null;
  private segments = 0;
  private skipped = 0;
  private logWindowStart = 0;
  private logLines = 0;
  private logSuppressed = 0;

  constructor(private readonly opts: LiveRelayOptions) {
    this.backoff = opts.backoffMs ?? 1000;
  }

  get deviceId(): string {
    return this.opts.deviceId;
  }

  status(): LiveRelayStatus {
    return {
      deviceId: this.deviceId,
      viewers: this.viewers.size,
      pid: this.child?.pid ?? null,
      starts: this.starts,
      lastExit: this.lastExit,
      codec: this.codec,
      segments: this.segments,
      skipped: this.skipped,
    };
  }

  /** A new viewer: a stream of fragmented MP4. Destroying it (the client went away) removes the viewer. */
  addViewer(): Readable {
    if (this.closed) throw new Error(`live view of ${this.deviceId} is stopped`);
    const viewer: Viewer = { stream: new PassThrough(), needsInit: true };
    this.viewers.add(viewer);
    const leave = () => this.removeViewer(viewer);
    viewer.stream.once("close", leave);
    viewer.stream.once("error", leave);
    clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    if (this.init) this.sendInit(viewer);
    if (!this.child && !this.restartTimer) this.spawn();
    return viewer.stream;
  }

  /** Stops ffmpeg (SIGTERM, SIGKILL after 3 s), waits until it has exited and ends every viewer's stream. */
  async stop(): Promise<void> {
    this.closed = true;
    clearTimeout(this.lingerTimer);
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    for (const v of this.viewers) v.stream.end();
    this.viewers.clear();
    await this.kill();
  }

  private removeViewer(viewer: Viewer): void {
    if (!this.viewers.delete(viewer)) return;
    if (this.viewers.size > 0 || this.closed) return;
    clearTimeout(this.lingerTimer);
    this.lingerTimer = setTimeout(() => {
      this.lingerTimer = undefined;
      if (this.viewers.size > 0) return;
      clearTimeout(this.restartTimer);
      this.restartTimer = undefined;
      this.opts.logger.info({ deviceId: this.deviceId }, "live view: last viewer left, ffmpeg stopped");
      void this.kill();
    }, this.opts.lingerMs ?? 5000);
  }

  private spawn(): void {
    this.restartTimer = undefined;
    if (this.closed || this.viewers.size === 0) return;
    const source = this.opts.source();
    if (!source) {
      this.lastExit = "the camera has not told its RTSP stream URI yet";
      this.scheduleRestart();
      return;
    }
    const { args, secrets } = ffmpegArgs(source, this.opts.rtspTimeoutMs ?? 10_000);
    const redact = redactor(secrets);
    const segmenter = new Fmp4Segmenter();
    this.init = undefined;
    for (const v of this.viewers) v.needsInit = true;
    let child: ChildProcess;
    try {
      child = spawn(this.opts.ffmpeg ?? "ffmpeg", args, { stdio: ["ignore", "pipe", "pipe"] });
    } catch (error) {
      this.lastExit = `cannot start ffmpeg: ${(error as Error).message}`;
      this.scheduleRestart();
      return;
    }
    this.child = child;
    this.starts += 1;
    this.opts.logger.info(
      { deviceId: this.deviceId, pid: child.pid, args: args.map(redact), start: this.starts },
      "live view: ffmpeg started",
    );
    this.childExited = new Promise<void>((resolve) => child.once("close", () => resolve()));
    this.armStallTimer(child);
    let stderrTail = "";
    let lineBuffer = "";
    child.stderr!.on("data", (c: Buffer) => {
      lineBuffer += c.toString("utf8");
      const lines = lineBuffer.split(/\r?\n|\r/);
      lineBuffer = lines.pop() ?? "";
      for (const line of lines) {
        if (!line.trim()) continue;
        const clean = redact(line).slice(0, 500);
        stderrTail = clean;
        this.logFfmpeg(clean);
      }
    });
    child.stdout!.on("data", (chunk: Buffer) => {
      this.armStallTimer(child);
      let pieces;
      try {
        pieces = segmenter.push(chunk);
      } catch (error) {
        this.opts.logger.error(
          { deviceId: this.deviceId, err: (error as Error).message },
          "live view: ffmpeg output is not fragmented MP4; restarting it",
        );
        child.kill("SIGKILL");
        return;
      }
      for (const piece of pieces) {
        if (piece.kind === "init") {
          this.init = piece.data;
          this.codec = h264Codec(piece.data) ?? null;
          if (!this.codec)
            this.opts.logger.warn(
              { deviceId: this.deviceId },
              "live view: the camera's video is not H.264; browsers may not play it passed through",
            );
          for (const v of this.viewers) this.sendInit(v);
        } else {
          this.segments += 1;
          this.backoff = this.opts.backoffMs ?? 1000;
          for (const v of this.viewers) this.sendSegment(v, piece.data);
        }
      }
    });
    child.once("error", (error) => {
      // spawn failure (no ffmpeg): "close" still follows.
      stderrTail = `cannot start ffmpeg (${this.opts.ffmpeg ?? "ffmpeg"}): ${error.message}; install Debian's ffmpeg package`;
    });
    child.once("close", (code, signal) => {
      clearTimeout(this.stallTimer);
      if (this.child === child) this.child = undefined;
      this.lastExit = `${signal ? `signal ${signal}` : `exit ${code}`}${stderrTail ? `: ${stderrTail}` : ""}`;
      const wanted = !this.closed && this.viewers.size > 0;
      this.opts.logger[wanted ? "warn" : "info"](
        {
          deviceId: this.deviceId,
          pid: child.pid,
          code,
          signal,
          lastMessage: stderrTail || undefined,
          restartInMs: wanted ? this.backoff : undefined,
        },
        wanted ? "live view: ffmpeg exited; restarting" : "live view: ffmpeg stopped",
      );
      if (wanted) this.scheduleRestart();
    });
  }

  private scheduleRestart(): void {
    if (this.closed || this.viewers.size === 0 || this.restartTimer) return;
    const wait = this.backoff;
    this.backoff = Math.min(this.backoff * 2, this.opts.maxBackoffMs ?? 30_000);
    this.restartTimer = setTimeout(() => this.spawn(), wait);
  }

  private armStallTimer(child: ChildProcess): void {
    clearTimeout(this.stallTimer);
    this.stallTimer = setTimeout(() => {
      this.opts.logger.warn({ deviceId: this.deviceId, pid: child.pid }, "live view: ffmpeg sent nothing for a while; killing it");
      child.kill("SIGKILL");
    }, this.opts.stallMs ?? 20_000);
  }

  private sendInit(viewer: Viewer): void {
    viewer.needsInit = false;
    viewer.stream.write(this.init);
  }

  private sendSegment(viewer: Viewer, data: Buffer): void {
    if (viewer.needsInit) return;
    // Every segment starts with a key frame: a viewer that cannot keep up skips whole ones and plays on.
    if (viewer.stream.writableLength > (this.opts.maxViewerLagBytes ?? 8 << 20)) {
      this.skipped += 1;
      return;
    }
    viewer.stream.write(data);
  }

  private logFfmpeg(line: string): void {
    const now = Date.now();
    if (now - this.logWindowStart > 60_000) {
      if (this.logSuppressed > 0)
        this.opts.logger.warn({ deviceId: this.deviceId, suppressed: this.logSuppressed }, "live view: ffmpeg messages suppressed");
      this.logWindowStart = now;
      this.logLines = 0;
      this.logSuppressed = 0;
    }
    if (this.logLines >= LOG_LINES_PER_MINUTE) {
      this.logSuppressed += 1;
      return;
    }
    this.logLines += 1;
    this.opts.logger.warn({ deviceId: this.deviceId, ffmpeg: line }, "live view: ffmpeg says");
  }

  private async kill(): Promise<void> {
    const child = this.child;
    const exited = this.childExited;
    if (!child || !exited) return;
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    const hard = setTimeout(() => child.kill("SIGKILL"), 3000);
    await exited;
    clearTimeout(hard);
  }
}

/** ffmpeg's arguments for one camera, and the strings that must never be logged (the credentials). */
export function ffmpegArgs(source: LiveSource, rtspTimeoutMs: number): { args: string[]; secrets: string[] } {
  const url = new URL(source.uri);
  // Credentials a camera embeds in its stream URI are dropped: the registry's are the ones used.
  url.username = source.username ? encodeURIComponent(source.username) : "";
  url.password = source.password ? encodeURIComponent(source.password) : "";
  const secrets = [source.password, source.password && encodeURIComponent(source.password)].filter((s): s is string => !!s);
  const args = [
    "-hide_banner",
    "-nostdin",
    "-loglevel",
    "warning",
    "-rtsp_transport",
    "tcp",
    "-timeout",
    String(rtspTimeoutMs * 1000),
    "-i",
    url.toString(),
    "-map",
    "0:v:0",
    "-c",
    "copy",
    "-an",
    "-f",
    "mp4",
    "-movflags",
    "+frag_keyframe+empty_moov+default_base_moof",
    "pipe:1",
  ];
  return { args, secrets };
}

/** Removes credentials from a line: the userinfo of any URL and every occurrence of a secret. */
export function redactor(secrets: string[]): (line: string) => string {
  return (line) => {
    let out = line.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/gi, "$1***@");
    for (const s of secrets) out = out.split(s).join("***");
    return out;
  };
}
