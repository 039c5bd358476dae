import {
  DEVICE_LINKS,
  GatewayConfig,
  type GatewayDevice,
  hashSecret,
  LINK_NAMES,
  type SealedSecret,
  sealSecret,
  secretContext,
} from "@supervision/firmware-protocols";
import type { z } from "zod";
import { readingRetentionDays } from "../ingest/points.ts";
import type { Device, Registry } from "./schema.ts";

/** How a slice turns secrets into what may travel: MQTT passwords hashed, link secrets sealed to the gateway. */
export interface SecretTools {
  hash(secret: string): string;
  /** `sealingKey` is absent only when the loader has already reported the gateway's missing key. */
  seal(secret: string, sealingKey: string | undefined, context: string): SealedSecret;
}

/** Clear lab secrets are hashed, and link secrets sealed, once per process and value, so slices stay stable across reloads. */
const hashedSecrets = new Map<string, string>();
const sealedSecrets = new Map<string, SealedSecret>();
export const realSecretTools: SecretTools = {
  hash(secret) {
    let hash = hashedSecrets.get(secret);
    if (!hash) {
      hash = hashSecret(secret);
      hashedSecrets.set(secret, hash);
    }
    return hash;
  },
  seal(secret, sealingKey, context) {
    if (!sealingKey) throw new Error(`cannot seal ${context}: its gateway has no sealingKey`);
    const key = JSON.stringify([sealingKey, context, secret]);
    let sealed = sealedSecrets.get(key);
    if (!sealed) {
      const result = sealSecret(secret, sealingKey, context);
      if (!result.ok) throw new Error(`cannot seal ${context}: ${result.error.message}`);
      sealed = result.value;
      sealedSecrets.set(key, sealed);
    }
    return sealed;
  },
};

/** A device in the form its gateway receives: MQTT secret hashed, link secrets sealed to the gateway's key. */
export function gatewayDevice(
  device: Device,
  gatewayId: string,
  sealingKey: string | undefined,
  tools: SecretTools,
): z.input<typeof GatewayDevice> {
  const secretHash = device.secretHash ?? (device.secret ? tools.hash(device.secret) : undefined);
  const links: Record<string, Record<string, unknown>> = {};
  for (const name of LINK_NAMES) {
    const fields = device[name] as Record<string, unknown> | undefined;
    if (!fields) continue;
    const out = { ...fields };
    for (const secret of DEVICE_LINKS[name].secretNames as readonly string[]) {
      const value = out[secret];
      if (value === undefined) continue;
      // The loader resolved every { env } / { file } source to its value and checked the gateway's sealing key.
      if (typeof value !== "string") throw new Error(`device "${device.id}": ${name}.${secret} was not resolved at load`);
      out[secret] = tools.seal(value, sealingKey, secretContext(gatewayId, device.id, name, secret));
    }
    links[name] = out;
  }
  return {
    id: device.id,
    kind: device.kind,
    heartbeatS: device.heartbeatS,
    scale: device.scale,
    ...(secretHash ? { secretHash } : {}),
    ...(device.window ? { windowId: device.window } : {}),
    ...(device.cameraId ? { cameraId: device.cameraId } : {}),
    ...links,
  };
}

/** The part of the registry one gateway needs, before its schema check. */
export function draftSlice(registry: Registry, gatewayId: string, tools: SecretTools = realSecretTools): z.input<typeof GatewayConfig> {
  const gateway = registry.gateways.get(gatewayId);
  if (!gateway) throw new Error(`gateway "${gatewayId}" is not in the registry; known: ${[...registry.gateways.keys()].join(", ")}`);
  const site = registry.sites.get(gateway.site);
  if (!site) throw new Error(`gateway "${gatewayId}" serves unknown site "${gateway.site}"`);
  const devices = [...registry.devices.values()]
    .filter((d) => d.site === site.id)
    .map((d) => gatewayDevice(d, gatewayId, gateway.sealingKey, tools));
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
      ...(p.pin ? { pin: p.pin } : {}),
    }));
  return {
    v: 1,
    gatewayId,
    version: registry.version,
    site: { id: site.id, name: site.name, kind: site.kind, tz: site.tz },
    devices,
    windows,
    people,
    ...(gateway.uplinkVersions ? { uplinkVersions: gateway.uplinkVersions } : {}),
    retentionDays: readingRetentionDays(),
  };
}

/**
 * The part of the registry one gateway needs, checked against the schema the gateway applies. Secrets leave the hub
 * only as scrypt hashes (MQTT passwords) or sealed to the gateway (link secrets).
 */
export function sliceFor(registry: Registry, gatewayId: string, tools: SecretTools = realSecretTools): GatewayConfig {
  const parsed = GatewayConfig.safeParse(draftSlice(registry, gatewayId, tools));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(
      `the slice for gateway "${gatewayId}" would be refused by it: ${issue?.path.join(".")}: ${issue?.message} (run hub registry check)`,
    );
  }
  return parsed.data;
}
