import { join } from "node:path";
import {
  type CameraReply,
  type CameraRequest,
  type DeviceCommand,
  EVENT_SCHEMAS,
  type GatewayDevice,
  type Reading,
} from "@supervision/firmware-protocols";
import type { Logger } from "pino";
import type { ReadingSink } from "../../buffer/types.ts";
import { SequenceStore } from "../../devices/sequences.ts";
import type { AdapterHealth, DeviceAdapter, HttpAnswer } from "../adapter.ts";
import { CameraLink, type CameraHealth } from "./camera-link.ts";
import type { EpisodeEdge } from "./episode.ts";
import { EvidenceStore, type FetchedSnapshot, THIRTY_DAYS_MS } from "./evidence-store.ts";
import { describeError } from "./cam-client.ts";
import { describePtz, sendPtz } from "./ptz.ts";
import { fetchSnapshot } from "./snapshot.ts";
import { LiveRelay, type LiveRelayStatus } from "./live/relay.ts";

export type { CameraHealth } from "./camera-link.ts";

export interface OnvifAdapterOptions {
  /** The configured devices; cameras with `onvif` are served. */
  devices: GatewayDevice[];
  logger: Logger;
  /** The gateway's data folder: sequence numbers live in `cameras/sequences.json`. */
  dataDir: string;
  /** Motion episode ends this long after the last motion report when the camera never says stop (default 120 s). */
  quietMs?: number;
  backoffMs?: number;
  maxBackoffMs?: number;
  renewBeforeMs?: number;
  requestTimeoutMs?: number;
  streamCheckMs?: number;
  /** Opens a camera's sealed password (LinkContext.openSecret); without it a camera with a password is not followed. */
  openSecret?: (deviceId: string, field: string, sealed: string) => string;
  /** Snapshots at each motion edge, kept in `dataDir/cameras/snapshots`; false: none. */
  snapshots?: SnapshotSettings | false;
  /** Live view (ffmpeg per watched camera, H.264 passed through as fragmented MP4); false: refused. */
  live?: LiveSettings | false;
}

export interface LiveSettings {
  /** The ffmpeg binary (default "ffmpeg" on PATH). */
  ffmpeg?: string;
  /** ffmpeg stops this long after a camera's last viewer left (default 5 s). */
  lingerMs?: number;
  /** Viewers of one camera at once (default 8); one more is refused with 503. */
  maxViewers?: number;
  /** First wait before restarting an exited ffmpeg, doubling to maxBackoffMs (defaults 1 s, 30 s). */
  backoffMs?: number;
  maxBackoffMs?: number;
}

export interface SnapshotSettings {
  /** Bound of the snapshot folder; the oldest go first (default 1 GiB). */
  maxBytes?: number;
  /** Kept this long (default 30 days). */
  retentionMs?: number;
  /** How long a camera has to hand over a snapshot before the reading goes without one (default 5 s). */
  timeoutMs?: number;
}

const SNAPSHOT_MAX_BYTES = 8 << 20;

type OnvifCamera = GatewayDevice & { onvif: NonNullable<GatewayDevice["onvif"]> };
const COMMIT_RETRY_MS = 1000;

/**
 * ONVIF cameras (README.md beside this file): motion by PullPoint subscription, each motion start and end a
 * `motion` reading with the camera's device id and a persistent sequence number, committed to the buffer like any
 * reading; while a camera is healthy (subscription answering, stream reachable) it gets a heartbeat reading every
 * `heartbeatS`, so a camera that goes away turns offline in availability and at the hub, as any silent device.
 */
export class OnvifAdapter implements DeviceAdapter {
  readonly name = "onvif";
  private readonly links = new Map<string, CameraLink>();
  private readonly heartbeats = new Map<string, NodeJS.Timeout>();
  /** Live view relays, made on a camera's first viewer. */
  private readonly relays = new Map<string, LiveRelay>();
  /** Readings of one camera are committed in order, each retried until the buffer takes it. */
  private readonly queues = new Map<string, Promise<void>>();
  private sink: ReadingSink | undefined;
  private sequences: SequenceStore | undefined;
  private evidence: EvidenceStore | undefined;
  private retentionTimer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(private readonly opts: OnvifAdapterOptions) {}

  static cameras(devices: readonly GatewayDevice[]): OnvifCamera[] {
    return devices.filter((d): d is OnvifCamera => d.kind === "camera" && d.onvif !== undefined);
  }

