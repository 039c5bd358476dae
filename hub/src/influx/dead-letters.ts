import { encodePoint, type Point } from "./line-protocol.ts";

/**
 * Points InfluxDB will never store, whatever the hub does: they are kept as `dead_letter` points (hub/SCHEMA.md)
 * instead of being retried forever, so one of them never holds back the points written with it.
 */

/** Why a point can never be written. Stable: metric labels and the `reason` tag use them. */
export const UNWRITABLE_REASONS = [
  "beyond_retention", // older than its retention policy keeps points
  "field_type_conflict", // a field holds another type than the one stored for that measurement
  "unparsable", // influxd cannot parse the line (a bad name, value or timestamp)
  "too_large", // larger than influxd accepts in one request
  "limit_exceeded", // influxd's max-series-per-database or max-values-per-tag
  "refused", // any other 4xx answer that names this point
  // Readings the hub refuses although InfluxDB would store them, kept for review (hub/src/ingest/batch-readings.ts):
  "outside_slice", // a validly signed reading for a device, window or site outside its gateway's slice of the registry
  "clerk_mismatch", // a rating crediting a clerk who does not work at its window
] as const;
export type UnwritableReason = (typeof UNWRITABLE_REASONS)[number];

/** What the refused points came from: a gateway batch, a gateway status, an alert or a rule's result. */
export interface WriteContext {
  source: "batch" | "status" | "alert" | "rules";
  gatewayId?: string;
  epoch?: string;
  seq?: number;
  /** The batch's creation time (ms): a replayed batch's dead letters rewrite the same points. */
  createdAt?: number;
}

export interface DeadLetter {
  policy: string;
  line: string;
  reason: UnwritableReason;
  /** influxd's answer, or the hub's own reason. */
  detail: string;
  context: WriteContext;
}

/** The reason in an influxd 1.x 4xx answer (e.g. `partial write: points beyond retention policy dropped=1`). */
export function classifyRefusal(status: number, message: string): UnwritableReason {
  if (status === 413 || /too large/i.test(message)) return "too_large";
  if (/beyond retention/i.test(message)) return "beyond_retention";
  if (/field type conflict/i.test(message)) return "field_type_conflict";
  if (/unable to parse|invalid (field|tag|timestamp|number|boolean)|bad timestamp/i.test(message)) return "unparsable";
  if (/max-series-per-database|max-values-per-tag/i.test(message)) return "limit_exceeded";
  return "refused";
}

/**
 * A write InfluxDB refused because of what some of its points hold (4xx): splitting it finds them. 401/403/404
 * (credentials, database missing) are the server's state, not the points', and are retried like an outage.
 */
export function isPointRefusal(status: number): boolean {
  return status === 400 || status === 413 || status === 422;
}

/** A line's measurement (up to the first unescaped comma or space). */
export function lineMeasurement(line: string): string {
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === "\\") i++;
    else if (c === "," || c === " ") return line.slice(0, i);
  }
  return line;
}

/** A line's timestamp: the text after its last space (the hub always writes one). */
export function lineTimestamp(line: string): string {
  return line.slice(line.lastIndexOf(" ") + 1);
}

/** Whether decimal nanosecond text `a` is before `b` (both without leading zeros or sign, as the hub writes them). */
export function nsBefore(a: string, b: string): boolean {
  return a.length !== b.length ? a.length < b.length : a < b;
}

/** The stored line is cut here: a string field of InfluxDB 1.x holds at most 64 KiB. */
const MAX_LINE_CHARS = 16_000;
const DAY_MS = 86_400_000;

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * The `dead_letter` point of one refused line. It is timed at its batch's creation (when that is recent) plus a
 * hash of the line in the nanoseconds, so a replayed batch rewrites the same point instead of adding one.
 */
export function deadLetterPoint(letter: DeadLetter, nowMs: number): Point {
  const { context } = letter;
  const created = context.createdAt;
  const atMs = created !== undefined && created > nowMs - 30 * DAY_MS && created < nowMs + DAY_MS ? created : nowMs;
  return {
    measurement: "dead_letter",
    timestamp: `${Math.floor(atMs)}${String(fnv1a(letter.line) % 1_000_000).padStart(6, "0")}`,
    // No empty tag values: the influx package (the rules' writer) would send them, and influxd refuses them.
    tags: {
      ...(context.gatewayId ? { gateway: context.gatewayId } : {}),
      measurement:
        lineMeasurement(letter.line)
          .slice(0, 64)
          .replace(/[\\\n\r]/g, "_") || "unknown",
      reason: letter.reason,
      source: context.source,
    },
    fields: {
      epoch: context.epoch ?? "",
      batch_seq: context.seq ?? 0,
      policy: letter.policy,
      line: letter.line.slice(0, MAX_LINE_CHARS),
      truncated: letter.line.length > MAX_LINE_CHARS,
      detail: letter.detail.slice(0, 1024),
    },
  };
}

export function deadLetterLine(letter: DeadLetter, nowMs: number): string {
  return encodePoint(deadLetterPoint(letter, nowMs));
}

/** "2 beyond_retention, 1 field_type_conflict" */
export function summariseReasons(letters: readonly DeadLetter[]): string {
  const counts = new Map<string, number>();
  for (const l of letters) counts.set(l.reason, (counts.get(l.reason) ?? 0) + 1);
  return [...counts].map(([reason, n]) => `${n} ${reason}`).join(", ");
}
