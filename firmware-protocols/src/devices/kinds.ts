import type { EventKind } from "../topics.ts";

/**
 * Every kind of device, once. The gateway's ACL (which events a device may publish), the registry's checks (which
 * need a window) and the config schema all read this table; a new kind is one entry here.
 */
export const DEVICE_KIND_CATALOGUE = {
  /** A rater keypad at a hall window: the citizen's satisfaction rating. */
  keypad: { events: ["rating", "heartbeat"], window: "required" },
  /** A sign-in terminal (card, face or fingerprint) serving a whole hall or site. */
  terminal: { events: ["signin", "heartbeat"], window: "none" },
  /** A camera watching a window: motion and presence. */
  camera: { events: ["motion", "heartbeat"], window: "optional" },
  /** A hall's queue and counter system: tickets, calls and services at the windows, and the applications they accept. */
  queue: { events: ["queue", "item", "heartbeat"], window: "none" },
} as const satisfies Record<string, { events: readonly EventKind[]; window: "required" | "optional" | "none" }>;

export type DeviceKind = keyof typeof DEVICE_KIND_CATALOGUE;
export const DEVICE_KINDS = Object.keys(DEVICE_KIND_CATALOGUE) as [DeviceKind, ...DeviceKind[]];

/** The event kinds a device of `kind` may publish. */
export function eventsOf(kind: DeviceKind): readonly EventKind[] {
  return DEVICE_KIND_CATALOGUE[kind].events;
}
