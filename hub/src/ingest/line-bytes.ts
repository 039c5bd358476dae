import { escapeTagValue, quoteFieldValue } from "../influx/line-protocol.ts";

/**
 * Lines of line protocol written straight into UTF-8 bytes, part by part, in chunks of whole lines (newline-separated
 * within a chunk; a body is its chunks written one after the other with a newline between them).
 *
 * Why not strings (what it was): a line built by concatenating some twenty parts is a tree of strings that V8 must
 * copy flat before it can encode it, and the hub then joined the lines into pieces, encoded the pieces and read every
 * character again for the batch manifest's digest: together about a third of its CPU per reading
 * (hub/src/ingest/README.md). Here each part is copied once into the chunk (ASCII by a plain loop; anything else by
 * V8's UTF-8 writer), and the line's digest and last space are read from its bytes while they are still in cache.
 * The chunks live outside the JavaScript heap, so a batch waiting for InfluxDB costs the young generation's
 * collections nothing.
 *
 * The escaping is line-protocol.ts's (escapeTagValue, quoteFieldValue): the same bytes as those strings give, and
 * the same UnwritablePointError where they refuse (line-bytes.test.ts compares them on random and hostile text).
 */

/** A chunk's size: a batch of a thousand readings takes a few. A longer line gets a chunk of its own. */
const CHUNK_BYTES = 64 * 1024;
const NEWLINE = 10;
const CR = 13;
const SPACE = 32;
const QUOTE = 34;
const COMMA = 44;
const EQUALS = 61;
const BACKSLASH = 92;
const ZERO = 48;
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const EMPTY = Buffer.alloc(0);
const HEX = Buffer.from("0123456789abcdef", "latin1");

/** "00" to "99" as ASCII bytes, two per number. */
const DIGIT_PAIRS = Buffer.from(Array.from({ length: 100 }, (_, i) => String(i).padStart(2, "0")).join(""), "latin1");

/** The decimal digits of a non-negative integer below 2^31. */
function digitCount(n: number): number {
  if (n < 10_000) return n < 10 ? 1 : n < 100 ? 2 : n < 1000 ? 3 : 4;
  if (n < 100_000_000) return n < 100_000 ? 5 : n < 1_000_000 ? 6 : n < 10_000_000 ? 7 : 8;
  return n < 1_000_000_000 ? 9 : 10;
}

/** Where the last line ended went, and what was read of it on the way (overwritten by the next line). */
export interface LastLine {
  /** The chunk holding the line (later lines may extend the chunk; the line's bytes never move). */
  chunk: Buffer;
  start: number;
  end: number;
  /** The offset of the line's last space: its timestamp is the bytes after it. */
  space: number;
  /** FNV-1a (32 bits) of the line's UTF-16 code units, as `lineDigest` gives it for the line's text. */
  digest: number;
}

/** A line's first part as bytes, with the digest of those bytes (when ASCII), to start many lines with. */
export interface LinePrefix {
  bytes: Buffer;
  hash: number;
  ascii: boolean;
}

/** The offset of the last space in a line's bytes, or start - 1. */
function lastSpace(chunk: Buffer, start: number, end: number): number {
  if (end <= start) return start - 1;
  const at = chunk.lastIndexOf(SPACE, end - 1);
  return at < start ? start - 1 : at;
}

/** FNV-1a (32 bits) of a text's UTF-16 code units: a line's short digest in the batch manifest. */
export function fnv1aText(text: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), FNV_PRIME);
  return h >>> 0;
}

export class LineBytes {
  /** Chunks filled before the current one, each trimmed to its lines. */
  private readonly sealed: Buffer[] = [];
  private chunk: Buffer = EMPTY;
  private used = 0;
  /** Where the line being written starts (after its newline). */
  private lineStart = 0;
  /** Whether the current chunk holds a line (the next one then starts with a newline). */
  private started = false;
  /** Whether the line being written is ASCII so far (then its bytes are its code units). */
  private ascii = true;
  /** The line's digest so far covers its bytes before this offset (a prefix copied with its digest). */
  private hashFrom = 0;
  private hashSeed = FNV_OFFSET;
  /** The last line ended: read it before the next one ends. */
  readonly last: LastLine = { chunk: EMPTY, start: 0, end: 0, space: 0, digest: 0 };

