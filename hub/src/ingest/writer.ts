import type { Logger } from "pino";
import { InfluxWriteError, type LineBody, type LineWriter } from "../influx/line-writer.ts";
import {
  classifyRefusal,
  type DeadLetter,
  deadLetterLine,
  isPointRefusal,
  lineTimestamp,
  nsBefore,
  type WriteContext,
} from "../influx/dead-letters.ts";
import { type LastLine, LineBytes } from "./line-bytes.ts";

/**
 * The encoded points (line protocol) of one unit of work (a gateway batch, a status), by retention policy, as UTF-8
 * bytes from the moment they are added (line-bytes.ts): what waits for InfluxDB is bytes outside the JavaScript
 * heap, which the young generation's collections never copy, in chunks of whole lines, never one string per batch
 * or per write (a string over 128 KiB is a large object to V8, and making one cost more than encoding the thousand
 * points in it: hub/src/ingest/README.md). A body is its chunks, newline-separated, written one after the other.
 */
export class LineGroups {
  private readonly policies = new Map<string, LineBytes>();
  /** Each policy's oldest timestamp (ns text): the writer splits a body only when this is beyond retention. */
  private readonly oldest = new Map<string, string>();
  /** Each policy's lowest reading time (ms) given to add: a line of a later millisecond is not the oldest. */
  private readonly lowestMs = new Map<string, number>();
  /** Points added so far. */
  points = 0;

  /** `context` names the work in dead-letter records (which gateway batch a refused point came from). */
  constructor(readonly context: WriteContext = { source: "batch" }) {}

  /**
   * A line of `policy`; `readingMs`, a reading's device time, spares reading the line's timestamp (its last word)
   * when the reading is a later millisecond than one added before (a reading's point is timestamped in its ms).
   * Returns where the line's bytes went and their digest (for the batch manifest), valid until the next add.
   */
  add(policy: string, line: string, readingMs?: number): LastLine {
    return this.counted(policy, this.bytesOf(policy).line(line), readingMs);
  }

  /**
   * A line `encode` writes straight into the policy's bytes (a reading's line: reading-lines.ts); when it throws,
   * nothing of the line stays and the error is the caller's.
   */
  addEncoded<A, B>(policy: string, readingMs: number | undefined, encode: (out: LineBytes, a: A, b: B) => void, a: A, b: B): LastLine {
    const bytes = this.bytesOf(policy);
    bytes.begin();
    try {
      encode(bytes, a, b);
    } catch (e) {
      bytes.abort();
      throw e;
    }
    return this.counted(policy, bytes.end(), readingMs);
  }

  private bytesOf(policy: string): LineBytes {
    let bytes = this.policies.get(policy);
    if (!bytes) this.policies.set(policy, (bytes = new LineBytes()));
    return bytes;
  }

  private counted(policy: string, last: LastLine, readingMs: number | undefined): LastLine {
    this.points++;
    if (readingMs !== undefined) {
      const lowest = this.lowestMs.get(policy);
      if (lowest !== undefined && readingMs > lowest) return last;
      this.lowestMs.set(policy, readingMs);
    }
    const ts = last.chunk.toString("latin1", last.space + 1, last.end);
    const oldest = this.oldest.get(policy);
    if (oldest === undefined || nsBefore(ts, oldest)) this.oldest.set(policy, ts);
    return last;
  }

  /** Each policy's lines, in pieces of whole lines (newline-separated within a piece and between pieces). */
  bodies(): Map<string, Buffer[]> {
    const bodies = new Map<string, Buffer[]>();
    for (const [policy, bytes] of this.policies) if (!bytes.empty) bodies.set(policy, bytes.chunks());
    return bodies;
  }

  oldestTimestamp(policy: string): string | undefined {
    return this.oldest.get(policy);
  }

