import { readFileSync } from "node:fs";
import { type DeviceCommand, deviceTopics, type GatewayConfig } from "@supervision/firmware-protocols";
import type { ReadingSink } from "../../buffer/types.ts";
import type { AdapterHealth, DeviceAdapter, LinkContext } from "../adapter.ts";
import { DeviceAccess } from "./access.ts";
import { type DeviceBroker, startDeviceBroker } from "./device-broker.ts";
import type { MqttSettings } from "./settings.ts";

/**
 * The hall's MQTT devices (keypads, terminals, cameras that report over MQTT) through the embedded broker.
 * Config changes (devices, secrets) apply to the running broker: connected devices stay connected.
 */
export class MqttAdapter implements DeviceAdapter {
  readonly name = "mqtt";
  readonly #access: DeviceAccess;
  #broker: DeviceBroker | undefined;
  #retentionDays: GatewayConfig["retentionDays"];

  constructor(private readonly context: LinkContext<MqttSettings>) {
    this.#access = new DeviceAccess(context.config?.devices ?? []);
    this.#retentionDays = context.config?.retentionDays;
  }

  async start(sink: ReadingSink): Promise<void> {
    const { settings, logger, signals } = this.context;
    this.#broker = await startDeviceBroker({
      access: this.#access,
      sink,
      logger,
      host: settings.host,
      port: settings.port,
      tls: settings.tls && {
        port: settings.tls.port,
        cert: readFileSync(settings.tls.certFile),
        key: readFileSync(settings.tls.keyFile),
        ca: settings.tls.caFile ? readFileSync(settings.tls.caFile) : undefined,
      },
      websocketPort: settings.websocketPort,
      retentionDays: () => this.#retentionDays,
      onStatus: (deviceId, status) => signals.status(deviceId, status),
      onConnection: (deviceId, connected) => signals.connected(deviceId, connected),
    });
  }

  async stop(): Promise<void> {
    await this.#broker?.close();
    this.#broker = undefined;
  }

  configure(config: GatewayConfig): void {
    this.#access.setDevices(config.devices);
    this.#retentionDays = config.retentionDays;
  }

  /** Devices with an MQTT secret connect here. */
  handles(deviceId: string): boolean {
    return this.#access.device(deviceId)?.secretHash !== undefined;
  }

  send(deviceId: string, command: DeviceCommand): Promise<void> {
    if (!this.#broker) return Promise.reject(new Error("the MQTT device broker is not running"));
    return this.#broker.publish(deviceTopics.command(deviceId, command.name), JSON.stringify(command.payload));
  }

  online(): string[] {
    return this.#broker?.connectedDevices() ?? [];
  }

  health(): AdapterHealth {
    if (!this.#broker) return { ok: false, problem: "the MQTT device broker is not listening" };
    return { ok: true, ports: this.#broker.ports };
  }
}
