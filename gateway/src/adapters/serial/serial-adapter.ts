import type { DeviceCommand, GatewayConfig, GatewayDevice } from "@supervision/firmware-protocols";
import type { Logger } from "pino";
import type { ReadingSink } from "../../buffer/types.ts";
import type { DeviceAdapter } from "../adapter.ts";
import { Bus } from "./bus.ts";

export interface SerialAdapterOptions {
  /** The configured devices; those with `serial` are served. */
  devices: GatewayDevice[];
  logger: Logger;
  /** Line speed of every port (default 19200), unless `portBaudRates` names the port. */
  baudRate?: number;
  portBaudRates?: Record<string, { baudRate: number }>;
  /** How long a polled device has to start answering (PROTOCOL.md 3.4: 50 ms). */
  replyTimeoutMs?: number;
  /** Silence that ends a frame (3.5 characters; a few ms at 9600-19200 baud). */
  gapMs?: number;
  now?: () => number;
  /** Days the hub keeps each kind of reading (the config's retentionDays): older events are refused as beyond_retention. */
  retentionDays?: GatewayConfig["retentionDays"];
}

/**
 * RS-485 keypads and terminals (PROTOCOL.md section 3): the gateway is bus master on each configured port and
 * polls every address in turn. An event is committed to the buffer before its ACK frame goes out, so an
 * acknowledged event is durable, exactly as a PUBACK on the MQTT side.
 */
export class SerialAdapter implements DeviceAdapter {
  readonly name = "serial";
  private readonly buses = new Map<string, Bus>();

  constructor(private readonly opts: SerialAdapterOptions) {}

  async start(sink: ReadingSink): Promise<void> {
    const byPort = new Map<string, GatewayDevice[]>();
    for (const d of this.opts.devices) if (d.serial) byPort.set(d.serial.port, [...(byPort.get(d.serial.port) ?? []), d]);
    for (const [path, devices] of byPort) {
      const bus = new Bus(path, devices, sink, this.opts);
      await bus.open();
      this.buses.set(path, bus);
    }
  }

  async stop(): Promise<void> {
    await Promise.all([...this.buses.values()].map((b) => b.close()));
    this.buses.clear();
  }

  /** The buses share these options: a new retention applies to the next event. */
  configure(config: GatewayConfig): void {
    this.opts.retentionDays = config.retentionDays;
  }

  handles(deviceId: string): boolean {
    return [...this.buses.values()].some((b) => b.device(deviceId));
  }

  send(deviceId: string, command: DeviceCommand): Promise<void> {
    const bus = [...this.buses.values()].find((b) => b.device(deviceId));
    if (!bus) return Promise.reject(new Error(`${deviceId} is not on a serial bus of this gateway`));
    return bus.send(deviceId, command);
  }

  online(): string[] {
    return [...this.buses.values()].flatMap((b) => b.online());
  }
}
