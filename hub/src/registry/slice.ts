import { type GatewayConfig, hashSecret } from "@supervision/firmware-protocols";
import { readingRetentionDays } from "../ingest/points.ts";
import type { Registry } from "./schema.ts";

/** Clear lab secrets are hashed once per process and value, so slices stay stable across reloads. */
const hashedSecrets = new Map<string, string>();
function hashedOnce(secret: string): string {
  let hash = hashedSecrets.get(secret);
  if (!hash) {
    hash = hashSecret(secret);
    hashedSecrets.set(secret, hash);
  }
  return hash;
}

/** The part of the registry one gateway needs. Secrets leave the hub only as scrypt hashes. */
export function sliceFor(registry: Registry, gatewayId: string): GatewayConfig {
  const gateway = registry.gateways.get(gatewayId);
  if (!gateway) throw new Error(`gateway "${gatewayId}" is not in the registry; known: ${[...registry.gateways.keys()].join(", ")}`);
  const site = registry.sites.get(gateway.site);
  if (!site) throw new Error(`gateway "${gatewayId}" serves unknown site "${gateway.site}"`);
  const devices = [...registry.devices.values()]
    .filter((d) => d.site === site.id)
    .map((d) => {
      const secretHash = d.secretHash ?? (d.secret ? hashedOnce(d.secret) : undefined);
      return {
        id: d.id,
        kind: d.kind,
        heartbeatS: d.heartbeatS,
        scale: d.scale,
        ...(secretHash ? { secretHash } : {}),
        ...(d.window ? { windowId: d.window } : {}),
        ...(d.cameraId ? { cameraId: d.cameraId } : {}),
        ...(d.serial ? { serial: d.serial } : {}),
        ...(d.onvif ? { onvif: d.onvif } : {}),
      };
    });
  const windows = [...registry.windows.values()]
    .filter((w) => w.site === site.id)
    .map((w) => ({ id: w.id, name: w.name, departmentId: w.department }));
  const people = [...registry.people.values()]
    .filter((p) => p.site === site.id)
    .map((p) => ({
      id: p.id,
      name: p.name,
      post: p.post,
      ...(p.photoUrl ? { photoUrl: p.photoUrl } : {}),
      ...(p.window ? { windowId: p.window } : {}),
    }));
  return {
    v: 1,
    gatewayId,
    version: registry.version,
    site: { id: site.id, name: site.name, kind: site.kind, tz: site.tz },
    devices,
    windows,
    people,
    retentionDays: readingRetentionDays(),
  };
}