  /**
   * Moves a policy's lines out into groups of their own, with the same context (a batch's `chain` point, which goes
   * to the central database when its readings go to their region's: `regional-writer.ts`); undefined when there are none.
   */
  take(policy: string): LineGroups | undefined {
    const bytes = this.policies.get(policy);
    if (!bytes || bytes.empty) return undefined;
    const taken = new LineGroups(this.context);
    taken.policies.set(policy, bytes);
    const oldest = this.oldest.get(policy);
    if (oldest !== undefined) taken.oldest.set(policy, oldest);
    const chunks = bytes.chunks();
    let lines = 0;
    for (const piece of chunks) for (let i = piece.indexOf(10); i !== -1; i = piece.indexOf(10, i + 1)) lines++;
    taken.points = lines + chunks.length;
    this.points -= taken.points;
    this.policies.delete(policy);
    this.oldest.delete(policy);
    this.lowestMs.delete(policy);
    return taken;
  }
}

/** Below the 128 KiB (64 Ki two-byte characters) at which V8 makes a string a large object. */
const PIECE_CHARS = 60_000;

/** Consecutive lines joined by newlines into pieces of up to PIECE_CHARS (a longer line stays whole). */
function joinInPieces(texts: readonly string[]): string[] {
  const pieces: string[] = [];
  let from = 0;
  let chars = 0;
  for (let i = 0; i < texts.length; i++) {
    const length = (texts[i] as string).length + 1;
    if (chars + length > PIECE_CHARS && i > from) {
      pieces.push(i - from === 1 ? (texts[from] as string) : texts.slice(from, i).join("\n"));
      from = i;
      chars = 0;
    }
    chars += length;
  }
  if (texts.length > from) pieces.push(texts.length - from === 1 ? (texts[from] as string) : texts.slice(from).join("\n"));
  return pieces;
}

/** Lines as pieces of UTF-8 bytes. */
const piecesOf = (lines: readonly string[]): Buffer[] => joinInPieces(lines).map((text) => Buffer.from(text, "utf8"));

/** The lines of a body's pieces (only where lines must be looked at one by one: retention, isolating a refusal). */
const linesOf = (pieces: readonly Buffer[]): string[] => pieces.flatMap((piece) => piece.toString("utf8").split("\n"));

/** What became of a unit's points: all stored, but for these, kept as dead letters. */
export interface WriteOutcome {
  deadLetters: DeadLetter[];
}

interface Unit {
  /** Each policy's lines joined into a few pieces at once, so the unit holds a few strings while it waits, not thousands. */
  bodies: Map<string, Buffer[]>;
  count: number;
  context: WriteContext;
  deadLetters: DeadLetter[];
  resolve(outcome: WriteOutcome): void;
  reject(e: Error): void;
}

export interface WriterOptions {
  write: LineWriter;
  logger: Logger;
  /** Points per InfluxDB write request: the points of many units are merged until they reach this. */
  batchPoints: number;
  /** Writes in flight at once (default 2). */
  concurrency?: number;
  /** How long the first unit waits for company before a write. */
  lingerMs?: number;
  /** A write that takes longer counts as failed and is retried (InfluxDB overwrites identical points). */
  writeTimeoutMs?: number;
  /**
   * How long each retention policy keeps points (ms; absent or Infinity: for ever). Points older than that are
   * dead-lettered before they are sent: InfluxDB would refuse them.
   */
  retentionMs?: Readonly<Record<string, number>>;
  /** The hub's clock (for retention), default Date.now. */
  now?: () => number;
  /** Where dead-letter points go (default "raw"). */
  deadLetterPolicy?: string;
  onWrite?(points: number, seconds: number): void;
  onInfluxState?(up: boolean): void;
  /** Called once per dead letter, after it is stored. */
  onDeadLetter?(letter: DeadLetter): void;
}

export class WriterStoppedError extends Error {
  constructor() {
    super("ingest writer stopped before the points were stored");
  }
}

/** Points beyond retention are refused this long before InfluxDB would (it checks later, when it gets them). */
export const RETENTION_MARGIN_MS = 60_000;

