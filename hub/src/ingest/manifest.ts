import { createHash, createHmac, type Hash, type Hmac } from "node:crypto";
import type { Point } from "../influx/line-protocol.ts";
import { MEASUREMENT } from "../schema/index.ts";

/**
 * What the hub verified of a stored batch, kept beside it for `hub audit` (hub/SCHEMA.md, `batch_manifest`): the
 * identity of every reading stored in the `raw` policy (kind, device, timestamp, seq), a short digest of the line
 * written for it, and per part a digest (HMAC-SHA256 with the hub's audit key) over the batch's identity, the entries
 * and the lines themselves. The short digests say which reading changed; the part digest says that neither the
 * readings nor the manifest were changed by someone without the key. Parts hold one UTC day of readings each (at most
 * ENTRIES_PER_PART), timestamped in that day, so an audit of a time range reads only that range.
 */

/** A manifest part holds at most this many entries (its `entries` field stays well under InfluxDB's 64 KiB). */
export const ENTRIES_PER_PART = 1000;
const DAY_MS = 86_400_000;
const NEWLINE = Buffer.from("\n");
const DAY_NS = 86_400_000_000_000n;

/** The letter of each reading kind stored in the raw policy, in a manifest entry. */
export const KIND_LETTER = { rating: "r", signin: "s", motion: "m", item: "i", queue: "q" } as const;
export type AuditedKind = keyof typeof KIND_LETTER;
export const KIND_OF_LETTER: Readonly<Record<string, AuditedKind>> = { r: "rating", s: "signin", m: "motion", i: "item", q: "queue" };
/** The measurement each audited kind is stored in (hub/SCHEMA.md). */
export const MEASUREMENT_OF: Readonly<Record<AuditedKind, string>> = {
  rating: "rating",
  signin: "signin",
  motion: "motion",
  item: "item_event",
  queue: "queue_event",
};

/**
 * FNV-1a (32 bits) of a line, as 8 hex digits: cheap enough for every reading (it says which reading changed); the
 * part digest is the strong one. ManifestBuilder computes the same over the pieces.
 */
export function lineDigest(line: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < line.length; i++) h = Math.imul(h ^ line.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, "0");
}

/** The digest of one part: keyed when the hub has an audit key (always, in a running hub). */
export function partHasher(key: Buffer | undefined): Hash | Hmac {
  return key ? createHmac("sha256", key) : createHash("sha256");
}

/** What a part's digest covers before its lines: the batch and the part, then the entries. */
export function partPreamble(p: { gatewayId: string; epoch: string; seq: number; hash: string; part: number; entries: string }): string {
  return `${p.gatewayId}\n${p.epoch}\n${p.seq}\n${p.hash}\n${p.part}\n${p.entries}\n`;
}

/** A manifest part's timestamp: in the day of its readings, unique per (gateway, epoch, seq, part). */
export function manifestTimestamp(dayIndex: number, seq: number, partInDay: number): string {
  return (BigInt(dayIndex) * DAY_NS + BigInt(seq % 86_400_000_000) * 1000n + BigInt(partInDay % 1000)).toString();
}

interface Part {
  day: number;
  /** Indexes of the part's lines among the batch's raw lines (in write order). */
  lines: number[];
}

/**
 * Collects the manifest of one batch while its readings are encoded: `add` for every line written to the raw policy,
 * in write order (only what it needs: kind, device, seq, day, the line's length); `points` once the lines are joined
 * into pieces, before anything is awaited (no reading outlives the tick). Each line's digest is computed over the
 * pieces, which are flat strings: hashing the lines as they were built (concatenated strings) cost more than building
 * them. A batch whose readings fall in one day and one part (nearly every batch) is digested straight from its pieces.
 */
export class ManifestBuilder {
  private readonly kinds: AuditedKind[] = [];
  private readonly devices: string[] = [];
  private readonly seqs: number[] = [];
  private readonly lengths: number[] = [];
  private readonly partial: boolean[] = [];
  private readonly parts: Part[] = [];
  private readonly byDay = new Map<number, Part>();

  /** Raw lines the writer will dead-letter as beyond retention: in the pieces, in no part. */
  private stale = false;

