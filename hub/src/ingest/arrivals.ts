import { EVENT_KINDS, type EventKind } from "@supervision/firmware-protocols";

/**
 * Remembers what this hub process has already stored, so a replay changes nothing (hub/SCHEMA.md, "Replays"):
 * readings by identity, to keep their first arrival's receive time (ReadingMemory), and batches by
 * gateway/epoch/seq, to acknowledge a replayed batch without writing it again (Recent). Both bounded (oldest
 * forgotten first); a lookup per reading, no query.
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

/**
 * Identities of readings to remember once their batch is stored: three numbers per reading (device and kind, device
 * time, seq's last six digits), filled by `ReadingMemory.isNew`, in a typed array outside the JavaScript heap (a
 * batch waits for InfluxDB with it; a plain array was copied at every young-generation collection meanwhile).
 * `generation` tells identities collected before the memory forgot its device numbers.
 */
export class Arrivals {
  private ids: Float64Array;
  private used = 0;

  constructor(
    readonly generation: number,
    readings = 16,
  ) {
    this.ids = new Float64Array(Math.max(1, readings) * 3);
  }

  get size(): number {
    return this.used / 3;
  }

  push(word: number, ts: number, sub: number): void {
    if (this.used + 3 > this.ids.length) {
      const grown = new Float64Array(this.ids.length * 2);
      grown.set(this.ids);
      this.ids = grown;
    }
    this.ids[this.used++] = word;
    this.ids[this.used++] = ts;
    this.ids[this.used++] = sub;
  }

  /** Calls `each` with every identity, in the order pushed. */
  forEach(each: (word: number, ts: number, sub: number) => void): void {
    for (let i = 0; i < this.used; i += 3) each(this.ids[i] as number, this.ids[i + 1] as number, this.ids[i + 2] as number);
  }
}

const KIND_INDEX: Readonly<Record<EventKind, number>> = Object.fromEntries(EVENT_KINDS.map((k, i) => [k, i])) as Record<EventKind, number>;
/** A device word is the device's number times this plus its kind's index (six kinds). */
const KIND_SLOTS = 8;
const EMPTY = 0;

/**
 * The identities of the readings this process stored (a point's identity: its measurement, device and timestamp,
 * that is kind, deviceId, device time in ms and seq modulo 1,000,000: hub/SCHEMA.md), at most `capacity`, the oldest
 * forgotten first. Exact: an identity is found only when all four parts are equal, so a reading never seen is never
 * taken for one seen (it would lose its receive time).
 *
 * Why not a Map of `kind/device/timestamp` texts (what it was first): at a hundred thousand readings a second the
 * text per reading, its hash and the Map's growth in the old generation cost about 2.5 µs of CPU per reading in the
 * hub, a sixth of all it spent (hub/src/ingest/README.md). Here a device id is a small number (interned once), and
 * an identity is 16 bytes (device and kind, seq's last six digits, device time): a ring in arrival order (which is
 * also what eviction follows) and an open-addressing table holding the identities themselves (linear probing,
 * deletion by backward shift), so a lookup reads one cache line, not one per array. Both are allocated at capacity
 * (48 MB for the hub's million: no growth while ingesting; pages are touched as they fill).
 * Device ids are forgotten with everything else when more than `maxDevices` were seen, so a gateway sending endless
 * made-up ids cannot grow the hub: forgetting only means a reading arriving again gets a new receive time.
 */
export class ReadingMemory {
  private readonly devices = new Map<string, number>();
  private generation = 0;
  /** The ring, in arrival order: `count` identities from `head`, 16 bytes each (word, sub, time). */
  private readonly ringWords: Uint32Array;
  private readonly ringTimes: Float64Array;
  private head = 0;
  private count = 0;
  /** The table, 16 bytes a slot: word + 1 (0: empty), sub, time; its slot count is a power of two, at least twice capacity. */
  private readonly tableWords: Uint32Array;
  private readonly tableTimes: Float64Array;
  private readonly mask: number;
  /** The latest device time seen per device and kind (by word), -Infinity for none: what isNew compares first. */
  private latest = new Float64Array(0);