/**
 * Merges the points of many units into large line-protocol writes, retries with backoff while InfluxDB is down
 * or slow, and settles a unit's promise only once all its points are stored: callers acknowledge after that.
 *
 * Two kinds of failure are told apart. InfluxDB unavailable (no answer, 5xx, 401/403/404): nothing is stored,
 * the write is retried for ever and nothing is acknowledged. A point InfluxDB can never store (4xx: beyond
 * retention, field type conflict, unparsable, too large): the write is split until the offending points are
 * alone, they are kept as `dead_letter` points with the reason and the batch they came from, the rest is
 * stored, and the unit resolves with its dead letters. influxd 1.x stores the other points of a partially
 * refused write itself ("partial write: ... dropped=N"); writing them again in the halves rewrites identical points.
 */
export class PointWriter {
  private queue: Unit[] = [];
  private queuedPoints = 0;
  private running = true;
  private waiters: Array<() => void> = [];
  private readonly loops: Promise<void>[];
  /** Groups of units waiting for their chain points' write (store()). */
  private lastLane: Array<{ units: Unit[]; started: bigint }> = [];
  private lastLaneBusy = false;
  private lastLaneRun: Promise<void> | undefined;
  influxUp = true;

  constructor(private readonly opts: WriterOptions) {
    // Two writes in flight: one is being serialised and sent while InfluxDB works on the other.
    this.loops = Array.from({ length: opts.concurrency ?? 2 }, () => this.run());
  }

  /** Resolves when every point is stored or dead-lettered. */
  write(lines: LineGroups): Promise<WriteOutcome> {
    if (!this.running) return Promise.reject(new WriterStoppedError());
    const bodies = lines.bodies();
    const deadLetters = this.refuseBeyondRetention(lines, bodies);
    const count = lines.points - deadLetters.length;
    return new Promise((resolve, reject) => {
      this.queue.push({ bodies, count, context: lines.context, deadLetters, resolve, reject });
      this.queuedPoints += count;
      this.waiters.shift()?.();
    });
  }

  /** Takes the lines InfluxDB would refuse as beyond retention out of `bodies`. Splits a body only when one is there. */
  private refuseBeyondRetention(lines: LineGroups, bodies: Map<string, Buffer[]>): DeadLetter[] {
    const retention = this.opts.retentionMs;
    if (!retention) return [];
    const letters: DeadLetter[] = [];
    const now = (this.opts.now ?? Date.now)();
    for (const [policy, body] of bodies) {
      const keepMs = retention[policy];
      const oldest = lines.oldestTimestamp(policy);
      if (keepMs === undefined || !Number.isFinite(keepMs) || oldest === undefined) continue;
      const cutoffMs = now - keepMs + RETENTION_MARGIN_MS;
      if (cutoffMs <= 0) continue;
      const cutoff = `${Math.floor(cutoffMs)}000000`;
      if (!nsBefore(oldest, cutoff)) continue;
      const kept: string[] = [];
      for (const line of linesOf(body)) {
        if (!nsBefore(lineTimestamp(line), cutoff)) kept.push(line);
        else
          letters.push({
            policy,
            line,
            reason: "beyond_retention",
            detail: `older than the ${policy} retention policy keeps points (${Math.round(keepMs / 86_400_000)} days)`,
            context: lines.context,
          });
      }
      if (kept.length > 0) bodies.set(policy, piecesOf(kept));
      else bodies.delete(policy);
    }
    return letters;
  }