  async start(sink: ReadingSink): Promise<void> {
    this.sink = sink;
    this.running = true;
    this.sequences = new SequenceStore(join(this.opts.dataDir, "cameras", "sequences.json"));
    if (this.opts.snapshots !== false) {
      const s = this.opts.snapshots ?? {};
      this.evidence = new EvidenceStore(join(this.opts.dataDir, "cameras", "snapshots"), {
        maxBytes: s.maxBytes ?? 1 << 30,
        retentionMs: s.retentionMs ?? THIRTY_DAYS_MS,
      });
      this.retentionTimer = setInterval(() => this.evidence?.enforce(), 3_600_000);
      this.retentionTimer.unref();
    }
    for (const device of OnvifAdapter.cameras(this.opts.devices)) {
      const link: CameraLink = new CameraLink({
        device,
        password: this.openPassword(device),
        logger: this.opts.logger,
        quietMs: this.opts.quietMs ?? 120_000,
        backoffMs: this.opts.backoffMs ?? 1000,
        maxBackoffMs: this.opts.maxBackoffMs ?? 60_000,
        renewBeforeMs: this.opts.renewBeforeMs ?? 30_000,
        requestTimeoutMs: this.opts.requestTimeoutMs ?? 10_000,
        streamCheckMs: this.opts.streamCheckMs ?? 60_000,
        onEdge: (edge) => this.onEdge(device, edge),
        onHealth: (healthy) => this.onHealth(device, link, healthy),
      });
      this.links.set(device.id, link);
      link.start();
    }
  }

  private openPassword(device: OnvifCamera): { ok: true; value: string | undefined } | { ok: false; reason: string } {
    const sealed = device.onvif.password;
    if (sealed === undefined) return { ok: true, value: undefined };
    if (!this.opts.openSecret) return { ok: false, reason: "this gateway cannot open sealed secrets" };
    try {
      return { ok: true, value: this.opts.openSecret(device.id, "password", sealed) };
    } catch (error) {
      return { ok: false, reason: (error as Error).message };
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.retentionTimer);
    for (const timer of this.heartbeats.values()) clearInterval(timer);
    this.heartbeats.clear();
    // Every live ffmpeg is stopped and waited for before the gateway goes on stopping: none is left behind.
    await Promise.all([...this.relays.values()].map((r) => r.stop()));
    this.relays.clear();
    await Promise.all([...this.links.values()].map((l) => l.stop()));
    this.links.clear();
    await Promise.all(this.queues.values());
  }

  handles(deviceId: string): boolean {
    return this.links.has(deviceId);
  }

  send(deviceId: string, command: DeviceCommand): Promise<void> {
    return Promise.reject(new Error(`${deviceId} is an ONVIF camera: it takes no ${command.name} command`));
  }

  online(): string[] {
    return [...this.links.values()].filter((l) => l.isHealthy()).map((l) => l.deviceId);
  }

  /** Each camera's health: subscription, last pull and event, stream, clock skew, last error. */
  cameras(): CameraHealth[] {
    return [...this.links.values()].map((l) => ({ ...l.health }));
  }

  /** Not ok while a camera is unhealthy; the problem names each one and why. */
  health(): AdapterHealth {
    const sick = [...this.links.values()].filter((l) => !l.isHealthy());
    if (sick.length === 0) return { ok: true };
    const why = (l: CameraLink) =>
      l.health.lastError ??
      (!l.health.subscribed
        ? "no motion subscription yet"
        : l.health.streamReachable === false
          ? "RTSP stream does not answer"
          : "no answer to PullMessages lately");
    return { ok: false, problem: sick.map((l) => `${l.deviceId}: ${why(l)}`).join("; ") };
  }

  link(deviceId: string): CameraLink | undefined {
    return this.links.get(deviceId);
  }

  /**
   * Takes a snapshot of a camera now and keeps it as evidence; resolves with its SHA-256 (hex), or undefined when the
   * camera has no snapshot URI yet or snapshots are off. Rejects with the camera's reason.
   */
  async snapshot(deviceId: string): Promise<string | undefined> {
    const link = this.links.get(deviceId);
    if (!link) throw new Error(`${deviceId} is not an ONVIF camera of this gateway`);
    const uri = link.snapshotUrl();
    if (!uri || !this.evidence) return undefined;
    const timeoutMs = (this.opts.snapshots || {}).timeoutMs ?? 5000;
    const jpeg = await fetchSnapshot(uri, link.credentials(), { timeoutMs, maxBytes: SNAPSHOT_MAX_BYTES });
    return this.evidence.put(deviceId, Date.now(), jpeg);
  }

