import { join } from "node:path";
import { type DeviceCommand, EVENT_SCHEMAS, type GatewayDevice, type Reading } from "@supervision/firmware-protocols";
import type { Logger } from "pino";
import type { ReadingSink } from "../../buffer/types.ts";
import { SequenceStore } from "../../devices/sequences.ts";
import type { DeviceAdapter } from "../adapter.ts";
import { CameraLink, type CameraHealth } from "./camera-link.ts";
import type { EpisodeEdge } from "./episode.ts";

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
  /**
   * Evidence for a motion edge: called before the reading is committed; its answer (a snapshot's SHA-256, hex)
   * goes into the reading. Bounded by the caller; undefined when there is none.
   */
  evidence?: (camera: CameraLink, edge: EpisodeEdge) => Promise<string | undefined>;
}

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
  /** Readings of one camera are committed in order, each retried until the buffer takes it. */
  private readonly queues = new Map<string, Promise<void>>();
  private sink: ReadingSink | undefined;
  private sequences: SequenceStore | undefined;
  private running = false;

  constructor(private readonly opts: OnvifAdapterOptions) {}

  static cameras(devices: readonly GatewayDevice[]): OnvifCamera[] {
    return devices.filter((d): d is OnvifCamera => d.kind === "camera" && d.onvif !== undefined);
  }

  async start(sink: ReadingSink): Promise<void> {
    this.sink = sink;
    this.running = true;
    this.sequences = new SequenceStore(join(this.opts.dataDir, "cameras", "sequences.json"));
    for (const device of OnvifAdapter.cameras(this.opts.devices)) {
      const link: CameraLink = new CameraLink({
        device,
        logger: this.opts.logger,
        quietMs: this.opts.quietMs ?? 120_000,
        backoffMs: this.opts.backoffMs ?? 1000,
        maxBackoffMs: this.opts.maxBackoffMs ?? 60_000,
        renewBeforeMs: this.opts.renewBeforeMs ?? 30_000,
        requestTimeoutMs: this.opts.requestTimeoutMs ?? 10_000,
        streamCheckMs: this.opts.streamCheckMs ?? 60_000,
        onEdge: (edge) => this.onEdge(device, link, edge),
        onHealth: (healthy) => this.onHealth(device, link, healthy),
      });
      this.links.set(device.id, link);
      link.start();
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const timer of this.heartbeats.values()) clearInterval(timer);
    this.heartbeats.clear();
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

  health(): CameraHealth[] {
    return [...this.links.values()].map((l) => ({ ...l.health }));
  }

  link(deviceId: string): CameraLink | undefined {
    return this.links.get(deviceId);
  }

  private onEdge(device: OnvifCamera, link: CameraLink, edge: EpisodeEdge): void {
    const seq = this.sequences!.take(device.id);
    this.enqueue(device.id, async () => {
      const sha256 = await this.opts.evidence?.(link, edge).catch((error: Error) => {
        this.opts.logger.warn({ deviceId: device.id, err: error.message }, "camera snapshot failed; motion reading goes without evidence");
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
    }, "motion");
  }

  private onHealth(device: OnvifCamera, link: CameraLink, healthy: boolean): void {
    clearInterval(this.heartbeats.get(device.id));
    this.heartbeats.delete(device.id);
    if (!healthy || !this.running) return;
    const beat = () =>
      this.enqueue(
        device.id,
        async () => ({ v: 1 as const, deviceId: device.id, seq: this.sequences!.take(device.id), ts: Date.now(), intervalS: device.heartbeatS, uptimeS: link.uptimeS() }),
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
        await this.sink!.deadLetter({ rxTs: Date.now(), source: `onvif:${deviceId}`, deviceId, code: "invalid_field", message: checked.error.message, payload: Buffer.from(JSON.stringify(event)) });
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
            this.opts.logger.error({ deviceId, kind, seq: reading.seq, err: (error as Error).message }, "camera reading not committed before stop");
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
