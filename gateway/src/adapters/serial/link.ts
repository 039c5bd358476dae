import type { GatewayConfig } from "@supervision/firmware-protocols";
import type { DeviceLink } from "../adapter.ts";
import { SerialAdapter } from "./serial-adapter.ts";
import { SerialSettings } from "./settings.ts";

/** The devices on RS-485 buses, with their ports and addresses: what the serial adapter is built from. */
const serialDevices = (config: GatewayConfig | undefined) => (config?.devices ?? []).filter((d) => d.serial);

/** RS-485 keypads and terminals polled by the gateway (README.md in this folder). */
export const serialLink = {
  name: "serial",
  section: "serial" as const,
  settings: SerialSettings,
  slice: (config) => serialDevices(config).map((d) => [d.id, d.serial]),
  create: ({ settings, config, logger }) => {
    const devices = serialDevices(config);
    return devices.length > 0
      ? new SerialAdapter({
          devices,
          logger,
          retentionDays: config?.retentionDays,
          baudRate: settings.baudRate,
          replyTimeoutMs: settings.replyTimeoutMs,
          portBaudRates: settings.ports,
        })
      : undefined;
  },
} satisfies DeviceLink<SerialSettings>;