  /**
   * GET /api/cameras: each camera's health; /api/cameras/snapshots: the kept snapshots; /api/cameras/snapshots/<sha256>:
   * the JPEG, after checking its bytes against the hash in its name (409 "tampered" when they differ).
   */
  route(path: string): HttpAnswer | undefined {
    if (path === "/api/cameras") return { status: 200, body: this.cameras() };
    if (path === "/api/cameras/live") return { status: 200, body: this.liveStatus() };
    const live = /^\/api\/cameras\/live\/([^/]+)$/.exec(path);
    if (live) return this.watch(decodeURIComponent(live[1]!));
    if (path === "/api/cameras/snapshots") return { status: 200, body: this.evidence?.list() ?? [] };
    const m = /^\/api\/cameras\/snapshots\/([^/]*)$/.exec(path);
    if (!m) return undefined;
    const sha = m[1]!;
    if (!/^[0-9a-f]{64}$/.test(sha)) return { status: 400, body: { error: "a snapshot is named by its SHA-256: 64 lowercase hex digits" } };
    const found = this.evidence?.get(sha);
    if (!found) return { status: 404, body: { error: `no snapshot ${sha} on this gateway (never taken, or past its retention)` } };
    const { data, ...facts } = found;
    if (found.tampered)
      return {
        status: 409,
        body: { status: "tampered", ...facts, error: "the kept file does not match the hash recorded in its reading" },
      };
    return {
      status: 200,
      body: data,
      headers: { "content-type": "image/jpeg", "x-snapshot-sha256": sha, "x-snapshot-check": "ok", "x-snapshot-device": found.deviceId },
    };
  }

  /** Each watched camera's live relay: viewers, ffmpeg's pid, starts, last exit. */
  liveStatus(): LiveRelayStatus[] {
    return [...this.relays.values()].map((r) => r.status());
  }

  /**
   * GET /api/cameras/live/<deviceId>: the camera's live picture as fragmented MP4 (H.264 passed through), for as long
   * as the client reads it; the first viewer starts the camera's ffmpeg, the last one leaving stops it.
   */
  private watch(deviceId: string): HttpAnswer {
    const link = this.links.get(deviceId);
    if (!link) return { status: 404, body: { error: `${deviceId} is not an ONVIF camera of this gateway (GET /api/cameras lists them)` } };
    const settings = this.opts.live;
    if (settings === false || !this.running)
      return { status: 503, body: { error: "live view is off on this gateway (onvif.live.enabled)" } };
    let relay = this.relays.get(deviceId);
    if (!relay) {
      relay = new LiveRelay({
        deviceId,
        logger: this.opts.logger,
        source: () => {
          const uri = link.rtspUrl();
          return uri ? { uri, ...link.credentials() } : undefined;
        },
        ...(settings?.ffmpeg ? { ffmpeg: settings.ffmpeg } : {}),
        lingerMs: settings?.lingerMs ?? 5000,
        backoffMs: settings?.backoffMs ?? 1000,
        maxBackoffMs: settings?.maxBackoffMs ?? 30_000,
        rtspTimeoutMs: this.opts.requestTimeoutMs ?? 10_000,
      });
      this.relays.set(deviceId, relay);
    }
    const max = settings?.maxViewers ?? 8;
    if (relay.status().viewers >= max)
      return { status: 503, body: { error: `${deviceId} already has ${max} viewers (onvif.live.maxViewers)` } };
    if (!link.rtspUrl())
      return { status: 503, body: { error: `${deviceId} has not told its RTSP stream URI yet (GET /api/cameras: lastError)` } };
    return { status: 200, body: relay.addViewer(), headers: { "content-type": "video/mp4", "cache-control": "no-store" } };
  }

  /**
   * A camera request from the hub: turn a camera, take a snapshot now (kept as evidence, its hash answered), or send
   * a kept snapshot checked against its hash. Undefined: not this adapter's camera or snapshot.
   */
  async cameraRequest(request: CameraRequest): Promise<CameraReply | undefined> {
    const { reqId } = request;
    const fail = (code: "not_found" | "camera_error", error: string, deviceId?: string): CameraReply => ({
      v: 1,
      reqId,
      ok: false,
      code,
      error,
      ...(deviceId ? { deviceId } : {}),
    });
    if (request.op === "fetch") {
      const found = this.evidence?.get(request.sha256);
      if (!found) return undefined;
      const facts = { v: 1 as const, reqId, deviceId: found.deviceId, sha256: request.sha256, ts: found.ts };
      if (found.tampered)
        return {
          ...facts,
          ok: false,
          code: "tampered",
          actualSha256: found.actualSha256,
          error: "the kept file does not match the hash recorded in its reading",
        };
      return { ...facts, ok: true, jpegBase64: found.data.toString("base64") };
    }
    const link = this.links.get(request.deviceId);
    if (!link) return undefined;
    const { deviceId } = request;
    if (request.op === "snapshot") {
      try {
        const ts = Date.now();
        const sha256 = await this.snapshot(deviceId);
        if (!sha256) return fail("camera_error", snapshotsOff(this.evidence !== undefined), deviceId);
        this.opts.logger.info({ deviceId, sha256 }, "snapshot taken for the hub");
        return { v: 1, reqId, ok: true, deviceId, sha256, ts };
      } catch (error) {
        return fail("camera_error", `snapshot failed: ${describeError(error)}`, deviceId);
      }
    }
    const cam = link.camera();
    if (!cam) return fail("camera_error", `camera ${deviceId} is not connected yet: ${link.health.lastError ?? "connecting"}`, deviceId);
    try {
      await sendPtz(cam, request.ptz);
      this.opts.logger.info({ deviceId, ptz: describePtz(request.ptz) }, "camera turned for the hub");
      return { v: 1, reqId, ok: true, deviceId };
    } catch (error) {
      return fail("camera_error", `camera refused to ${describePtz(request.ptz)}: ${describeError(error)}`, deviceId);
    }
  }