  get pendingPoints(): number {
    return this.queuedPoints;
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const wake of this.waiters.splice(0)) wake();
    await Promise.all(this.loops);
    await this.lastLaneRun;
    for (const unit of this.queue.splice(0)) unit.reject(new WriterStoppedError());
  }

  private async run(): Promise<void> {
    while (this.running) {
      if (this.queue.length === 0) await new Promise<void>((r) => this.waiters.push(r));
      if (!this.running) return;
      if (this.queuedPoints < this.opts.batchPoints) await sleep(this.opts.lingerMs ?? 5);
      const units = this.take();
      if (units.length > 0) await this.store(units);
    }
  }

  /**
   * Units for one write (at least one): while they hold fewer than batchPoints points, the next one joins (so a
   * write ends at most one unit past batchPoints). Stopping below it instead made the bench's writes 4 batches of
   * 1,002 points, a fifth more requests than 5,000 points each, and influxd spends CPU per request
   * (hub/src/ingest/README.md).
   */
  private take(): Unit[] {
    const units: Unit[] = [];
    let points = 0;
    while (this.queue.length > 0) {
      const next = this.queue[0] as Unit;
      if (units.length > 0 && points >= this.opts.batchPoints) break;
      units.push(this.queue.shift() as Unit);
      points += next.count;
    }
    this.queuedPoints -= points;
    return units;
  }

  /**
   * A group of units' points: every policy but the chain in this write slot, then their `batch_chain` points in the
   * chain lane, so a slot is not held for a small chain write (in the hub bench the chain writes were as many
   * requests as the points' writes, and each one kept a slot from the next 5,000 points: hub/src/ingest/README.md).
   */
  private async store(units: Unit[]): Promise<void> {
    const started = process.hrtime.bigint();
    const first = (policy: string) => policy !== LAST_POLICY;
    try {
      if (await this.writeMerged(units, first)) await this.isolate(units, first);
    } catch (e) {
      for (const unit of units) unit.reject(e as Error);
      return;
    }
    if (units.some((u) => u.bodies.has(LAST_POLICY))) {
      this.lastLane.push({ units, started });
      if (!this.lastLaneBusy) this.lastLaneRun = this.runLastLane();
    } else await this.finish(units, started);
  }

  /**
   * The chain lane: one write at a time of every chain point whose units' other points are stored, merged (one small
   * request for the groups that finished meanwhile); then those units resolve.
   */
  private async runLastLane(): Promise<void> {
    this.lastLaneBusy = true;
    const last = (policy: string) => policy === LAST_POLICY;
    try {
      while (this.lastLane.length > 0) {
        const groups = this.lastLane.splice(0);
        const units = groups.flatMap((g) => g.units);
        try {
          if (await this.writeMerged(units, last)) await this.isolate(units, last);
        } catch (e) {
          for (const unit of units) unit.reject(e as Error);
          continue;
        }
        for (const group of groups) await this.finish(group.units, group.started);
      }
    } finally {
      this.lastLaneBusy = false;
    }
  }

  /** Units whose points are all stored or dead-lettered: their dead letters stored, then each resolved. */
  private async finish(units: Unit[], started: bigint): Promise<void> {
    try {
      const letters = units.flatMap((u) => u.deadLetters);
      if (letters.length > 0) await this.storeDeadLetters(letters);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      this.opts.onWrite?.(
        units.reduce((n, u) => n + u.count, 0),
        seconds,
      );
      for (const unit of units) unit.resolve({ deadLetters: unit.deadLetters });
    } catch (e) {
      for (const unit of units) unit.reject(e as Error);
    }
  }

  /**
   * One write per policy (of those `include` takes) of all units' bodies, health before raw, so a batch's
   * uplink_batch point (raw, last) is only written after its other points. take() keeps a write at about
   * batchPoints; a single larger unit goes whole (a gateway batch is at most 4 MiB on the wire, well under influxd's
   * 25 MB request limit). Returns true when InfluxDB refused points of a write: the caller then isolates them unit by
   * unit.
   */
  private async writeMerged(units: Unit[], include: (policy: string) => boolean): Promise<boolean> {
    const merged = new Map<string, Buffer[]>();
    for (const unit of units)
      for (const [policy, body] of unit.bodies) {
        if (!include(policy)) continue;
        const into = merged.get(policy);
        if (into) into.push(...body);
        else merged.set(policy, [...body]);
      }
    for (const policy of policyOrder(merged.keys())) {
      const refusal = await this.writeUntilAnswered(merged.get(policy) as Buffer[], policy);
      if (refusal) return true;
    }
    return false;
  }

  /** Writes each unit on its own; a unit InfluxDB refuses is split until the refused lines are alone. */
  private async isolate(units: Unit[], include: (policy: string) => boolean): Promise<void> {
    const policies = policyOrder(new Set(units.flatMap((u) => [...u.bodies.keys()]))).filter(include);
    for (const policy of policies)
      for (const unit of units) {
        const body = unit.bodies.get(policy);
        if (body === undefined) continue;
        const refusal = await this.writeUntilAnswered(body, policy);
        if (refusal) await this.bisect(linesOf(body), policy, unit, refusal);
      }
  }

  private async bisect(lines: string[], policy: string, unit: Unit, refusal: InfluxWriteError): Promise<void> {
    if (lines.length === 1) {
      const line = lines[0] as string;
      const letter: DeadLetter = {
        policy,
        line,
        reason: classifyRefusal(refusal.status, refusal.message),
        detail: refusal.message,
        context: unit.context,
      };
      unit.deadLetters.push(letter);
      unit.count--;
      return;
    }
    const half = Math.ceil(lines.length / 2);
    for (const part of [lines.slice(0, half), lines.slice(half)]) {
      const partRefusal = await this.writeUntilAnswered(part.join("\n"), policy);
      if (partRefusal) await this.bisect(part, policy, unit, partRefusal);
    }
  }

  /**
   * Writes a body, retrying with backoff while InfluxDB is unavailable. Resolves undefined once stored, or with
   * InfluxDB's refusal when it answered that points of the body can never be stored.
   */
  private async writeUntilAnswered(body: LineBody, policy: string): Promise<InfluxWriteError | undefined> {
    let backoffMs = 100;
    for (;;) {
      try {
        await this.opts.write(body, policy, this.opts.writeTimeoutMs ?? 15_000);
        this.setInfluxState(true);
        return undefined;
      } catch (e) {
        if (e instanceof InfluxWriteError && isPointRefusal(e.status)) {
          this.setInfluxState(true);
          this.opts.logger.warn({ err: e.message, policy }, "influxdb refused points of a write; isolating them");
          return e;
        }
        this.setInfluxState(false);
        this.opts.logger.warn({ err: (e as Error).message, retryInMs: backoffMs }, "influxdb write failed; not acknowledging, will retry");
        if (!this.running) throw new WriterStoppedError();
        await sleep(backoffMs);
        backoffMs = Math.min(backoffMs * 2, 5_000);
      }
    }
  }

  /** Dead letters are stored like any point; one InfluxDB refuses too is logged whole, the only place left for it. */
  private async storeDeadLetters(letters: DeadLetter[]): Promise<void> {
    const policy = this.opts.deadLetterPolicy ?? "raw";
    const now = (this.opts.now ?? Date.now)();
    const lines = letters.map((l) => deadLetterLine(l, now));
    const refusal = await this.writeUntilAnswered(lines.join("\n"), policy);
    if (refusal) {
      for (const [i, line] of lines.entries()) {
        const again = await this.writeUntilAnswered(line, policy);
        if (again) this.opts.logger.error({ err: again.message, deadLetter: letters[i] }, "dead letter could not be stored either");
      }
    }
    for (const letter of letters) {
      this.opts.logger.warn(
        {
          reason: letter.reason,
          source: letter.context.source,
          gateway: letter.context.gatewayId,
          epoch: letter.context.epoch,
          seq: letter.context.seq,
          detail: letter.detail.slice(0, 200),
        },
        "point can never be stored; kept as a dead letter",
      );
      this.opts.onDeadLetter?.(letter);
    }
  }

  /** Also told by readers (chain lookups), so status() shows an outage before the next write fails. */
  setInfluxState(up: boolean): void {
    if (this.influxUp === up) return;
    this.influxUp = up;
    this.opts.onInfluxState?.(up);
    this.opts.logger.info({ up }, up ? "influxdb writes recovered" : "influxdb unavailable");
  }
}

/**
 * health (and any other policy) before raw, chain last: a batch's batch_chain point, which says to every hub copy
 * that the batch is stored, is written only after all its other points.
 */
const LATER: Readonly<Record<string, number>> = { raw: 1, chain: 2 };
/** The policy written in the chain lane, after a unit's other points are stored. */
const LAST_POLICY = "chain";
function policyOrder(policies: Iterable<string>): string[] {
  return [...policies].sort((a, b) => (LATER[a] ?? 0) - (LATER[b] ?? 0) || a.localeCompare(b));
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
