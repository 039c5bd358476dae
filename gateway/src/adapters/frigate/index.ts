import { join } from "node:path";
import {
  type CameraReply,
  type CameraRequest,
  type DeviceCommand,
  EVENT_SCHEMAS,
  type GatewayDevice,
  type Reading,
} from "@supervision/firmware-protocols";
import mqtt, { type MqttClient } from "mqtt";
import type { Logger } from "pino";
import type { ReadingSink } from "../../buffer/types.ts";
import { SequenceStore } from "../../devices/sequences.ts";
import type { AdapterHealth, DeviceAdapter, HttpAnswer } from "../adapter.ts";
import { EvidenceStore } from "../onvif/evidence-store.ts";
import { fetchSnapshot } from "../onvif/snapshot.ts";
import { type FrigateMessage, parseFrigateMessage } from "./messages.ts";
import type { FrigateSettings } from "./settings.ts";

type FrigateCamera = GatewayDevice & { frigate: NonNullable<GatewayDevice["frigate"]> };

export interface FrigateAdapterOptions {
  devices: GatewayDevice[];
  settings: FrigateSettings;
  logger: Logger;
  /** Sequence numbers in `frigate/sequences.json`, snapshots in `frigate/snapshots/`. */
  dataDir: string;
  /** The broker password (settings.passwordEnv read by the link). */
  password?: string | undefined;
}

/** One window's camera as Frigate sees it: pixel motion, the person events in its zone, and whether it is active. */
interface WindowState {
  device: FrigateCamera;
  motionOn: boolean;
  events: Set<string>;
  active: boolean;
}

const COMMIT_RETRY_MS = 1000;

/**
 * Frigate as a motion source (README.md beside this file): `{prefix}/{camera}/motion` ON/OFF and/or person events in
 * the window's zone make that window's motion episodes, each start and end a `motion` reading with the device's id
 * and a persistent sequence number (Frigate sends none); `{prefix}/available` is the cameras' health; the event's
 * snapshot from Frigate's API is the evidence of a start, its SHA-256 in the reading.
 */
export class FrigateAdapter implements DeviceAdapter {
  readonly name = "frigate";
  private client: MqttClient | undefined;
  private sink: ReadingSink | undefined;
  private sequences: SequenceStore | undefined;
  private evidence: EvidenceStore | undefined;
  private readonly windows = new Map<string, WindowState>();
  /** Frigate camera name → the windows it watches (one camera may watch several windows, one zone each). */
  private readonly byCamera = new Map<string, WindowState[]>();
  private readonly queues = new Map<string, Promise<void>>();
  private readonly heartbeats = new Map<string, NodeJS.Timeout>();
  private frigateState: "online" | "offline" | "stopped" | "unknown" = "unknown";
  private running = false;
  private lastError: string | null = null;
  /** Messages refused as malformed, for health and tests. */
  refused = 0;

  constructor(private readonly opts: FrigateAdapterOptions) {
    for (const device of FrigateAdapter.cameras(opts.devices)) {
      const state: WindowState = { device, motionOn: false, events: new Set(), active: false };
      this.windows.set(device.id, state);
      const list = this.byCamera.get(device.frigate.camera) ?? [];
      list.push(state);
      this.byCamera.set(device.frigate.camera, list);
    }
  }

  static cameras(devices: readonly GatewayDevice[]): FrigateCamera[] {
    return devices.filter((d): d is FrigateCamera => d.kind === "camera" && d.frigate !== undefined);
  }

