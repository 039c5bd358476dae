import type { KeyObject } from "node:crypto";
import type { CameraReply, CameraRequest, DeviceEvent, GatewayCommand, GatewayConfig } from "@supervision/firmware-protocols";
import { openSecret, secretContext } from "@supervision/firmware-protocols";
import type { Logger } from "pino";
import type { AdapterHealth, DeviceLink } from "./adapters/adapter.ts";
import { DEVICE_LINKS } from "./adapters/index.ts";
import { RunningLinks } from "./adapters/running-links.ts";
import type { BufferStats, ReadingSink } from "./buffer/types.ts";
import { AvailabilityTracker } from "./devices/availability.ts";
import { deliverCommand } from "./devices/command-delivery.ts";
import { CommandPlanner, type Outgoing } from "./devices/commands.ts";
import { observedSink } from "./devices/observed-sink.ts";
import { PresenceTracker, presenceSink } from "./devices/presence.ts";
import { clerkCheckedSink, WindowClerks } from "./devices/window-clerks.ts";
import { createGatewayMetrics } from "./http/metrics.ts";
import { type HttpApi, startHttpApi } from "./http/server.ts";
import { ConfigStore } from "./config/store.ts";
import type { Settings } from "./settings/settings.ts";
import type { UplinkStatus } from "./uplink/index.ts";

export interface GatewayParts {
  settings: Settings;
  sink: ReadingSink;
  logger: Logger;
  /** The gateway's config path (received → checked → stored → applied); by default one in memory from `config`. */
  store?: ConfigStore;
  /** Without a store: the config to start with (else the settings' inline one). */
  config?: GatewayConfig;
  bufferStats?: () => BufferStats;
  uplinkConnected?: () => boolean;
  /** The uplink's own report (state, in flight, round trip, drain progress), for /api/status and /metrics. */
  uplinkStatus?: () => UplinkStatus | undefined;
  deadLetters?: (limit: number, offset?: number) => object[];
  /** The device links to run; every link in `adapters/index.ts` unless a test picks some. */
  links?: readonly DeviceLink[];
  /** The gateway's X25519 sealing key: opens the link secrets (camera passwords) the hub sealed to it. */
  sealingKey?: KeyObject;
  /**
   * Where heartbeats go when the settings summarise them (`heartbeats.summaryS` > 0): runGateway's keeps its state in
   * the data folder; without one, a tracker in memory over `sink`.
   */
  presence?: PresenceTracker;
}

/** What /api/status shows and the status report to the hub is built from. */
export interface GatewayState {
  gatewayId: string;
  configVersion: number | null;
  devices: { online: number; total: number };
  buffer: BufferStats | null;
  uplinkConnected: boolean;
  uplink: UplinkStatus | null;
  /** Each device link in use: healthy or what is wrong, and the ports it listens on. */
  links: Record<string, AdapterHealth>;
}

export interface RunningGateway {
  readonly httpPort: number;
  /**
   * Offers a config to the config store, which checks it once (an older version or another gateway's is ignored);
   * devices, secrets and people then apply at once; only links whose part changed restart.
   */
  applyConfig(config: GatewayConfig): void;
  handleHubCommand(command: GatewayCommand): Promise<void>;
  /** A camera request from the hub (PTZ, snapshot, fetch a kept snapshot): always answered. */
  handleCameraRequest(request: CameraRequest): Promise<CameraReply>;
  status(): GatewayState;
  close(): Promise<void>;
}

