import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { DeviceLink } from "../adapter.ts";
import { AdmsAdapter } from "./index.ts";
import { AdmsSettings } from "./settings.ts";

/** ZKTeco ADMS push terminals over HTTP (README.md in this folder). */
export const admsLink = {
  name: "adms",
  section: "adms" as const,
  settings: AdmsSettings,
  // Terminals, PINs and zones apply live (`configure`): the server restarts only when it starts or stops being needed.
  slice: (config) => (config?.devices ?? []).some((d) => d.adms),
  create: ({ settings, config, logger, dataDir }) => {
    if (!settings.enabled && !(config?.devices ?? []).some((d) => d.adms)) return undefined;
    return new AdmsAdapter({
      config,
      logger,
      host: settings.host,
      port: settings.port,
      tls: settings.tls && {
        cert: readFileSync(settings.tls.certFile),
        key: readFileSync(settings.tls.keyFile),
        ca: settings.tls.caFile ? readFileSync(settings.tls.caFile) : undefined,
      },
      clockToleranceMs: settings.clockToleranceS * 1000,
      // Without a data folder (a test's links), stamps and pushed users live only as long as the adapter.
      statePath: dataDir === undefined ? undefined : join(dataDir, "adms-terminals.json"),
    });
  },
} satisfies DeviceLink<AdmsSettings>;
