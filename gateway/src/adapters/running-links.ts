import type { CameraReply, CameraRequest, GatewayConfig } from "@supervision/firmware-protocols";
import type { Logger } from "pino";
import type { ReadingSink } from "../buffer/types.ts";
import type { AdapterHealth, DeviceAdapter, DeviceLink, DeviceSignals, HttpAnswer } from "./adapter.ts";

export interface RunningLinksOptions {
  links: readonly DeviceLink[];
  /** The gateway settings; each link reads its own section. */
  settings: object;
  /** Where every adapter commits what its devices send. */
  sink: ReadingSink;
  signals: DeviceSignals;
  logger: Logger;
  /** The gateway's data folder, handed to each link (see LinkContext). */
  dataDir?: string;
  /** Opens a sealed link secret: (device, link name, field, sealed) → clear text; throws with the reason. */
  openSecret?: (deviceId: string, link: string, field: string, sealed: string) => string;
}

interface LinkState {
  readonly link: DeviceLink;
  /** The link's slice of the config its adapter was built from, serialised for comparison. */
  slice: string;
  adapter: DeviceAdapter | undefined;
  /** Why its adapter failed to start, until it starts again. */
  failure: string | undefined;
  /** Restarts of this link run one after the other. */
  restarting: Promise<void>;
}

/**
 * The device links of a running gateway: starts each link's adapter, restarts only the links whose slice of a new
 * config changed (the others get `configure`), finds the adapter serving a device, and reports health.
 */
export class RunningLinks {
  readonly #opts: RunningLinksOptions;
  readonly #states: LinkState[];
  #config: GatewayConfig | undefined;

  constructor(opts: RunningLinksOptions) {
    this.#opts = opts;
    this.#states = opts.links.map((link) => ({ link, slice: "", adapter: undefined, failure: undefined, restarting: Promise.resolve() }));
  }

  /** Starts every link for this config; throws when an essential link cannot start (the others are then stopped). */
  async start(config: GatewayConfig | undefined): Promise<void> {
    this.#config = config;
    for (const state of this.#states) {
      try {
        await this.#startLink(state);
      } catch (error) {
        await this.stop();
        throw error;
      }
    }
  }

  /** A new config: restarts the links whose slice changed, hands it to the others. */
  apply(config: GatewayConfig): void {
    this.#config = config;
    for (const state of this.#states) {
      if (sliceOf(state.link, config) === state.slice) {
        state.adapter?.configure?.(config);
        continue;
      }
      // The restart builds the adapter from the newest config when it runs, so quick successive configs end up in
      // the adapter that serves; the slice is noted now so that they do not each queue a restart.
      state.slice = sliceOf(state.link, config);
      state.restarting = state.restarting.then(async () => {
        await this.#stopLink(state);
        await this.#startLink(state).catch(() => undefined); // logged; health shows it
      });
    }
  }

  /** Resolves when the restarts that configs asked for so far are done. */
  async settled(): Promise<void> {
    await Promise.all(this.#states.map((s) => s.restarting));
  }

  async stop(): Promise<void> {
    await this.settled();
    await Promise.all(this.#states.map((s) => this.#stopLink(s)));
  }

  /** The adapter that serves this device, the first in link order. */
  serving(deviceId: string): DeviceAdapter | undefined {
    for (const { adapter } of this.#states) if (adapter?.handles(deviceId)) return adapter;
    return undefined;
  }

  /** The answer of the first running adapter that serves this HTTP API path (/api/cameras/...). */
  route(path: string, query: URLSearchParams): HttpAnswer | undefined {
    for (const { adapter } of this.#states) {
      const answer = adapter?.route?.(path, query);
      if (answer) return answer;
    }
    return undefined;
  }

  /**
   * A camera request from the hub: PTZ and snapshot go to the adapter serving the camera, a fetch to each adapter
   * until one holds the snapshot. Always an answer, with the reason when nobody could.
   */
  async cameraRequest(request: CameraRequest): Promise<CameraReply> {
    const adapters = request.op === "fetch" ? this.adapters() : [this.serving(request.deviceId)].filter((a) => a !== undefined);
    for (const adapter of adapters) {
      const reply = await adapter.cameraRequest?.(request);
      if (reply) return reply;
    }
    const error =
      request.op === "fetch"
        ? `no snapshot ${request.sha256} on this gateway (never taken here, or past its retention)`
        : `${request.deviceId} is not a camera of this gateway that takes ${request.op} requests`;
    return { v: 1, reqId: request.reqId, ok: false, code: "not_found", error };
  }

  /** The running adapters, in link order. */
  adapters(): DeviceAdapter[] {
    return this.#states.flatMap((s) => (s.adapter ? [s.adapter] : []));
  }

  /** Devices any link currently hears from. */
  online(): string[] {
    return this.#states.flatMap((s) => s.adapter?.online() ?? []);
  }

  /** Each running or failed link's health, by link name; links that no device uses are left out. */
  health(): Record<string, AdapterHealth> {
    const health: Record<string, AdapterHealth> = {};
    for (const { link, adapter, failure } of this.#states) {
      if (failure !== undefined) health[link.name] = { ok: false, problem: failure };
      else if (adapter) health[link.name] = adapter.health?.() ?? { ok: true };
    }
    return health;
  }

  /** True when every essential link serves its devices. */
  essentialHealthy(): boolean {
    const health = this.health();
    return this.#states.every(({ link }) => !link.essential || health[link.name]?.ok === true);
  }

  async #startLink(state: LinkState): Promise<void> {
    const { link } = state;
    const { settings, logger, signals, sink } = this.#opts;
    const config = this.#config;
    state.slice = sliceOf(link, config);
    state.failure = undefined;
    const sections = settings as Record<string, unknown>;
    const adapter = link.create({
      // A link missing from the settings schema (a test's own) gets its defaults.
      settings: link.section in sections ? sections[link.section] : link.settings.parse(undefined),
      config,
      logger: logger.child({ component: link.name }),
      signals,
      ...(this.#opts.dataDir !== undefined ? { dataDir: this.#opts.dataDir } : {}),
      ...(this.#opts.openSecret
        ? { openSecret: (deviceId: string, field: string, sealed: string) => this.#opts.openSecret!(deviceId, link.name, field, sealed) }
        : {}),
    });
    state.adapter = adapter;
    if (!adapter) return;
    try {
      await adapter.start(sink);
    } catch (error) {
      state.failure = (error as Error).message;
      if (link.essential) throw error;
      logger.error({ adapter: link.name, err: state.failure }, "device link failed to start; the other links are unaffected");
    }
  }

  async #stopLink(state: LinkState): Promise<void> {
    const adapter = state.adapter;
    state.adapter = undefined;
    await adapter?.stop();
  }
}

const sliceOf = (link: DeviceLink, config: GatewayConfig | undefined) => JSON.stringify(link.slice(config) ?? null);