  /** Starts a line; write its parts, then `end()` (or `abort()` when a part throws). */
  begin(): void {
    if (this.started) {
      if (this.used === this.chunk.length) {
        // Full: the line starts the next chunk, and a chunk starts without a newline.
        this.sealed.push(this.chunk);
        this.chunk = EMPTY;
        this.used = 0;
      } else this.chunk[this.used++] = NEWLINE;
    }
    this.started = true;
    this.lineStart = this.used;
    this.hashFrom = this.used;
    this.hashSeed = FNV_OFFSET;
    this.ascii = true;
  }

  /** Copies a prefix made by `prefixOf` (a line's measurement and tags) as the first part of the line begun. */
  prefix(p: LinePrefix): void {
    this.room(p.bytes.length);
    this.chunk.set(p.bytes, this.used);
    this.used += p.bytes.length;
    this.hashFrom = this.used;
    this.hashSeed = p.hash;
    if (!p.ascii) this.ascii = false;
  }

  /** What `write` writes at the start of a line, kept to be copied (with its digest) into many lines. */
  static prefixOf(write: (out: LineBytes) => void): LinePrefix {
    const out = new LineBytes();
    out.begin();
    write(out);
    const last = out.end();
    return { bytes: Buffer.from(last.chunk.subarray(last.start, last.end)), hash: out.ascii ? last.digest : 0, ascii: out.ascii };
  }

  /** Ends the line begun; returns where it went, with its digest (valid until the next line ends). */
  end(): LastLine {
    const { chunk, lineStart: start, used: end, last } = this;
    last.chunk = chunk;
    last.start = start;
    last.end = end;
    if (this.ascii) {
      let h = this.hashSeed;
      let space = -1;
      for (let i = this.hashFrom; i < end; i++) {
        const byte = chunk[i] as number;
        if (byte === SPACE) space = i;
        h = Math.imul(h ^ byte, FNV_PRIME);
      }
      last.space = space >= 0 ? space : lastSpace(chunk, start, end);
      last.digest = h >>> 0;
    } else {
      last.digest = fnv1aText(chunk.toString("utf8", start, end));
      last.space = lastSpace(chunk, start, end);
    }
    return last;
  }

  /** Drops the line begun (and its newline). */
  abort(): void {
    if (this.lineStart > 0) this.used = this.lineStart - 1;
    else [this.used, this.started] = [0, false];
  }

  /** A whole line. */
  line(text: string): LastLine {
    this.begin();
    this.text(text);
    return this.end();
  }

