/** Readings ids per block of the in-memory oldest-time summary. */
const BLOCK = 4096;

/**
 * Oldest device time per block of unsealed ids, so the oldest waiting reading is found without a table scan
 * (device clocks make ts unordered by id). Dirty blocks are recomputed, above the sealed mark only, when asked.
 */
export class OldestTimeIndex {
  readonly #oldest = new Map<number, number>();
  readonly #dirty = new Set<number>();

  /** Forgets everything; every block from the sealed mark up to maxId is recomputed when next asked. */
  reset(sealedTo: number, maxId: number | null): void {
    this.#oldest.clear();
    this.#dirty.clear();
    if (maxId !== null) for (let b = Math.floor((sealedTo + 1) / BLOCK); b <= Math.floor(maxId / BLOCK); b++) this.#dirty.add(b);
  }

  /** A reading was stored (the hot path: one map lookup). */
  stored(id: number, ts: number): void {
    const block = Math.floor(id / BLOCK);
    const oldest = this.#oldest.get(block);
    if (oldest === undefined || ts < oldest) this.#oldest.set(block, ts);
  }

  /** A reading was deleted (thinned): its block is recomputed. */
  deleted(id: number): void {
    this.#dirty.add(Math.floor(id / BLOCK));
  }

  /** Readings up to lastId were sealed: blocks wholly below go, a block that straddles is recomputed above it. */
  sealedUpTo(lastId: number): void {
    for (const b of this.#oldest.keys()) if (b * BLOCK + BLOCK - 1 <= lastId) this.#oldest.delete(b);
    for (const b of this.#dirty) if (b * BLOCK + BLOCK - 1 <= lastId) this.#dirty.delete(b);
    if ((lastId + 1) % BLOCK !== 0 && this.#oldest.has(Math.floor(lastId / BLOCK))) this.#dirty.add(Math.floor(lastId / BLOCK));
  }

  /** The oldest device time of the unsealed readings; `oldestIn(from, to)` reads one id range from the database. */
  oldest(sealedTo: number, oldestIn: (fromId: number, toId: number) => number | null): number | null {
    for (const b of this.#dirty) {
      const oldest = oldestIn(Math.max(b * BLOCK, sealedTo + 1), b * BLOCK + BLOCK - 1);
      if (oldest === null) this.#oldest.delete(b);
      else this.#oldest.set(b, oldest);
    }
    this.#dirty.clear();
    let oldest: number | null = null;
    for (const ts of this.#oldest.values()) if (oldest === null || ts < oldest) oldest = ts;
    return oldest;
  }
}
