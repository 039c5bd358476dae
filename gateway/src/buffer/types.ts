import type { Reading } from "@supervision/firmware-protocols";

/**
 * The gateway's durable buffer, as the device side sees it. The broker and the adapters commit here before
 * they acknowledge a device (MQTT PUBACK, serial ACK frame); the uplink reads and deletes through its outbox.
 */
export interface ReadingSink {
  /**
   * Commits one reading durably (group commit: many calls share one fsync). Resolves only once the reading
   * is on disk; a duplicate (same deviceId and seq as a stored or already-sent reading) resolves "duplicate"
   * and is not stored again. Rejects only when the disk fails or the buffer is full for this kind of reading.
   */
  append(reading: Reading): Promise<"stored" | "duplicate">;
  /** Keeps a refused message with its reason, durably, for `gateway dead-letters`. */
  deadLetter(entry: DeadLetter): Promise<void>;
}

export interface DeadLetter {
  /** Gateway receive time, UTC ms. */
  rxTs: number;
  /** Where it came from: an MQTT topic, or "serial:/dev/ttyUSB0@3". */
  source: string;
  deviceId?: string;
  /** A contract error code (firmware-protocols PAYLOAD_ERROR_CODES or serial codes) or "acl_denied". */
  code: string;
  message: string;
  /** The raw bytes, truncated to 64 KiB. */
  payload: Uint8Array;
}

export interface BufferStats {
  /** Readings waiting to reach the hub. */
  depth: number;
  bytes: number;
  capacityBytes: number;
  /** Device time of the oldest unsent reading, or null when empty. */
  oldestTs: number | null;
  deadLetters: number;
  /** Low-value readings (heartbeats) dropped to stay under the bound. */
  thinned: number;
}
