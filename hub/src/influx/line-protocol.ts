/**
 * InfluxDB 1.x line protocol, written by hand because it is the hub's hot path: the `influx` package's
 * `writePoints` spends about 8 µs per point on regex escaping and field sorting, half of what influxd itself
 * spends storing the point. Same value types as `writePoints` (every number a float field, so series written
 * either way never conflict), tags sorted by key (what influxd would otherwise sort on every point).
 */

export type FieldValue = number | string | boolean;

export interface Point {
  measurement: string;
  /** Tags with an empty value are left out: InfluxDB refuses them, and an absent tag reads as empty. */
  tags?: Record<string, string>;
  fields: Record<string, FieldValue>;
  /** Nanoseconds since the epoch, as decimal text (it exceeds 2^53). */
  timestamp: string;
}

/** A point InfluxDB could not parse as meant; the caller refuses the reading it came from. */
export class UnwritablePointError extends Error {}

const COMMA = 44;
const EQUALS = 61;
const SPACE = 32;
const BACKSLASH = 92;
const QUOTE = 34;
const LF = 10;
const CR = 13;

/**
 * Measurement, tag keys and values, field keys: comma, space (and but for the measurement, equals) are escaped
 * with a backslash. influxd does not unescape a backslash there (it keeps `\\` as two, and one before a separator
 * escapes the separator), and a newline would end the line and start an injected one: names holding either are
 * refused. The hub's names and tag values are ids and enum values, so only a bug or hostile input meets this.
 * A character scan, not a regex: this runs some twenty times per point.
 */
function escapeName(text: string, escapeEquals: boolean): string {
  let special = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === COMMA || c === SPACE || (c === EQUALS && escapeEquals)) special = true;
    else if (c === BACKSLASH || c === LF || c === CR)
      throw new UnwritablePointError(`${JSON.stringify(text.slice(0, 64))} cannot be written as a name or tag value`);
  }
  return special ? text.replace(escapeEquals ? /[,= ]/g : /[, ]/g, "\\$&") : text;
}

/** String field values are quoted; a quote and a backslash inside are escaped. Newlines are allowed inside quotes. */
function quote(text: string): string {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE || c === BACKSLASH) return `"${text.replace(/["\\]/g, "\\$&")}"`;
  }
  return `"${text}"`;
}

const ZEROS = "000000000";

/**
 * The decimal text of a non-negative safe integer, as String() writes it. Millisecond times are above 2^31, where
 * V8 converts through its double printer (about 0.4 µs each, a tenth of the hub's budget per reading); two halves
 * below 10^9 convert as small integers.
 */
export function integerText(n: number): string {
  if (n < 1e9 || !Number.isSafeInteger(n)) return `${n}`;
  const high = Math.floor(n / 1e9);
  const low = `${n - high * 1e9}`;
  return `${high}${ZEROS.slice(low.length)}${low}`;
}

/** A tag value as encodePoint writes it (escaped); throws UnwritablePointError where encodePoint would. */
export const escapeTagValue = (text: string): string => escapeName(text, true);
/** A string field value as encodePoint writes it. */
export const quoteFieldValue = quote;
/** Whether encodePoint accepts a timestamp (decimal nanoseconds that fit InfluxDB's int64). */
export const isWritableTimestamp = (timestamp: string): boolean => TIMESTAMP.test(timestamp);

function fieldValue(value: FieldValue): string | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : undefined; // NaN and ±Inf have no line-protocol form
  if (typeof value === "boolean") return value ? "true" : "false";
  return quote(value);
}

const TIMESTAMP = /^-?\d{1,19}$/;

/** One point as one line (no trailing newline). Throws UnwritablePointError where InfluxDB would refuse or misread it. */
export function encodePoint(point: Point): string {
  let line = escapeName(point.measurement, false);
  const tags = point.tags;
  if (tags) {
    const keys = Object.keys(tags);
    if (!isSorted(keys)) keys.sort();
    for (const key of keys) {
      const value = tags[key];
      if (value === undefined || value === "") continue;
      line += `,${escapeName(key, true)}=${escapeName(value, true)}`;
    }
  }
  let separator = " ";
  for (const key in point.fields) {
    const value = fieldValue(point.fields[key] as FieldValue);
    if (value === undefined) continue;
    line += `${separator}${escapeName(key, true)}=${value}`;
    separator = ",";
  }
  if (separator === " ") throw new UnwritablePointError(`point of "${point.measurement}" has no writable field`);
  if (!TIMESTAMP.test(point.timestamp))
    throw new UnwritablePointError(`point of "${point.measurement}" has timestamp "${point.timestamp}": expected nanoseconds`);
  return `${line} ${point.timestamp}`;
}

function isSorted(keys: string[]): boolean {
  for (let i = 1; i < keys.length; i++) if ((keys[i - 1] as string) > (keys[i] as string)) return false;
  return true;
}
