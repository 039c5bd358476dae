import type { DeviceEvent, Reading } from "@supervision/firmware-protocols";
import type { DeadLetter, ReadingSink } from "../buffer/types.ts";

export interface SinkObserver {
  /** After a reading is committed (or found to be a duplicate). */
  committed(event: DeviceEvent, stored: "stored" | "duplicate"): void;
  /** After a refused device message is dead-lettered. */
  refused(deviceId: string, code: string): void;
}

/**
 * The sink every device link commits to: the buffer, followed by what the gateway does about each reading
 * (metrics, availability, commands back to devices), so every link's readings take the same path.
 */
export function observedSink(sink: ReadingSink, observer: SinkObserver): ReadingSink {
  return {
    async append(reading: Reading) {
      const stored = await sink.append(reading);
      // Links append only events they validated against the v1 schemas.
      observer.committed({ ...reading, v: 1 } as unknown as DeviceEvent, stored);
      return stored;
    },
    async deadLetter(entry: DeadLetter) {
      await sink.deadLetter(entry);
      if (entry.deviceId) observer.refused(entry.deviceId, entry.code);
    },
  };
}
