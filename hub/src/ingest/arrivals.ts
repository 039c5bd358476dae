/**
 * Remembers what this hub process has already stored, so a replay changes nothing (hub/SCHEMA.md, "Replays"):
 * readings by identity, to keep their first arrival's receive time, and batches by gateway/epoch/seq, to
 * acknowledge a replayed batch without writing it again. Bounded (oldest forgotten first); a Map lookup per
 * reading, no query.
 */
export class Recent<V> {
  private readonly entries = new Map<string, V>();

  constructor(private readonly capacity: number) {}

  get(key: string): V | undefined {
    return this.entries.get(key);
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  set(key: string, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as string);
  }

  get size(): number {
    return this.entries.size;
  }
}

/** Fields that describe one arrival of a reading rather than the reading: a later arrival must not replace them. */
export const ARRIVAL_FIELDS = ["rx_ts", "delay_s", "time_suspect"] as const;
