import {
  DEVICE_KINDS,
  type DeviceEvent,
  type DeviceKind,
  eventsOf,
  deviceTopics,
  type EventKind,
  type GatewayDevice,
  parseTopic,
  verifySecret,
} from "@supervision/firmware-protocols";

/** Which event kinds each device kind may publish: the device kind catalogue's table. */
const KINDS_BY_DEVICE = new Map<DeviceKind, ReadonlySet<EventKind>>(DEVICE_KINDS.map((kind) => [kind, new Set(eventsOf(kind))]));

export type AccessDecision = { ok: true } | { ok: false; reason: string };

const allow: AccessDecision = { ok: true };
const deny = (reason: string): AccessDecision => ({ ok: false, reason });

/**
 * Who may connect and what each device may publish or subscribe to, from the hub's device list.
 * Successful password checks are cached (scrypt is slow on purpose), keyed by the stored hash so a changed secret
 * invalidates the cache entry.
 */
export class DeviceAccess {
  #devices = new Map<string, GatewayDevice>();
  #verified = new Map<string, string>();

  constructor(devices: readonly GatewayDevice[] = []) {
    this.setDevices(devices);
  }

  /** Applies a new device list; takes effect for the next connect and publish. */
  setDevices(devices: readonly GatewayDevice[]): void {
    this.#devices = new Map(devices.map((d) => [d.id, d]));
  }

  device(id: string): GatewayDevice | undefined {
    return this.#devices.get(id);
  }

  async authenticate(username: string | undefined, password: Uint8Array | undefined): Promise<AccessDecision> {
    if (!username) return deny("no username: devices connect with username = device id");
    const device = this.#devices.get(username);
    if (!device) return deny(`unknown device "${username}": not in this gateway's config`);
    if (!device.secretHash) return deny(`device "${username}" has no MQTT secret in the config`);
    if (!password) return deny(`device "${username}" sent no password`);
    const secret = Buffer.from(password).toString("utf8");
    const cacheKey = `${device.secretHash}\n${secret}`;
    if (this.#verified.get(username) === cacheKey) return allow;
    if (!(await verifySecret(secret, device.secretHash))) return deny(`wrong password for device "${username}"`);
    this.#verified.set(username, cacheKey);
    return allow;
  }

  /** Topic-level check before the payload is looked at. */
  authorizePublishTopic(deviceId: string, topic: string): AccessDecision {
    const device = this.#devices.get(deviceId);
    if (!device) return deny(`device "${deviceId}" is no longer in the config`);
    if (topic === deviceTopics.status(deviceId)) return allow;
    const parsed = parseTopic(topic);
    if (!parsed.ok) return deny(parsed.error.message);
    const t = parsed.value;
    if (t.scope !== "dev" || t.type !== "evt") return deny(`devices may not publish to "${topic}"`);
    if (t.deviceId !== deviceId) return deny(`device "${deviceId}" may not publish for device "${t.deviceId}"`);
    if (!KINDS_BY_DEVICE.get(device.kind)?.has(t.kind)) return deny(`a ${device.kind} may not publish ${t.kind} events`);
    return allow;
  }

  /** Payload-level check on a valid event: a keypad rates only its own window, a camera reports only its camera. */
  authorizeEvent(deviceId: string, event: DeviceEvent): AccessDecision {
    const device = this.#devices.get(deviceId);
    if (!device) return deny(`device "${deviceId}" is no longer in the config`);
    if (event.kind === "rating" && event.windowId !== device.windowId) {
      return deny(`keypad "${deviceId}" serves window "${device.windowId ?? "none"}", not "${event.windowId}"`);
    }
    if (event.kind === "motion" && device.cameraId !== undefined && event.cameraId !== device.cameraId) {
      return deny(`camera device "${deviceId}" reports camera "${device.cameraId}", not "${event.cameraId}"`);
    }
    return allow;
  }

  authorizeSubscribe(deviceId: string, filter: string): AccessDecision {
    if (filter === deviceTopics.commandFilter(deviceId)) return allow;
    const parsed = parseTopic(filter);
    if (parsed.ok && parsed.value.scope === "dev" && parsed.value.type === "cmd" && parsed.value.deviceId === deviceId) {
      return allow;
    }
    return deny(`device "${deviceId}" may subscribe only to ${deviceTopics.commandFilter(deviceId)}, not "${filter}"`);
  }
}