  /** A kept snapshot by the hash its reading recorded, checked against that hash. */
  storedSnapshot(sha256: string): FetchedSnapshot | undefined {
    return this.evidence?.get(sha256);
  }

  private onEdge(device: OnvifCamera, edge: EpisodeEdge): void {
    const seq = this.sequences!.take(device.id);
    this.enqueue(
      device.id,
      async () => {
        const sha256 = await this.snapshot(device.id).catch((error: Error) => {
          this.opts.logger.warn(
            { deviceId: device.id, err: error.message },
            "camera snapshot failed; motion reading goes without evidence",
          );
          return undefined;
        });
        const event = {
          v: 1 as const,
          deviceId: device.id,
          seq,
          ts: edge.at,
          cameraId: device.cameraId ?? device.id,
          state: edge.state,
          source: "onvif" as const,
          ...(sha256 ? { snapshotSha256: sha256 } : {}),
        };
        return event;
      },
      "motion",
    );
  }

  private onHealth(device: OnvifCamera, link: CameraLink, healthy: boolean): void {
    clearInterval(this.heartbeats.get(device.id));
    this.heartbeats.delete(device.id);
    if (!healthy || !this.running) return;
    const beat = () =>
      this.enqueue(
        device.id,
        async () => ({
          v: 1 as const,
          deviceId: device.id,
          seq: this.sequences!.take(device.id),
          ts: Date.now(),
          intervalS: device.heartbeatS,
          uptimeS: link.uptimeS(),
        }),
        "heartbeat",
      );
    beat();
    const timer = setInterval(beat, device.heartbeatS * 1000);
    timer.unref();
    this.heartbeats.set(device.id, timer);
  }

  private enqueue(deviceId: string, make: () => Promise<Record<string, unknown>>, kind: "motion" | "heartbeat"): void {
    const previous = this.queues.get(deviceId) ?? Promise.resolve();
    const next = previous.then(async () => {
      const event = await make();
      const checked = EVENT_SCHEMAS[kind].safeParse(event);
      if (!checked.success) {
        this.opts.logger.error({ deviceId, kind, issues: checked.error.issues }, "camera reading failed its own schema; dead-lettered");
        await this.sink!.deadLetter({
          rxTs: Date.now(),
          source: `onvif:${deviceId}`,
          deviceId,
          code: "invalid_field",
          message: checked.error.message,
          payload: Buffer.from(JSON.stringify(event)),
        });
        return;
      }
      const { v: _v, ...fields } = checked.data;
      const reading = { ...fields, kind, rxTs: Date.now() } as Reading;
      for (;;) {
        try {
          await this.sink!.append(reading);
          return;
        } catch (error) {
          // Motion is never dropped: the buffer refuses only when full or failing; try again while running.
          if (!this.running) {
            this.opts.logger.error(
              { deviceId, kind, seq: reading.seq, err: (error as Error).message },
              "camera reading not committed before stop",
            );
            return;
          }
          this.opts.logger.warn({ deviceId, kind, err: (error as Error).message }, "camera reading not committed yet; retrying");
          await new Promise((r) => setTimeout(r, COMMIT_RETRY_MS));
        }
      }
    });
    const settled = next.catch((error: Error) => this.opts.logger.error({ deviceId, err: error.message }, "camera reading lost"));
    this.queues.set(deviceId, settled);
  }
}

function snapshotsOff(enabled: boolean): string {
  return enabled
    ? "the camera has no snapshot URI (GetSnapshotUri gave none)"
    : "snapshots are off on this gateway (onvif.snapshots.enabled)";
}
