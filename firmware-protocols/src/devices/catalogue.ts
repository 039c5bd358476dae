import { z } from "zod";
import { Id } from "../events.ts";
import { DEVICE_KINDS, type DeviceKind } from "./kinds.ts";
import { DEVICE_LINKS, type DeviceLinks, LINK_NAMES, type LinkName } from "./links/index.ts";

/**
 * A device as the gateway receives it and as the registry declares it, both built from the kind catalogue
 * (kinds.ts) and the link list (links/index.ts). The hub's registry adds its own references (site, window) and
 * checks every device against the gateway's form, so a device the gateway would refuse never leaves the hub.
 */

export type LinkForm = "registry" | "gateway";
type LinkFields<Form extends LinkForm> = { [K in LinkName]: z.ZodOptional<DeviceLinks[K][Form]> };

/** Each link's fields, optional, under the link's name: `serial: {...}`, `onvif: {...}`. */
export function linkFields<Form extends LinkForm>(form: Form): LinkFields<Form> {
  const shape: Record<string, z.ZodType> = {};
  for (const name of LINK_NAMES) shape[name] = DEVICE_LINKS[name][form].optional();
  return shape as LinkFields<Form>;
}

/** What every device has, whatever its link. */
export const deviceCoreFields = {
  id: Id,
  kind: z.enum(DEVICE_KINDS),
  /** Cameras: the camera id their motion events carry. */
  cameraId: Id.optional(),
  heartbeatS: z.int().min(5).max(3600).default(60),
  /** Keypads: a four- or five-level rating scale. */
  scale: z.enum(["four", "five"]).optional(),
};

/** The device's MQTT password as a scrypt hash "scrypt$<N>$<r>$<p>$<salt b64>$<hash b64>", never in clear. */
export const MqttSecretHash = z.string().min(1).max(256);

/** The links a device of `kind` may use, e.g. camera: serial, onvif, frigate. */
export function linksOf(kind: DeviceKind): LinkName[] {
  return LINK_NAMES.filter((name) => DEVICE_LINKS[name].kinds.includes(kind));
}

/** Refuses a link on a kind that does not use it (an `onvif` block on a keypad). */
export function checkLinksFitKind(device: { kind: DeviceKind } & Partial<Record<LinkName, unknown>>, ctx: z.core.$RefinementCtx): void {
  for (const name of LINK_NAMES) {
    if (device[name] !== undefined && !DEVICE_LINKS[name].kinds.includes(device.kind)) {
      ctx.addIssue({
        code: "custom",
        path: [name],
        message: `"${name}" is a link for ${DEVICE_LINKS[name].kinds.join(" / ")} devices, not a ${device.kind}; a ${device.kind} may use: ${linksOf(device.kind).join(", ") || "MQTT only"}`,
      });
    }
  }
}

export const GatewayDevice = z
  .strictObject({
    ...deviceCoreFields,
    /** Absent for devices that do not speak MQTT (serial, ONVIF). */
    secretHash: MqttSecretHash.optional(),
    /** Keypads and cameras serve one window; terminals serve a whole hall or site. */
    windowId: Id.optional(),
    ...linkFields("gateway"),
  })
  .superRefine(checkLinksFitKind);
export type GatewayDevice = z.infer<typeof GatewayDevice>;
