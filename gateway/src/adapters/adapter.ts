import type { Readable } from "node:stream";
import type { CameraReply, CameraRequest, DeviceCommand, DeviceStatus, GatewayConfig } from "@supervision/firmware-protocols";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { z } from "zod";
import type { ReadingSink } from "../buffer/types.ts";

/**
 * A device adapter: one running device link (the MQTT broker, RS-485 buses, ONVIF cameras, ...). It turns what
 * devices send into validated readings committed to the sink, acknowledges devices only after the commit, and
 * delivers commands back to its devices.
 */
export interface DeviceAdapter {
  readonly name: string;
  /** Starts serving; every valid reading goes to `sink.append`, every refused one to `sink.deadLetter`. */
  start(sink: ReadingSink): Promise<void>;
  stop(): Promise<void>;
  /** True when this adapter serves the device (it is on one of its ports or cameras). */
  handles(deviceId: string): boolean;
  /** Delivers a command to one of its devices; rejects with a reason when the device cannot be reached. */
  send(deviceId: string, command: DeviceCommand): Promise<void>;
  /** Devices this adapter currently hears from. */
  online(): string[];
  /** Whether the link can serve its devices; without it, a started adapter counts as healthy. */
  health?(): AdapterHealth;
  /**
   * A new config whose slice for this link did not change (see `DeviceLink.slice`): apply what can change
   * while running (secrets, people). Without it, such a config needs nothing from this adapter.
   */
  configure?(config: GatewayConfig): void;
  /**
   * Optional: answers GET requests of the gateway's HTTP API under /api/<adapter name>/ (the API has checked the
   * caller's token). Undefined: not this adapter's path.
   */
  route?(path: string, query: URLSearchParams): HttpAnswer | undefined;
  /** Metrics of its own (e.g. `gateway_adms_*`), served on the gateway's /metrics. */
  readonly metrics?: Registry;
  /**
   * Optional: a camera request from the hub (PTZ, take a snapshot, fetch a kept one). Undefined: not this adapter's
   * camera or snapshot, another adapter may have it.
   */
  cameraRequest?(request: CameraRequest): Promise<CameraReply | undefined>;
  /** Devices that called and were refused as unknown (e.g. an ADMS serial not in the registry), for `gateway devices`. */
  refusedDevices?(): RefusedDevice[];
}

/**
 * An answer of the gateway's HTTP API: JSON for an object, the bytes as they are for a Buffer, streamed (chunked)
 * for a Readable until it ends or the client goes away (then it is destroyed).
 */
export interface HttpAnswer {
  status: number;
  body: object | Buffer | Readable;
  headers?: Record<string, string>;
}

/** A device that is not in the config but tried to reach the gateway. */
export interface RefusedDevice {
  /** How it named itself, with its link, e.g. "adms:BOCK200961014". */
  deviceId: string;
  lastSeen: number;
  requests: number;
  reason: string;
}

export interface AdapterHealth {
  /** False when the link cannot serve its devices (a listener is down, a port failed). */
  ok: boolean;
  /** What the operator should know or do when not ok. */
  problem?: string;
  /** Ports this link listens on, by purpose (e.g. `mqtt`, `mqtts`, `websocket`). */
  ports?: Record<string, number>;
}

/** What device links tell the gateway besides readings: device-reported status and connections. */
export interface DeviceSignals {
  status(deviceId: string, status: DeviceStatus): void;
  connected(deviceId: string, connected: boolean): void;
}

export interface LinkContext<S> {
  /** This link's section of the gateway settings, defaults filled in. */
  settings: S;
  /** The config from the hub (or the settings' inline one); undefined before the first. */
  config: GatewayConfig | undefined;
  logger: Logger;
  signals: DeviceSignals;
  /** The gateway's data folder, for what a link must keep across restarts (sequence numbers, evidence). */
  dataDir?: string;
  /** Opens a secret the hub sealed to this gateway for one of this link's devices; throws with the reason (never the secret). */
  openSecret?: (deviceId: string, field: string, sealed: string) => string;
}

/**
 * A kind of device link as a plug-in, the way Telegraf keeps its input plugins: a folder under
 * `gateway/src/adapters/` with a README, a `sample.yaml` of its settings section, this definition and its tests,
 * and one line in `adapters/index.ts`. The controller knows links only through this interface.
 */
export interface DeviceLink<S = unknown> {
  /** Its name in logs and `/api/status`; also its folder name. */
  readonly name: string;
  /** Its section in the gateway settings file. */
  readonly section: string;
  /** Schema of that section; an absent section means the defaults, so it must accept `undefined`. */
  readonly settings: z.ZodType<S>;
  /** The gateway does not start when this link cannot (e.g. its port is taken); other links' failures are logged. */
  readonly essential?: boolean;
  /**
   * The part of the config this link's adapter is built from (e.g. the serial devices and their ports). A new
   * config restarts the adapter only when this slice changed; otherwise the adapter's `configure` gets it.
   */
  slice(config: GatewayConfig | undefined): unknown;
  /** The adapter for this config, or undefined when no device of the config uses this link. */
  create(context: LinkContext<S>): DeviceAdapter | undefined;
}