  async start(sink: ReadingSink): Promise<void> {
    this.sink = sink;
    this.running = true;
    this.sequences = new SequenceStore(join(this.opts.dataDir, "frigate", "sequences.json"));
    const s = this.opts.settings;
    if (s.httpUrl)
      this.evidence = new EvidenceStore(join(this.opts.dataDir, "frigate", "snapshots"), {
        maxBytes: s.snapshots.maxBytes,
        retentionMs: s.snapshots.retentionDays * 86_400_000,
      });
    const prefix = s.topicPrefix;
    const client = mqtt.connect(s.url, {
      ...(s.username ? { username: s.username } : {}),
      ...(this.opts.password !== undefined ? { password: this.opts.password } : {}),
      clientId: `supervision-gateway-frigate-${process.pid}`,
      reconnectPeriod: 2000,
      connectTimeout: 10_000,
    });
    this.client = client;
    client.on("connect", () => {
      this.lastError = null;
      client.subscribe([`${prefix}/available`, `${prefix}/events`, `${prefix}/+/motion`], { qos: 1 }, (error) => {
        if (error) this.lastError = `subscription refused: ${error.message}`;
      });
      this.opts.logger.info({ url: s.url }, "connected to Frigate's broker");
    });
    client.on("message", (topic, payload) => this.onMessage(topic, payload));
    client.on("error", (error) => {
      this.lastError = error.message;
      this.opts.logger.warn({ err: error.message, url: s.url }, "Frigate's broker connection error");
    });
    client.on("close", () => {
      if (this.running) this.setAvailable("unknown");
    });
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const timer of this.heartbeats.values()) clearInterval(timer);
    this.heartbeats.clear();
    await this.client?.endAsync();
    this.client = undefined;
    await Promise.all(this.queues.values());
  }

  handles(deviceId: string): boolean {
    return this.windows.has(deviceId);
  }

  send(deviceId: string, command: DeviceCommand): Promise<void> {
    return Promise.reject(new Error(`${deviceId} is a Frigate camera: it takes no ${command.name} command`));
  }

  private healthy(): boolean {
    return this.frigateState === "online" && (this.client?.connected ?? false);
  }

  online(): string[] {
    return this.healthy() ? [...this.windows.keys()] : [];
  }

  health(): AdapterHealth {
    if (this.healthy()) return { ok: true };
    const why = !this.client?.connected
      ? `not connected to Frigate's broker at ${this.opts.settings.url}${this.lastError ? ` (${this.lastError})` : ""}`
      : this.frigateState === "unknown"
        ? `Frigate has not said it is available (${this.opts.settings.topicPrefix}/available)`
        : `Frigate is ${this.frigateState}`;
    return { ok: false, problem: why };
  }

  /** GET /api/frigate: Frigate's state and each window's camera, zone and whether someone is there. */
  route(path: string): HttpAnswer | undefined {
    if (path !== "/api/frigate") return undefined;
    return {
      status: 200,
      body: {
        frigate: this.frigateState,
        connected: this.client?.connected ?? false,
        refused: this.refused,
        cameras: [...this.windows.values()].map((w) => ({
          deviceId: w.device.id,
          camera: w.device.frigate.camera,
          zone: w.device.frigate.zone ?? null,
          active: w.active,
          events: w.events.size,
          motion: w.motionOn,
        })),
      },
    };
  }

  /** A kept Frigate snapshot for the hub (fetch by hash); PTZ and snapshot-now are not Frigate's. */
  async cameraRequest(request: CameraRequest): Promise<CameraReply | undefined> {
    if (request.op !== "fetch") return undefined;
    const found = this.evidence?.get(request.sha256);
    if (!found) return undefined;
    const facts = { v: 1 as const, reqId: request.reqId, deviceId: found.deviceId, sha256: request.sha256, ts: found.ts };
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

  private onMessage(topic: string, payload: Buffer): void {
    const parsed = parseFrigateMessage(this.opts.settings.topicPrefix, topic, payload);
    if (!parsed.ok) {
      this.refused++;
      this.opts.logger.warn({ reason: parsed.error }, "Frigate message refused");
      return;
    }
    const message = parsed.value;
    if (!message) return;
    if (message.kind === "available") this.setAvailable(message.state);
    else if (message.kind === "motion") this.onMotion(message);
    else this.onEvent(message);
  }

  private onMotion(message: Extract<FrigateMessage, { kind: "motion" }>): void {
    if (!this.opts.settings.use.includes("motion")) return;
    for (const w of this.byCamera.get(message.camera) ?? []) {
      w.motionOn = message.on;
      this.update(w, Date.now(), undefined);
    }
  }

  private onEvent(event: Extract<FrigateMessage, { kind: "event" }>): void {
    if (!this.opts.settings.use.includes("events")) return;
    const now = Date.now();
    for (const w of this.byCamera.get(event.camera) ?? []) {
      const zone = w.device.frigate.zone;
      const counts =
        event.type !== "end" &&
        !event.falsePositive &&
        this.opts.settings.labels.includes(event.label) &&
        (zone === undefined || event.zones.includes(zone));
      if (counts) w.events.add(event.id);
      else w.events.delete(event.id);
      // Frigate's own times (epoch seconds): the frame in which the person was first (or no longer) in the zone, the
      // event's end; never later than the gateway received them.
      const at = Math.min(now, (event.type === "end" ? (event.endMs ?? event.frameMs) : (event.frameMs ?? event.startMs)) ?? now);
      this.update(w, at, counts ? event : undefined);
    }
  }

  /** Frigate's availability is its cameras' health: while it is not online none gets a heartbeat and motion ends. */
  private setAvailable(state: "online" | "offline" | "stopped" | "unknown"): void {
    if (state === this.frigateState) return;
    this.frigateState = state;
    this.opts.logger[state === "online" ? "info" : "warn"]({ state }, "Frigate availability");
    for (const w of this.windows.values()) {
      clearInterval(this.heartbeats.get(w.device.id));
      this.heartbeats.delete(w.device.id);
      if (!this.healthy()) {
        w.motionOn = false;
        w.events.clear();
        this.update(w, Date.now(), undefined);
        continue;
      }
      const beat = () =>
        this.enqueue(w.device.id, "heartbeat", async () => ({
          v: 1 as const,
          deviceId: w.device.id,
          seq: this.sequences!.take(w.device.id),
          ts: Date.now(),
          intervalS: w.device.heartbeatS,
          uptimeS: 0,
        }));
      beat();
      const timer = setInterval(beat, w.device.heartbeatS * 1000);
      timer.unref();
      this.heartbeats.set(w.device.id, timer);
    }
  }

  /** A window is active while Frigate's motion is on or a counted event goes on; each change is one reading. */
  private update(w: WindowState, at: number, cause: Extract<FrigateMessage, { kind: "event" }> | undefined): void {
    const active = w.motionOn || w.events.size > 0;
    if (active === w.active) return;
    w.active = active;
    const device = w.device;
    const seq = this.sequences!.take(device.id);
    const source = w.events.size > 0 ? ("ai" as const) : ("vmd" as const);
    this.enqueue(device.id, "motion", async () => {
      const sha256 = active && cause ? await this.snapshot(device.id, cause.id) : undefined;
      return {
        v: 1 as const,
        deviceId: device.id,
        seq,
        ts: at,
        cameraId: device.cameraId ?? device.id,
        state: active ? "start" : "end",
        source,
        ...(sha256 ? { snapshotSha256: sha256 } : {}),
      };
    });
  }

  /** The event's snapshot from Frigate's API, kept as evidence; undefined (logged) when Frigate has none. */
  private async snapshot(deviceId: string, eventId: string): Promise<string | undefined> {
    const base = this.opts.settings.httpUrl;
    if (!base || !this.evidence) return undefined;
    const url = new URL(`api/events/${encodeURIComponent(eventId)}/snapshot.jpg`, base.endsWith("/") ? base : `${base}/`);
    try {
      const jpeg = await fetchSnapshot(url.toString(), {}, { timeoutMs: this.opts.settings.snapshots.timeoutMs, maxBytes: 8 << 20 });
      // Kept under the time it was taken here: retention counts from then, whatever the event's own time says.
      return this.evidence.put(deviceId, Date.now(), jpeg);
    } catch (error) {
      this.opts.logger.warn(
        { deviceId, eventId, err: (error as Error).message },
        "Frigate snapshot not fetched; motion reading goes without evidence",
      );
      return undefined;
    }
  }

  private enqueue(deviceId: string, kind: "motion" | "heartbeat", make: () => Promise<Record<string, unknown>>): void {
    const previous = this.queues.get(deviceId) ?? Promise.resolve();
    const next = previous.then(async () => {
      const event = await make();
      const checked = EVENT_SCHEMAS[kind].safeParse(event);
      if (!checked.success) {
        await this.sink!.deadLetter({
          rxTs: Date.now(),
          source: `frigate:${deviceId}`,
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
          if (!this.running) return;
          this.opts.logger.warn({ deviceId, kind, err: (error as Error).message }, "Frigate reading not committed yet; retrying");
          await new Promise((r) => setTimeout(r, COMMIT_RETRY_MS));
        }
      }
    });
    this.queues.set(
      deviceId,
      next.catch((error: Error) => this.opts.logger.error({ deviceId, err: error.message }, "Frigate reading lost")),
    );
  }
}
