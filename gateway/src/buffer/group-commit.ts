import type { Reading } from "@supervision/firmware-protocols";
import type Database from "better-sqlite3";
import { BufferFullError, type Capacity } from "./capacity.ts";
import type { BufferState } from "./state.ts";
import type { Statements } from "./statements.ts";

interface Pending {
  reading: Reading;
  json: string;
  resolve: (result: "stored" | "duplicate") => void;
  reject: (error: Error) => void;
}

type Result = "stored" | "duplicate" | Error;

/**
 * Appends grouped into shared transactions: those arriving within `groupMs` (or until `groupMax` wait) commit
 * together, hence one fsync, and each resolves only after that commit. A failed transaction rejects every append in it.
 */
export class GroupCommit {
  #pending: Pending[] = [];
  #timer: NodeJS.Timeout | undefined;
  readonly #commit: (group: Pending[]) => Result[];

  constructor(
    db: Database.Database,
    q: Statements,
    private readonly state: BufferState,
    private readonly capacity: Capacity,
    private readonly opts: { groupMs: number; groupMax: number; onStored: () => void },
  ) {
    this.#commit = db.transaction((group: Pending[]) => {
      const results: Result[] = [];
      for (const p of group) {
        const r = p.reading;
        const size = Buffer.byteLength(p.json);
        if (!capacity.makeRoom(r.kind === "heartbeat" ? size : 0) && r.kind === "heartbeat") {
          results.push("duplicate"); // thinned on arrival: a heartbeat carries no value worth refusing the device for
          state.thinned++;
          q.bumpThinned.run(1);
          continue;
        }
        if (state.bytes + size > capacity.capacityBytes) {
          results.push(new BufferFullError(`buffer full (${state.bytes} of ${capacity.capacityBytes} bytes): the hub has been unreachable too long`));
          continue;
        }
        const id = state.nextId;
        // A reading waiting or delivered with this identity makes the insert a no-op: a duplicate.
        const info = q.insert.run(id, r.deviceId, r.seq, r.kind, r.ts, size, p.json);
        if (info.changes === 0) {
          results.push("duplicate");
          continue;
        }
        state.nextId++;
        state.depth++;
        state.unbatched++;
        state.bytes += size;
        state.oldestUnsealed.stored(id, r.ts);
        results.push("stored");
      }
      return results;
    });
  }

  append(reading: Reading): Promise<"stored" | "duplicate"> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ reading, json: JSON.stringify(reading), resolve, reject });
      if (this.#pending.length >= this.opts.groupMax) {
        clearTimeout(this.#timer);
        this.flush();
      } else this.#timer ??= setTimeout(() => this.flush(), this.opts.groupMs);
    });
  }

  /** Commits what waits now. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const group = this.#pending;
    this.#pending = [];
    if (group.length === 0) return;
    let results: Result[];
    try {
      results = this.state.guarded(() => this.#commit(group));
    } catch (error) {
      for (const p of group) p.reject(error as Error);
      return;
    }
    this.capacity.checkAlarm();
    let stored = false;
    group.forEach((p, i) => {
      const result = results[i]!;
      if (result instanceof Error) p.reject(result);
      else {
        if (result === "stored") stored = true;
        p.resolve(result);
      }
    });
    if (stored) this.opts.onStored();
  }
}