  constructor(
    readonly capacity: number,
    private readonly maxDevices = 1 << 20,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, not ${capacity}`);
    const ring = new ArrayBuffer(capacity * 16);
    this.ringWords = new Uint32Array(ring);
    this.ringTimes = new Float64Array(ring);
    let slots = 2;
    while (slots < capacity * 2) slots *= 2;
    const table = new ArrayBuffer(slots * 16);
    this.tableWords = new Uint32Array(table);
    this.tableTimes = new Float64Array(table);
    this.mask = slots - 1;
  }

  get size(): number {
    return this.count;
  }

  /** Where a batch of about `readings` readings collects the identities of its new ones. */
  arrivals(readings?: number): Arrivals {
    return new Arrivals(this.generation, readings);
  }

  /**
   * Whether a reading with this identity was not stored before; if so, its identity is appended to `arrivals`
   * (remember it with `remember` once stored). Heartbeats are points without arrival fields: callers skip them.
   */
  isNew(kind: EventKind, deviceId: string, ts: number, seq: number, arrivals: Arrivals): boolean {
    let device = this.devices.get(deviceId);
    if (device === undefined) {
      if (this.devices.size >= this.maxDevices) this.forgetAll();
      device = this.devices.size;
      this.devices.set(deviceId, device);
    }
    const word = device * KIND_SLOTS + KIND_INDEX[kind];
    const sub = seq % 1_000_000;
    // A device's readings come mostly in time order: one later than any of its kind seen so far is not in the table,
    // and the lookup (a cache miss in a table this size) is skipped.
    if (word >= this.latest.length) this.growLatest(word);
    if (ts > (this.latest[word] as number)) this.latest[word] = ts;
    else if (this.find(word, ts, sub) >= 0) return false;
    arrivals.push(word, ts, sub);
    return true;
  }

  /** Remembers the identities `isNew` collected (those remembered meanwhile by another batch are skipped). */
  remember(arrivals: Arrivals): void {
    // Collected before forgetAll: their device numbers may now name other devices.
    if (arrivals.generation !== this.generation) return;
    arrivals.forEach((word, ts, sub) => this.add(word, ts, sub));
  }

  private add(word: number, ts: number, sub: number): void {
    // One probe both looks for the identity and finds where it goes (unless an eviction moves entries first).
    const words = this.tableWords;
    const held = word + 1;
    let slot = this.hash(word, ts, sub);
    for (; words[4 * slot] !== EMPTY; slot = (slot + 1) & this.mask)
      if (words[4 * slot] === held && words[4 * slot + 1] === sub && this.tableTimes[2 * slot + 1] === ts) return;
    if (this.count === this.capacity) {
      this.evictOldest();
      slot = this.hash(word, ts, sub);
      while (words[4 * slot] !== EMPTY) slot = (slot + 1) & this.mask;
    }
    let at = this.head + this.count;
    if (at >= this.capacity) at -= this.capacity;
    this.ringWords[4 * at] = word;
    this.ringWords[4 * at + 1] = sub;
    this.ringTimes[2 * at + 1] = ts;
    this.count++;
    this.put(slot, word, sub, ts);
  }

  private put(slot: number, word: number, sub: number, ts: number): void {
    this.tableWords[4 * slot] = word + 1;
    this.tableWords[4 * slot + 1] = sub;
    this.tableTimes[2 * slot + 1] = ts;
  }

  /** The slot holding this identity, or -1. */
  private find(word: number, ts: number, sub: number): number {
    const words = this.tableWords;
    const held = word + 1;
    for (let slot = this.hash(word, ts, sub); ; slot = (slot + 1) & this.mask) {
      const w = words[4 * slot] as number;
      if (w === EMPTY) return -1;
      if (w === held && words[4 * slot + 1] === sub && this.tableTimes[2 * slot + 1] === ts) return slot;
    }
  }

  private evictOldest(): void {
    const at = this.head;
    const words = this.tableWords;
    let slot = this.find(this.ringWords[4 * at] as number, this.ringTimes[2 * at + 1] as number, this.ringWords[4 * at + 1] as number);
    this.head = at + 1 === this.capacity ? 0 : at + 1;
    this.count--;
    // Backward-shift deletion: later entries of the probe run move into the hole if their home slot allows it.
    words[4 * slot] = EMPTY;
    for (let next = (slot + 1) & this.mask; words[4 * next] !== EMPTY; next = (next + 1) & this.mask) {
      const word = (words[4 * next] as number) - 1;
      const sub = words[4 * next + 1] as number;
      const ts = this.tableTimes[2 * next + 1] as number;
      const home = this.hash(word, ts, sub);
      // Move when the hole lies (cyclically) between the entry's home slot and where it sits.
      if (((next - home) & this.mask) >= ((next - slot) & this.mask)) {
        this.put(slot, word, sub, ts);
        words[4 * next] = EMPTY;
        slot = next;
      }
    }
  }

  private growLatest(word: number): void {
    let length = Math.max(64, this.latest.length);
    while (length <= word) length *= 2;
    const grown = new Float64Array(length).fill(-Infinity);
    grown.set(this.latest);
    this.latest = grown;
  }

  private forgetAll(): void {
    this.generation++;
    this.latest.fill(-Infinity);
    this.devices.clear();
    this.count = 0;
    this.head = 0;
    this.tableWords.fill(EMPTY);
  }

  private hash(word: number, ts: number, sub: number): number {
    // murmur3's finaliser over the parts: ts is an integer below 2^53, taken as its two 32-bit halves.
    let h = Math.imul(word ^ 0x9e3779b9, 0x85ebca6b) ^ (ts >>> 0);
    h = Math.imul(h ^ (h >>> 16), 0xc2b2ae35) ^ Math.floor(ts / 4294967296);
    h = Math.imul(h ^ (h >>> 13), 0x85ebca6b) ^ sub;
    h = Math.imul(h ^ (h >>> 16), 0xc2b2ae35);
    return (h ^ (h >>> 15)) & this.mask;
  }
}
