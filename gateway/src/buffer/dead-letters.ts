import type { BufferState } from "./state.ts";
import type { Statements } from "./statements.ts";
import type { DeadLetter } from "./types.ts";

const DEAD_LETTER_LIMIT = 100_000;
/** The payload kept of a refused message. */
const PAYLOAD_MAX_BYTES = 65_536;

export interface StoredDeadLetter extends DeadLetter {
  id: number;
}

/** Refused messages with their reasons, the newest 100,000, for `gateway dead-letters`. */
export class DeadLetters {
  constructor(
    private readonly q: Statements,
    private readonly state: BufferState,
  ) {}

  add(entry: DeadLetter): void {
    this.keep(entry.rxTs, entry.source, entry.deviceId ?? null, entry.code, entry.message, Buffer.from(entry.payload.subarray(0, PAYLOAD_MAX_BYTES)));
    if (this.state.deadLetters > DEAD_LETTER_LIMIT) {
      this.q.trimDead.run(DEAD_LETTER_LIMIT);
      this.state.deadLetters = this.q.deadCount.get() as number;
    }
  }

  /** Inserts one (inside the caller's transaction, e.g. a batch the hub refused); trimmed at the next add. */
  keep(rxTs: number, source: string, deviceId: string | null, code: string, message: string, payload: Buffer): void {
    this.q.insertDead.run(rxTs, source, deviceId, code, message, payload);
    this.state.deadLetters++;
  }

  /** Newest first. */
  list({ limit, offset = 0 }: { limit: number; offset?: number }): StoredDeadLetter[] {
    return (
      this.q.listDead.all(limit, offset) as (Omit<StoredDeadLetter, "deviceId" | "payload"> & { deviceId: string | null; payload: Buffer })[]
    ).map((d) => ({ ...d, deviceId: d.deviceId ?? undefined, payload: new Uint8Array(d.payload) }));
  }
}
