import { readFileSync } from "node:fs";
import { type DeviceCommand, type DeviceEvent, type GatewayCommand, type GatewayConfig, parseTopic } from "@supervision/firmware-protocols";
import type { DeviceAdapter } from "./adapters/adapter.ts";
import type { Logger } from "pino";
import { DeviceAccess } from "./broker/access.ts";
import { type DeviceBroker, startDeviceBroker } from "./broker/device-broker.ts";
import type { BufferStats, ReadingSink } from "./buffer/types.ts";
import { AvailabilityTracker } from "./devices/availability.ts";
import { CommandPlanner, type Outgoing } from "./devices/commands.ts";
import { createGatewayMetrics } from "./http/metrics.ts";
import { type HttpApi, startHttpApi } from "./http/server.ts";
import type { Settings } from "./settings/settings.ts";
import type { UplinkStatus } from "./uplink/index.ts";

export interface GatewayParts {
  settings: Settings;
  sink: ReadingSink;
  logger: Logger;
  /** The config to start with: the last one from the hub, or the settings' inline one. */
  config?: GatewayConfig;
  bufferStats?: () => BufferStats;
  uplinkConnected?: () => boolean;
  /** The uplink's own report (state, in flight, round trip, drain progress), for /api/status and /metrics. */
  uplinkStatus?: () => UplinkStatus | undefined;
  deadLetters?: (limit: number) => object[];
  /** Device links besides MQTT (serial buses, ...), made from the config; remade when the config changes them. */
  adapters?: (config: GatewayConfig | undefined) => DeviceAdapter[];
}

/** What /api/status shows and the status report to the hub is built from. */
export interface GatewayState {
  gatewayId: string;
  configVersion: number | null;
  devices: { online: number; total: number };
  buffer: BufferStats | null;
  uplinkConnected: boolean;
  uplink: UplinkStatus | null;
}

export interface RunningGateway {
  readonly brokerPort: number;
  readonly httpPort: number;
  /** A new config from the hub: devices, secrets and people apply at once. */
  applyConfig(config: GatewayConfig): void;
  handleHubCommand(command: GatewayCommand): Promise<void>;
  status(): GatewayState;
  close(): Promise<void>;
}

