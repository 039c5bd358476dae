import type { GatewayConfig } from "@supervision/firmware-protocols";
import type { DeviceLink } from "../adapter.ts";
import { FrigateAdapter } from "./index.ts";
import { FrigateSettings } from "./settings.ts";

/** Frigate NVR as a motion source: its MQTT motion and person events, availability as health (README.md here). */
export const frigateLink = {
  name: "frigate",
  section: "frigate" as const,
  settings: FrigateSettings,
  slice: (config: GatewayConfig | undefined) =>
    FrigateAdapter.cameras(config?.devices ?? []).map((d) => [d.id, d.frigate, d.cameraId, d.heartbeatS]),
  create: ({ settings, config, logger, dataDir }) => {
    const cameras = FrigateAdapter.cameras(config?.devices ?? []);
    if (cameras.length === 0) return undefined;
    if (dataDir === undefined) throw new Error("the frigate link needs the gateway's dataDir (sequence numbers, snapshots)");
    const password = settings.passwordEnv === undefined ? undefined : process.env[settings.passwordEnv];
    if (settings.passwordEnv !== undefined && password === undefined)
      throw new Error(`frigate.passwordEnv names ${settings.passwordEnv}, which is not set: set it in the gateway's environment`);
    return new FrigateAdapter({ devices: cameras, settings, logger, dataDir, password });
  },
} satisfies DeviceLink<FrigateSettings>;
