import type { Reading } from "@supervision/firmware-protocols";
import type { ReadingSink } from "../buffer/types.ts";

/** Readings that may wait a few seconds for company: heartbeats (forwarded) and presence summaries. */
export function isLowPriority(reading: Reading): boolean {
  return reading.kind === "heartbeat" || (reading.kind === "presence" && (reading as { type?: unknown }).type === "summary");
}

/**
 * Which readings the uplink seals at once: ratings, sign-ins, item, queue and motion events and presence state changes
 * go within `batch.maxWaitMs`; when only heartbeats and summaries wait, the batch waits `batch.lowPriorityWaitMs`.
 */
export class SealPriority {
  #urgent = false;

  /** `inner` with every append of an urgent reading noted (before it is committed, so the uplink's wake-up sees it). */
  sink(inner: ReadingSink): ReadingSink {
    return {
      append: (reading) => {
        if (!isLowPriority(reading)) this.#urgent = true;
        return inner.append(reading);
      },
      deadLetter: (entry) => inner.deadLetter(entry),
    };
  }

  /** Whether an urgent reading was appended since the last seal. */
  urgentWaiting(): boolean {
    return this.#urgent;
  }

  /** The uplink sealed what was waiting. */
  sealed(): void {
    this.#urgent = false;
  }
}