  /** Text as it is (a measurement, `,key=`, ` field=`, a number's text, a line made elsewhere). */
  text(s: string): void {
    const n = s.length;
    this.room(n * 3);
    const chunk = this.chunk;
    let u = this.used;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        this.used = u;
        this.utf8(i === 0 ? s : s.slice(i));
        return;
      }
      chunk[u++] = c;
    }
    this.used = u;
  }

  /** `prefix` and `value` escaped as a tag value (escapeTagValue); nothing for an absent or empty value. */
  tag(prefix: string, value: string | undefined): void {
    if (value === undefined || value === "") return;
    this.text(prefix);
    const n = value.length;
    this.room(n * 3 + n);
    const chunk = this.chunk;
    const from = this.used;
    let u = from;
    for (let i = 0; i < n; i++) {
      const c = value.charCodeAt(i);
      if (c === COMMA || c === SPACE || c === EQUALS) chunk[u++] = BACKSLASH;
      else if (c >= 0x80 || c === BACKSLASH || c === NEWLINE || c === CR) {
        // Rare: the string function escapes it, or refuses it with its message.
        const escaped = escapeTagValue(value);
        this.used = from;
        this.text(escaped);
        return;
      }
      chunk[u++] = c;
    }
    this.used = u;
  }

  /** A string field's value, quoted and escaped as quoteFieldValue does. */
  quoted(value: string): void {
    const n = value.length;
    this.room(n * 3 + n + 2);
    const chunk = this.chunk;
    const from = this.used;
    let u = from;
    chunk[u++] = QUOTE;
    for (let i = 0; i < n; i++) {
      const c = value.charCodeAt(i);
      if (c === QUOTE || c === BACKSLASH) chunk[u++] = BACKSLASH;
      else if (c >= 0x80) {
        this.used = from;
        this.text(quoteFieldValue(value));
        return;
      }
      chunk[u++] = c;
    }
    chunk[u++] = QUOTE;
    this.used = u;
  }

  /** A number as String() writes it; non-negative safe integers digit by digit (V8 prints large ones slowly). */
  number(n: number): void {
    if (n < 1e9 && n >= 0 && (n | 0) === n) return this.digits(n, 0);
    if (!(Number.isSafeInteger(n) && n >= 0)) return this.text(`${n}`);
    // Two halves below 10^9: integer arithmetic (a float's modulo costs tens of nanoseconds per digit).
    const high = Math.floor(n / 1e9);
    this.digits(high, 0);
    this.digits(n - high * 1e9, 9);
  }

  /** A non-negative integer below 2^31's digits, left-padded with zeros to `width`. */
  digits(n: number, width: number): void {
    let count = digitCount(n);
    if (count < width) count = width;
    this.room(count);
    const chunk = this.chunk;
    // Two digits per division, from a table, from the right (a timestamp half has nine).
    let at = this.used + count;
    let rest = n;
    while (rest >= 100) {
      const next = (rest / 100) | 0;
      const pair = (rest - next * 100) * 2;
      chunk[--at] = DIGIT_PAIRS[pair + 1] as number;
      chunk[--at] = DIGIT_PAIRS[pair] as number;
      rest = next;
    }
    if (rest >= 10) {
      chunk[--at] = DIGIT_PAIRS[rest * 2 + 1] as number;
      chunk[--at] = DIGIT_PAIRS[rest * 2] as number;
    } else chunk[--at] = ZERO + rest;
    while (at > this.used) chunk[--at] = ZERO;
    this.used += count;
  }

  /** Bytes copied from another buffer (ASCII: a line's timestamp). */
  copy(from: Buffer, start: number, end: number): void {
    this.room(end - start);
    const chunk = this.chunk;
    let u = this.used;
    for (let i = start; i < end; i++) chunk[u++] = from[i] as number;
    this.used = u;
  }

  /** A 32-bit number as 8 lowercase hex digits. */
  hex8(n: number): void {
    this.room(8);
    const chunk = this.chunk;
    for (let i = 7, rest = n >>> 0; i >= 0; i--, rest >>>= 4) chunk[this.used + i] = HEX[rest & 15] as number;
    this.used += 8;
  }

  /** Bytes written of the line begun so far. */
  get lineLength(): number {
    return this.used - this.lineStart;
  }

  /** Bytes `from`..`to` (offsets in the line begun) of the line begun: a view, valid until the next write. */
  lineBytes(from: number, to: number): Buffer {
    return this.chunk.subarray(this.lineStart + from, this.lineStart + to);
  }

  /** The lines so far, as chunks (a view of the current chunk, which later lines extend beyond). */
  chunks(): Buffer[] {
    return this.started ? [...this.sealed, this.chunk.subarray(0, this.used)] : [...this.sealed];
  }

  get empty(): boolean {
    return this.sealed.length === 0 && !this.started;
  }

  /** The text of the line `end()` reported last. */
  lastText(): string {
    return this.last.chunk.toString("utf8", this.last.start, this.last.end);
  }

  /** Forgets every line (a scratch writer reused for single lines). */
  clear(): void {
    this.sealed.length = 0;
    this.used = 0;
    this.lineStart = 0;
    this.started = false;
  }

  private utf8(s: string): void {
    this.ascii = false;
    this.used += this.chunk.write(s, this.used, "utf8");
  }

  /** At least `bytes` free after `used`; a line begun moves whole into the new chunk, so chunks hold whole lines. */
  private room(bytes: number): void {
    if (this.used + bytes <= this.chunk.length) return;
    const begun = this.chunk.subarray(this.lineStart, this.used);
    if (this.lineStart > 0) this.sealed.push(this.chunk.subarray(0, this.lineStart - 1));
    const chunk = Buffer.allocUnsafeSlow(Math.max(CHUNK_BYTES, 2 * (begun.length + bytes)));
    begun.copy(chunk, 0);
    this.hashFrom -= this.lineStart;
    this.chunk = chunk;
    this.used = begun.length;
    this.lineStart = 0;
  }
}
