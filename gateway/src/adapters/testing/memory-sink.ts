import type { Reading } from "@supervision/firmware-protocols";
import type { DeadLetter, ReadingSink } from "../../buffer/types.ts";

/** In-memory stand-in for the durable buffer in tests: dedups on device + seq like the real one. */
export class MemorySink implements ReadingSink {
  readings: Reading[] = [];
  deadLetters: DeadLetter[] = [];
  #seen = new Set<string>();

  async append(reading: Reading) {
    const key = `${reading.deviceId}/${reading.seq}`;
    if (this.#seen.has(key)) return "duplicate" as const;
    this.#seen.add(key);
    this.readings.push(reading);
    return "stored" as const;
  }

  async deadLetter(entry: DeadLetter) {
    this.deadLetters.push(entry);
  }
}
