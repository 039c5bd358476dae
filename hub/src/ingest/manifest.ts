import { createHash, createHmac, type Hash, type Hmac } from "node:crypto";
import { encodePoint, type Point } from "../influx/line-protocol.ts";
import { MEASUREMENT } from "../schema/index.ts";
import { readingTimestampNs } from "./points.ts";
import { fnv1aText, type LastLine, LineBytes } from "./line-bytes.ts";
import type { LineGroups } from "./writer.ts";

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
 * part digest is the strong one. LineBytes computes the same while it writes a line.
 */
export function lineDigest(line: string): string {
  return hex8(fnv1aText(line));
}

/** The digest of one part: keyed when the hub has an audit key (always, in a running hub). */
export function partHasher(key: Buffer | undefined): Hash | Hmac {
  return key ? createHmac("sha256", key) : createHash("sha256");
}

/** What a part's digest covers before its lines: the batch and the part, then the entries. */
export function partPreamble(p: { gatewayId: string; epoch: string; seq: number; hash: string; part: number; entries: string }): string {
  return `${partPreambleHead(p)}${p.entries}\n`;
}

/** What a part's digest covers before its entries (ManifestBuilder.write feeds the entries from the line's bytes). */
function partPreambleHead(p: { gatewayId: string; epoch: string; seq: number; hash: string; part: number }): string {
  return `${p.gatewayId}\n${p.epoch}\n${p.seq}\n${p.hash}\n${p.part}\n`;
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
 * in write order, with where LineGroups put its bytes and their digest (line-bytes.ts reads both while it writes the
 * line); `points` once the readings are added, before anything is awaited. A part's digest covers its lines' bytes
 * as written, read in runs of consecutive lines (one run for nearly every batch).
 */
export class ManifestBuilder {
  private readonly kinds: AuditedKind[] = [];
  private readonly devices: string[] = [];
  private readonly seqs: number[] = [];
  private readonly partial: boolean[] = [];
  private readonly chunks: Buffer[] = [];
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  private readonly spaces: number[] = [];
  private readonly digests: number[] = [];
  private readonly parts: Part[] = [];
  private readonly byDay = new Map<number, Part>();

  /**
   * One raw line, as LineGroups.add left it in `line`; `partial` when it was written without its arrival fields
   * (hub/SCHEMA.md, "First arrival wins"); `stale` when it is older than the raw policy keeps points (the writer
   * keeps it as a dead letter instead: it is in no part).
   */
  add(kind: AuditedKind, deviceId: string, seq: number, ts: number, line: LastLine, partial: boolean, stale = false): void {
    if (!stale) {
      const day = Math.floor(ts / DAY_MS);
      let part = this.byDay.get(day);
      if (part === undefined || part.lines.length >= ENTRIES_PER_PART) {
        part = { day, lines: [] };
        this.byDay.set(day, part);
        this.parts.push(part);
      }
      part.lines.push(this.kinds.length);
    }
    this.kinds.push(kind);
    this.devices.push(deviceId);
    this.seqs.push(seq);
    this.partial.push(partial);
    this.chunks.push(line.chunk);
    this.starts.push(line.start);
    this.ends.push(line.end);
    this.spaces.push(line.space);
    this.digests.push(line.digest);
  }

  get size(): number {
    return this.kinds.length;
  }

  /**
   * The batch_manifest points: the readable definition of the lines `write` writes (manifest.test.ts requires both
   * to give the same bytes).
   */
  points(batch: ManifestBatch, key: Buffer | undefined): Point[] {
    const inDay = new Map<number, number>();
    return this.parts.map((part, index) => {
      const out = ENTRIES;
      out.clear();
      out.begin();
      this.writeEntries(out, part.lines);
      out.end();
      const entries = out.lastText();
      const hasher = partHasher(key).update(partPreamble({ ...batch, part: index, entries }));
      this.digestLines(hasher, part.lines);
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

  /**
   * The batch_manifest lines, written straight into `groups` (policy `policy`): the entries go into the line as
   * bytes and the part's digest reads them there, with no string for them (making the entries text, then its line,
   * then its bytes cost the hub about 0.3 µs per reading: hub/src/ingest/README.md). An entry needs no escaping: a
   * reading's device id is an Id (letters, digits, `_`, `.`, `-`), checked before it gets here; a part whose entries
   * hold a quote or a backslash all the same is written through `points()` instead.
   */
  write(groups: LineGroups, policy: string, batch: ManifestBatch, key: Buffer | undefined): void {
    const inDay = new Map<number, number>();
    let fallback: Point[] | undefined;
    this.parts.forEach((part, index) => {
      const partInDay = inDay.get(part.day) ?? 0;
      inDay.set(part.day, partInDay + 1);
      try {
        groups.addEncoded(
          policy,
          undefined,
          (out: LineBytes) => this.writePart(out, batch, key, index, part, partInDay),
          undefined,
          undefined,
        );
      } catch (e) {
        if (!(e instanceof NeedsEscaping)) throw e;
        fallback ??= this.points(batch, key);
        groups.add(policy, encodePoint(fallback[index] as Point));
      }
    });
  }

  private writePart(out: LineBytes, batch: ManifestBatch, key: Buffer | undefined, index: number, part: Part, partInDay: number): void {
    out.text(MEASUREMENT.batch_manifest);
    out.tag(",epoch=", batch.epoch);
    out.tag(",gateway=", batch.gatewayId);
    out.text(" seq=");
    out.number(batch.seq);
    out.text(",hash=");
    out.quoted(batch.hash);
    out.text(",part=");
    out.number(index);
    out.text(",parts=");
    out.number(this.parts.length);
    out.text(",readings=");
    out.number(part.lines.length);
    out.text(',entries="');
    const from = out.lineLength;
    this.writeEntries(out, part.lines);
    const entries = out.lineBytes(from, out.lineLength);
    if (entries.includes(QUOTE) || entries.includes(BACKSLASH)) throw new NeedsEscaping();
    // partPreamble, with the entries read from the line.
    const hasher = partHasher(key)
      .update(partPreambleHead({ ...batch, part: index }))
      .update(entries)
      .update(NEWLINE);
    this.digestLines(hasher, part.lines);
    out.text('",digest=');
    out.quoted(hasher.digest("base64url"));
    out.text(" ");
    out.text(manifestTimestamp(part.day, batch.seq, partInDay));
  }

  /**
   * A part's `entries` field (hub/SCHEMA.md, `batch_manifest`), written as bytes: the compact form (`v2`, the part's
   * devices, then per line its kind, device number and the differences of its time and seq from the line before) when
   * every line's timestamp is plain digits and every seq a safe integer (always, for what encodeBatch writes), else
   * the first form (`kind device timestamp seq digest` per line, the timestamp copied from the line). The compact
   * form is about a third of the bytes: influxd spent about as much CPU storing a batch's entries string as on 500 of
   * its readings (hub/src/ingest/README.md, "Fifth pass").
   */
  private writeEntries(out: LineBytes, lines: readonly number[]): void {
    if (!this.timesOf(lines)) return this.writeFirstForm(out, lines);
    out.text(COMPACT_MARK);
    const numbers = DEVICE_NUMBERS;
    numbers.clear();
    for (const i of lines) {
      const device = this.devices[i] as string;
      if (numbers.has(device)) continue;
      numbers.set(device, numbers.size);
      out.text(" ");
      out.text(device);
    }
    let ms = 0;
    let seq = 0;
    lines.forEach((i, k) => {
      const lineSeq = this.seqs[i] as number;
      const lineMs = TIMES_MS[k] as number;
      const sub = TIMES_SUB[k] as number;
      out.text(";");
      out.text(KIND_LETTER[this.kinds[i] as AuditedKind]);
      if (this.partial[i]) out.text("p");
      out.number(numbers.get(this.devices[i] as string) as number);
      out.text(" ");
      out.number(lineMs - ms);
      out.text(" ");
      out.number(lineSeq - seq);
      out.text(" ");
      out.hex8(this.digests[i] as number);
      if (sub !== lineSeq % 1_000_000) {
        out.text(" ");
        out.number(sub);
      }
      ms = lineMs;
      seq = lineSeq;
    });
  }

  /**
   * Each line's timestamp as milliseconds and the six digits after them (into TIMES_MS, TIMES_SUB); false when one
   * is not plain digits of at most 21 (then its milliseconds might not be a safe integer) or a seq is not safe.
   */
  private timesOf(lines: readonly number[]): boolean {
    TIMES_MS.length = TIMES_SUB.length = 0;
    for (const i of lines) {
      if (!Number.isSafeInteger(this.seqs[i])) return false;
      const chunk = this.chunks[i] as Buffer;
      const from = (this.spaces[i] as number) + 1;
      const to = this.ends[i] as number;
      if (to <= from || to - from > 21) return false;
      const split = to - 6;
      let ms = 0;
      let sub = 0;
      for (let at = from; at < to; at++) {
        const digit = (chunk[at] as number) - ZERO;
        if (digit < 0 || digit > 9) return false;
        if (at < split) ms = ms * 10 + digit;
        else sub = sub * 10 + digit;
      }
      TIMES_MS.push(ms);
      TIMES_SUB.push(sub);
    }
    return true;
  }

  /** The first form of `entries`: `kind device timestamp seq digest` per line, `;`-separated. */
  private writeFirstForm(out: LineBytes, lines: readonly number[]): void {
    lines.forEach((i, k) => {
      if (k > 0) out.text(";");
      out.text(KIND_LETTER[this.kinds[i] as AuditedKind]);
      out.text(this.partial[i] ? "p " : " ");
      out.text(this.devices[i] as string);
      out.text(" ");
      out.copy(this.chunks[i] as Buffer, (this.spaces[i] as number) + 1, this.ends[i] as number);
      out.text(" ");
      out.number(this.seqs[i] as number);
      out.text(" ");
      out.hex8(this.digests[i] as number);
    });
  }

  /** The lines' bytes joined by newlines, fed in runs: lines next to each other in one chunk are one update. */
  private digestLines(hasher: Hash | Hmac, lines: readonly number[]): void {
    let chunk: Buffer | undefined;
    let from = 0;
    let to = 0;
    for (const i of lines) {
      const start = this.starts[i] as number;
      if (chunk === this.chunks[i] && start === to + 1) {
        to = this.ends[i] as number;
        continue;
      }
      if (chunk !== undefined) hasher.update(chunk.subarray(from, to)).update(NEWLINE);
      chunk = this.chunks[i] as Buffer;
      from = start;
      to = this.ends[i] as number;
    }
    if (chunk !== undefined) hasher.update(chunk.subarray(from, to));
  }
}

const hex8 = (n: number): string => n.toString(16).padStart(8, "0");
/** A scratch writer for entries (one part at a time, never across an await). */
const ENTRIES = new LineBytes();
/** Scratch for writeEntries (one part at a time): device numbers, and each line's time (ms and the digits after). */
const DEVICE_NUMBERS = new Map<string, number>();
const TIMES_MS: number[] = [];
const TIMES_SUB: number[] = [];
const ZERO = 0x30;
/** What starts the compact form of `entries` (the first form starts with a kind letter). */
const COMPACT_MARK = "v2";
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** One reading of a manifest part, as `hub audit` reads it. */
export interface ManifestEntry {
  kind: AuditedKind;
  partial: boolean;
  device: string;
  /** The point's timestamp, decimal nanoseconds. */
  ns: string;
  seq: number;
  /** FNV-1a of the line written, 8 hex digits. */
  digest: string;
}

const COMPACT_ENTRY = /^([a-z])(p?)(\d+) (-?\d+) (-?\d+) ([0-9a-f]{8})(?: (\d{1,6}))?$/;

/** A part's `entries` field, in either form (ManifestBuilder.writeEntries); throws on text that is neither. */
export function parseEntries(text: string): ManifestEntry[] {
  if (text === "") return [];
  const [head = "", ...rest] = text.split(";");
  const unreadable = (entry: string) => new Error(`manifest entry ${JSON.stringify(entry.slice(0, 120))} cannot be read`);
  if (head !== COMPACT_MARK && !head.startsWith(`${COMPACT_MARK} `))
    return text.split(";").map((line) => {
      const [tag = "", device = "", ns = "", seq = "", digest = ""] = line.split(" ");
      const kind = KIND_OF_LETTER[tag[0] ?? ""];
      if (!kind || !/^\d+$/.test(ns)) throw unreadable(line);
      return { kind, partial: tag[1] === "p", device, ns, seq: Number(seq), digest };
    });
  const devices = head.split(" ").slice(1);
  let ms = 0;
  let seq = 0;
  return rest.map((entry) => {
    const m = COMPACT_ENTRY.exec(entry);
    const kind = m ? KIND_OF_LETTER[m[1] as string] : undefined;
    const device = m ? devices[Number(m[3])] : undefined;
    if (!m || !kind || device === undefined) throw unreadable(entry);
    ms += Number(m[4]);
    seq += Number(m[5]);
    const sub = m[7] === undefined ? seq % 1_000_000 : Number(m[7]);
    if (!Number.isSafeInteger(ms) || ms < 0 || !Number.isSafeInteger(seq) || sub < 0) throw unreadable(entry);
    const ns = readingTimestampNs(ms, sub); // sub < 1,000,000: ms × 1,000,000 + sub
    return { kind, partial: m[2] === "p", device, ns, seq, digest: m[6] as string };
  });
}

/** The batch a manifest belongs to. */
export interface ManifestBatch {
  gatewayId: string;
  epoch: string;
  seq: number;
  hash: string;
}

/** Entries that would need escaping in the line (write() then takes the string way). */
class NeedsEscaping extends Error {}