/** Wires the device side of the gateway: broker, availability, commands, metrics and the HTTP API. */
export async function startGateway(parts: GatewayParts): Promise<RunningGateway> {
  const { settings, sink, logger } = parts;
  let config = parts.config ?? settings.config;
  const access = new DeviceAccess(config?.devices ?? []);
  const availability = new AvailabilityTracker();
  availability.setDevices(config?.devices ?? []);
  const planner = new CommandPlanner(config);
  let broker: DeviceBroker | undefined = undefined;

  const metrics = createGatewayMetrics({
    devicesConnected: () => broker?.connectedDevices().length ?? 0,
    devicesOnline: () => availability.counts().online,
    buffer: () => parts.bufferStats?.(),
    uplinkConnected: () => parts.uplinkConnected?.() ?? false,
    uplink: () => parts.uplinkStatus?.(),
  });

  let adapters: DeviceAdapter[] = [];
  /** A command goes over the adapter that serves the device, else over MQTT. */
  const deliver = (m: Outgoing): Promise<void> => {
    const topic = parseTopic(m.topic);
    if (topic.ok && topic.value.scope === "dev" && topic.value.type === "cmd") {
      const { deviceId, name } = topic.value;
      const adapter = adapters.find((a) => a.handles(deviceId));
      if (adapter) return adapter.send(deviceId, { name, payload: JSON.parse(m.payload) } as DeviceCommand);
    }
    return broker?.publish(m.topic, m.payload) ?? Promise.resolve();
  };
  const send = (messages: Outgoing[]) => {
    for (const m of messages) deliver(m).catch((error: Error) => logger.warn({ err: error, topic: m.topic }, "command not delivered"));
  };
  const onEvent = (event: DeviceEvent, stored: "stored" | "duplicate") => {
    metrics.accepted.inc({ kind: event.kind, result: stored });
    availability.event(event.deviceId, event.kind === "heartbeat" ? event.intervalS : undefined);
    if (stored === "stored") send(planner.afterEvent(event));
  };
  const onRejected = (deviceId: string, code: string) => {
    metrics.rejected.inc({ code });
    send(planner.afterRejection(deviceId, code));
  };
  /** Adapters commit to the same buffer; what they commit or refuse takes the same path as MQTT events. */
  const observedSink: ReadingSink = {
    async append(reading) {
      const stored = await sink.append(reading);
      // Adapters append only events they validated against the v1 schemas.
      onEvent({ ...reading, v: 1 } as unknown as DeviceEvent, stored);
      return stored;
    },
    async deadLetter(entry) {
      await sink.deadLetter(entry);
      if (entry.deviceId) onRejected(entry.deviceId, entry.code);
    },
  };
  const serialSignature = (c: GatewayConfig | undefined) => JSON.stringify((c?.devices ?? []).filter((d) => d.serial).map((d) => [d.id, d.serial]));
  const startAdapters = async (c: GatewayConfig | undefined) => {
    adapters = parts.adapters?.(c) ?? [];
    for (const adapter of adapters) {
      try {
        await adapter.start(observedSink);
      } catch (error) {
        logger.error({ adapter: adapter.name, err: (error as Error).message }, "device adapter failed to start; MQTT devices are unaffected");
      }
    }
  };

  broker = await startDeviceBroker({
    access,
    sink,
    logger: logger.child({ component: "broker" }),
    host: settings.broker.host,
    port: settings.broker.port,
    tls: settings.broker.tls && {
      port: settings.broker.tls.port,
      cert: readFileSync(settings.broker.tls.certFile),
      key: readFileSync(settings.broker.tls.keyFile),
      ca: settings.broker.tls.caFile ? readFileSync(settings.broker.tls.caFile) : undefined,
    },
    websocketPort: settings.broker.websocketPort,
    onEvent,
    onRejected,
    onStatus: (deviceId, status) => availability.status(deviceId, status),
    onConnection: (deviceId, connected) => availability.connected(deviceId, connected),
  });

  const status = (): GatewayState => ({
    gatewayId: settings.gatewayId,
    configVersion: config?.version ?? null,
    devices: availability.counts(),
    buffer: parts.bufferStats?.() ?? null,
    uplinkConnected: parts.uplinkConnected?.() ?? false,
    uplink: parts.uplinkStatus?.() ?? null,
  });

  let http: HttpApi;
  try {
    http = await startHttpApi({
      host: settings.http.host,
      port: settings.http.port,
      registry: metrics.registry,
      probe: {
        brokerListening: () => broker !== undefined,
        bufferWritable: () => {
          const stats = parts.bufferStats?.();
          return stats === undefined || stats.bytes < stats.capacityBytes;
        },
        devices: () => availability.list(),
        details: status,
        deadLetters: (limit) => parts.deadLetters?.(limit) ?? [],
      },
    });
  } catch (error) {
    await broker.close();
    throw error;
  }

  await startAdapters(config);

  return {
    brokerPort: broker.port,
    httpPort: http.port,
    applyConfig(next) {
      if (config && next.version < config.version) {
        logger.warn({ have: config.version, got: next.version }, "ignoring an older config");
        return;
      }
      const previous = config;
      config = next;
      access.setDevices(next.devices);
      availability.setDevices(next.devices);
      planner.setConfig(next);
      if (serialSignature(previous) !== serialSignature(next)) {
        void Promise.all(adapters.map((a) => a.stop())).then(() => startAdapters(next));
      }
      logger.info({ version: next.version, devices: next.devices.length }, "config applied");
    },
    async handleHubCommand(command) {
      const result = planner.fromHub(command);
      if (!result.ok) {
        logger.warn({ command: command.name, deviceId: command.deviceId, error: result.error }, "hub command refused");
        return;
      }
      await deliver(result.message);
    },
    status,
    async close() {
      await Promise.all(adapters.map((a) => a.stop()));
      await http.close();
      await broker?.close();
    },
  };
}
