import type { CheckedReading } from "@supervision/firmware-protocols";
import type { Registry } from "../registry/schema.ts";

/**
 * Why a reading is outside the sending gateway's slice of the registry, or undefined when it is not. A gateway's
 * key speaks only for its own site: a validly signed batch must not store readings of another site's devices,
 * windows, clerks, people or cameras (they would count for that site). Ids the registry does not know place a
 * reading nowhere else and are judged as before (an `unknown_device` alert for devices).
 */
export function outsideSlice(r: CheckedReading, registry: Registry, site: string | undefined): string | undefined {
  const device = foreign(site, "device", r.deviceId, registry.devices.get(r.deviceId)?.site);
  if (device) return device;
  switch (r.kind) {
    case "rating":
      return (
        foreign(site, "window", r.windowId, registry.windows.get(r.windowId)?.site) ??
        (r.clerkId === undefined ? undefined : foreign(site, "clerk", r.clerkId, registry.people.get(r.clerkId)?.site))
      );
    case "signin":
      return foreign(site, "person", r.personId, registry.people.get(r.personId)?.site);
    case "motion":
      return foreign(site, "camera", r.cameraId, registry.devices.get(r.cameraId)?.site);
    case "heartbeat":
      return undefined;
  }
}

/** The reason, when the registry places `id` at a site other than the gateway's. */
function foreign(site: string | undefined, what: string, id: string, itsSite: string | undefined): string | undefined {
  return itsSite === undefined || itsSite === site
    ? undefined
    : `${what} ${id} belongs to site ${itsSite}, not to this gateway's site ${site ?? "(none)"}`;
}