/** Wires the device side of the gateway: device links, availability, commands, metrics and the HTTP API. */
export async function startGateway(parts: GatewayParts): Promise<RunningGateway> {
  const { settings, sink, logger } = parts;
  const store = parts.store ?? new ConfigStore({ gatewayId: settings.gatewayId, initial: parts.config ?? settings.config, logger });
  let config = store.current();
  const availability = new AvailabilityTracker();
  availability.setDevices(config?.devices ?? []);
  const planner = new CommandPlanner(config);
  const windowClerks = new WindowClerks(config);
  const presence =
    settings.heartbeats.summaryS > 0
      ? (parts.presence ??
        new PresenceTracker({ sink, summaryMs: settings.heartbeats.summaryS * 1000, logger: logger.child({ component: "presence" }) }))
      : undefined;
  presence?.setDevices(config?.devices ?? []);
  const deviceSink = presence ? presenceSink(sink, presence) : sink;

  const send = (messages: Outgoing[]) => {
    for (const m of messages) {
      deliverCommand(m, (id) => links.serving(id)).catch((error: Error) =>
        logger.warn({ err: error, topic: m.topic }, "command not delivered"),
      );
    }
  };
  const metrics = createGatewayMetrics({
    devicesConnected: () => links.online().length,
    devicesOnline: () => availability.counts().online,
    buffer: () => parts.bufferStats?.(),
    uplinkConnected: () => parts.uplinkConnected?.() ?? false,
    uplink: () => parts.uplinkStatus?.(),
  });
  const links = new RunningLinks({
    links: parts.links ?? DEVICE_LINKS,
    settings,
    dataDir: settings.dataDir,
    openSecret: (deviceId, link, field, sealed) => {
      if (!parts.sealingKey) throw new Error("this gateway has no sealing key to open its devices' secrets");
      const opened = openSecret(sealed, parts.sealingKey, secretContext(settings.gatewayId, deviceId, link, field));
      if (!opened.ok) throw new Error(`${link}.${field} of ${deviceId}: ${opened.error.message}`);
      return opened.value;
    },
    logger,
    signals: {
      status: (deviceId, status) => availability.status(deviceId, status),
      connected: (deviceId, connected) => availability.connected(deviceId, connected),
    },
    // Every link's readings and refusals take the same path: metrics, availability, commands back to devices.
    sink: observedSink(clerkCheckedSink(deviceSink, windowClerks, logger), {
      committed(event: DeviceEvent, stored) {
        metrics.accepted.inc({ kind: event.kind, result: stored });
        availability.event(event.deviceId, event.kind === "heartbeat" ? event.intervalS : undefined);
        if (stored === "stored") send(planner.afterEvent(event));
      },
      refused(deviceId, code) {
        metrics.rejected.inc({ code });
        send(planner.afterRejection(deviceId, code));
      },
    }),
  });
  await links.start(config);
  presence?.start();

  const status = (): GatewayState => ({
    gatewayId: settings.gatewayId,
    configVersion: config?.version ?? null,
    devices: availability.counts(),
    buffer: parts.bufferStats?.() ?? null,
    uplinkConnected: parts.uplinkConnected?.() ?? false,
    uplink: parts.uplinkStatus?.() ?? null,
    links: links.health(),
  });

  let http: HttpApi;
  try {
    http = await startHttpApi({
      host: settings.http.host,
      port: settings.http.port,
      registry: metrics.registry,
      moreMetrics: () => links.adapters().flatMap((a) => (a.metrics ? [a.metrics] : [])),
      probe: {
        brokerListening: () => links.essentialHealthy(),
        bufferWritable: () => {
          const stats = parts.bufferStats?.();
          return stats === undefined || stats.bytes < stats.capacityBytes;
        },
        devices: () => [
          ...availability.list(),
          ...links
            .adapters()
            .flatMap((a) => a.refusedDevices?.() ?? [])
            .map((d) => ({ ...d, online: false, connected: false, refused: d.reason })),
        ],
        details: status,
        deadLetters: (limit, offset) => parts.deadLetters?.(limit, offset) ?? [],
        adapterRoute: (path, query) => links.route(path, query),
      },
      token: settings.http.token,
    });
  } catch (error) {
    await links.stop();
    await presence?.close();
    throw error;
  }

  // The last step of the config path: the store has checked and stored `next`.
  const unsubscribe = store.onApply((next) => {
    config = next;
    availability.setDevices(next.devices);
    presence?.setDevices(next.devices);
    planner.setConfig(next);
    windowClerks.setConfig(next);
    links.apply(next);
  });

  return {
    httpPort: http.port,
    applyConfig(next) {
      store.offer(next);
    },
    async handleHubCommand(command) {
      const result = planner.fromHub(command);
      if (!result.ok) {
        logger.warn({ command: command.name, deviceId: command.deviceId, error: result.error }, "hub command refused");
        return;
      }
      await deliverCommand(result.message, (id) => links.serving(id));
    },
    handleCameraRequest: (request) => links.cameraRequest(request),
    status,
    async close() {
      unsubscribe();
      await links.stop();
      await http.close();
      await presence?.close();
    },
  };
}
