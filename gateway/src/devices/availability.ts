import type { DeviceStatus, GatewayDevice } from "@supervision/firmware-protocols";

/** A device is offline when silent for longer than this many heartbeat intervals. */
export const SILENCE_FACTOR = 2.5;

export interface DeviceAvailability {
  deviceId: string;
  online: boolean;
  /** Gateway time of the last sign of life, or null if never seen. */
  lastSeen: number | null;
  connected: boolean;
}

interface Entry {
  lastSeen: number | null;
  intervalMs: number;
  connected: boolean;
  /** An explicit "offline" (status message or last will) wins until the next sign of life. */
  saidOffline: boolean;
}

/** Tracks which configured devices are online, from connections, status messages and heartbeats. */
export class AvailabilityTracker {
  #entries = new Map<string, Entry>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Keeps what is known about devices that stay; adds new ones; forgets removed ones. */
  setDevices(devices: readonly GatewayDevice[]): void {
    const next = new Map<string, Entry>();
    for (const d of devices) {
      const previous = this.#entries.get(d.id);
      next.set(d.id, { lastSeen: null, connected: false, saidOffline: false, ...previous, intervalMs: d.heartbeatS * 1000 });
    }
    this.#entries = next;
  }

  connected(deviceId: string, isConnected: boolean): void {
    const e = this.#entries.get(deviceId);
    if (!e) return;
    e.connected = isConnected;
    if (isConnected) this.#seen(e);
  }

  status(deviceId: string, status: DeviceStatus): void {
    const e = this.#entries.get(deviceId);
    if (!e) return;
    if (status.state === "offline") e.saidOffline = true;
    else this.#seen(e);
  }

  /** Any valid event (heartbeats carry the promised interval). */
  event(deviceId: string, intervalS?: number): void {
    const e = this.#entries.get(deviceId);
    if (!e) return;
    if (intervalS !== undefined) e.intervalMs = intervalS * 1000;
    this.#seen(e);
  }

  list(): DeviceAvailability[] {
    const now = this.now();
    return [...this.#entries].map(([deviceId, e]) => ({
      deviceId,
      connected: e.connected,
      lastSeen: e.lastSeen,
      online: !e.saidOffline && e.lastSeen !== null && now - e.lastSeen <= SILENCE_FACTOR * e.intervalMs,
    }));
  }

  counts(): { online: number; total: number } {
    const all = this.list();
    return { online: all.filter((d) => d.online).length, total: all.length };
  }

  #seen(e: Entry): void {
    e.lastSeen = this.now();
    e.saidOffline = false;
  }
}
