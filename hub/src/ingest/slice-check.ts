import type { CheckedReading } from "@supervision/firmware-protocols";
import type { Registry } from "../registry/schema.ts";

/**
 * Why a reading is outside the sending gateway's slice of the registry, or undefined when it is not. A gateway's
 * key speaks only for its own site: a validly signed batch must not store readings of another site's devices,
 * windows, clerks, people or cameras (they would count for that site). Ids the registry does not know place a
 * reading nowhere else and are judged as before (an `unknown_device` alert for devices); a rating's window must be one
 * the registry knows, and a device placed at a window (a keypad, a camera) speaks only for that window.
 */
export function outsideSlice(r: CheckedReading, registry: Registry, site: string | undefined): string | undefined {
  const device = registry.devices.get(r.deviceId);
  const foreignDevice = foreign(site, "device", r.deviceId, device?.site);
  if (foreignDevice) return foreignDevice;
  switch (r.kind) {
    case "rating":
      return (
        foreign(site, "window", r.windowId, registry.windows.get(r.windowId)?.site) ??
        unknownWindow(r.windowId, registry) ??
        otherWindow(r.deviceId, device?.window, r.windowId) ??
        (r.clerkId === undefined ? undefined : foreign(site, "clerk", r.clerkId, registry.people.get(r.clerkId)?.site))
      );
    case "signin":
      return foreign(site, "person", r.personId, registry.people.get(r.personId)?.site);
    case "motion":
      return (
        foreign(site, "camera", r.cameraId, registry.devices.get(r.cameraId)?.site) ??
        otherWindow(r.deviceId, device?.window, registry.devices.get(r.cameraId)?.window)
      );
    case "heartbeat":
    case "presence":
      return undefined;
    case "item":
      return (
        (r.windowId === undefined ? undefined : foreign(site, "window", r.windowId, registry.windows.get(r.windowId)?.site)) ??
        foreign(site, "item", r.itemCode, registry.items?.get(r.itemCode)?.site)
      );
    case "queue":
      return r.windowId === undefined ? undefined : foreign(site, "window", r.windowId, registry.windows.get(r.windowId)?.site);
  }
}

/**
 * Why a rating's clerk is not the one it may credit, or undefined: a rating names a clerk whose window (in the
 * registry) is the rating's window. A keypad crediting another window's clerk, a supervisor or a person the registry
 * does not know is refused; a rating without a clerk (nobody signed in) is not judged here.
 */
export function clerkMismatch(r: CheckedReading, registry: Registry): string | undefined {
  if (r.kind !== "rating" || r.clerkId === undefined) return undefined;
  const person = registry.people.get(r.clerkId);
  if (person === undefined) return `clerk ${r.clerkId} is not in the registry`;
  if (person.role !== "clerk") return `${r.clerkId} is a ${person.role}, not a clerk`;
  if (person.window !== r.windowId)
    return `clerk ${r.clerkId} works at window ${person.window ?? "(none)"}, not at window ${r.windowId} where the rating was made`;
  return undefined;
}

/** A window the registry does not know is in no gateway's slice (its readings would count for nobody's window). */
function unknownWindow(windowId: string, registry: Registry): string | undefined {
  return registry.windows.has(windowId) ? undefined : `window ${windowId} is not in the registry`;
}

/** A device the registry places at one window speaks only for that window. */
function otherWindow(deviceId: string, itsWindow: string | undefined, claimed: string | undefined): string | undefined {
  return itsWindow === undefined || claimed === undefined || itsWindow === claimed
    ? undefined
    : `device ${deviceId} serves window ${itsWindow}, not window ${claimed}`;
}

/** The reason, when the registry places `id` at a site other than the gateway's. */
function foreign(site: string | undefined, what: string, id: string, itsSite: string | undefined): string | undefined {
  return itsSite === undefined || itsSite === site
    ? undefined
    : `${what} ${id} belongs to site ${itsSite}, not to this gateway's site ${site ?? "(none)"}`;
}
