import { readFileSync } from "node:fs";
import type { Settings } from "../settings/settings.ts";

/** A TLS file of the uplink settings that cannot be read: the message names the setting and the path. */
export class HubTlsError extends Error {}

/** The uplink's TLS material: the CA that signed the hub's certificate, and this gateway's client certificate and key. */
export interface HubTls {
  ca?: string;
  cert?: string;
  key?: string;
}

const FILES = [
  ["caFile", "ca", "the CA that signed the hub broker's certificate"],
  ["certFile", "cert", "this gateway's client certificate (common name: its gateway id)"],
  ["keyFile", "key", "the private key of hub.certFile"],
] as const;

/**
 * Reads hub.caFile, hub.certFile and hub.keyFile (each optional; the settings check that cert and key go together).
 * The same for the uplink and for `gateway doctor`, so doctor proves what the uplink will present.
 */
export function readHubTls(hub: Settings["hub"]): HubTls | undefined {
  const tls: HubTls = {};
  for (const [setting, field, what] of FILES) {
    const file = hub[setting];
    if (file === undefined) continue;
    try {
      tls[field] = readFileSync(file, "utf8");
    } catch (error) {
      throw new HubTlsError(
        `cannot read hub.${setting} ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): it should be ${what}, a PEM file readable by the gateway's user`,
      );
    }
  }
  return Object.keys(tls).length > 0 ? tls : undefined;
}