  /**
   * One raw line; `partial` when it was written without its arrival fields (hub/SCHEMA.md, "First arrival wins");
   * `stale` when it is older than the raw policy keeps points (the writer keeps it as a dead letter instead).
   */
  add(kind: AuditedKind, deviceId: string, seq: number, ts: number, lineLength: number, partial: boolean, stale = false): void {
    if (stale) {
      this.stale = true;
      this.lengths.push(lineLength);
      this.kinds.push(kind);
      this.devices.push(deviceId);
      this.seqs.push(seq);
      this.partial.push(partial);
      return;
    }
    const day = Math.floor(ts / DAY_MS);
    let part = this.byDay.get(day);
    if (part === undefined || part.lines.length >= ENTRIES_PER_PART) {
      part = { day, lines: [] };
      this.byDay.set(day, part);
      this.parts.push(part);
    }
    part.lines.push(this.kinds.length);
    this.kinds.push(kind);
    this.devices.push(deviceId);
    this.seqs.push(seq);
    this.lengths.push(lineLength);
    this.partial.push(partial);
  }

  get size(): number {
    return this.kinds.length;
  }

  /**
   * The batch_manifest points, given the raw pieces (the batch's raw lines joined by newlines, nothing else) and,
   * when it has them, the same pieces as UTF-8 bytes (digested as they are, instead of encoding the text again).
   */
  points(
    batch: { gatewayId: string; epoch: string; seq: number; hash: string },
    rawPieces: readonly string[],
    key: Buffer | undefined,
    rawBytes?: readonly Uint8Array[],
  ): Point[] {
    if (this.parts.length === 0) return [];
    // Each line's place in the pieces, its digest and its timestamp (the text after its last space).
    const n = this.kinds.length;
    const digests: string[] = new Array<string>(n);
    const stamps: string[] = new Array<string>(n);
    const where: Array<[number, number, number]> | undefined = this.parts.length > 1 || this.stale ? new Array(n) : undefined;
    let p = 0;
    let pos = 0;
    for (let i = 0; i < n; i++) {
      let piece = rawPieces[p] as string;
      if (pos >= piece.length) {
        piece = rawPieces[++p] as string;
        pos = 0;
      }
      const end = pos + (this.lengths[i] as number);
      let h = 0x811c9dc5;
      let space = pos;
      for (let c = pos; c < end; c++) {
        const code = piece.charCodeAt(c);
        if (code === 32) space = c;
        h = Math.imul(h ^ code, 0x01000193);
      }
      digests[i] = (h >>> 0).toString(16).padStart(8, "0");
      stamps[i] = piece.slice(space + 1, end);
      if (where) where[i] = [p, pos, end];
      pos = end + 1;
    }
    const inDay = new Map<number, number>();
    return this.parts.map((part, index) => {
      const entries = part.lines
        .map(
          (i) =>
            `${KIND_LETTER[this.kinds[i] as AuditedKind]}${this.partial[i] ? "p" : ""} ${this.devices[i]} ${stamps[i]} ${this.seqs[i]} ${digests[i]}`,
        )
        .join(";");
      const hasher = partHasher(key).update(partPreamble({ ...batch, part: index, entries }));
      if (where === undefined)
        (rawBytes ?? rawPieces).forEach((piece, i) => {
          if (i > 0) hasher.update(NEWLINE);
          hasher.update(piece);
        });
      else
        part.lines.forEach((i, k) => {
          const [piece, from, to] = where[i] as [number, number, number];
          hasher.update(`${k === 0 ? "" : "\n"}${(rawPieces[piece] as string).slice(from, to)}`);
        });
      const partInDay = inDay.get(part.day) ?? 0;
      inDay.set(part.day, partInDay + 1);
      return {
        measurement: MEASUREMENT.batch_manifest,
        timestamp: manifestTimestamp(part.day, batch.seq, partInDay),
        tags: { epoch: batch.epoch, gateway: batch.gatewayId },
        fields: {
          seq: batch.seq,
          hash: batch.hash,
          part: index,
          parts: this.parts.length,
          readings: part.lines.length,
          entries,
          digest: hasher.digest("base64url"),
        },
      };
    });
  }
}
