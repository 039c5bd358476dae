import type { PayloadError } from "./errors.ts";
import { err, ok, type Result } from "./result.ts";
import type { CheckedReading, ReadingKind } from "./envelope.ts";

/**
 * The uplink envelope, v2: the same signed and chained batch as v1 (PROTOCOL.md 4.2), whose readings are rows, one
 * JSON array per reading in the column order of a frozen layout, instead of one JSON object per reading:
 *
 *     {"v":2,"gatewayId":…,"epoch":…,"seq":…,"prevHash":…,"createdAt":…,"layout":1,"readings":[["rating","kp-w01",17,…],…]}
 *
 * A row is its kind, then the kind's columns in the layout's order; `null` or a column left off the end means the
 * field is absent. The field names are no longer repeated in every reading, so a batch is about half the bytes:
 * what the hub hashes, verifies, receives over MQTT and parses. The receiver turns a row back into the reading it
 * stands for (`readingFromRow`) and checks it with the same schema as a v1 reading (`parseReading`), so v1 and v2
 * readings get the same verdicts.
 *
 * A layout never changes once published: a new field in a reading schema needs a new layout number (the test that
 * compares each layout with its schema fails until then). A gateway that holds a reading its layout cannot carry
 * seals that batch as v1 (`readingRowsJson` answers undefined).
 *
 * v3 (PROTOCOL.md 4.3) is v2's body with `"v":3`, signed over its SHA-256 instead of its bytes (envelope.ts,
 * `signedMessage`): the rows are the same.
 */

/** Uplink envelope versions a hub of this code accepts. */
export const UPLINK_VERSIONS = [1, 2, 3] as const;
export type UplinkVersion = (typeof UPLINK_VERSIONS)[number];

/** Layout 1's columns for each kind, after the kind itself (column 0). Frozen: never edit, add a layout. */
export const READING_LAYOUTS = {
  1: {
    rating: ["deviceId", "seq", "ts", "rxTs", "windowId", "outcome", "scale", "key", "level", "clerkId", "txnId"],
    signin: ["deviceId", "seq", "ts", "rxTs", "personId", "method", "direction", "location", "clockOffsetS"],
    motion: ["deviceId", "seq", "ts", "rxTs", "cameraId", "state", "source", "snapshotSha256"],
    heartbeat: ["deviceId", "seq", "ts", "rxTs", "intervalS", "uptimeS", "fw", "rssi", "pending"],
    item: [
      "deviceId",
      "seq",
      "ts",
      "rxTs",
      "type",
      "applicationNo",
      "itemCode",
      "windowId",
      "clerkId",
      "applicantType",
      "step",
      "handler",
      "result",
      "outcome",
      "reason",
      "txnId",
    ],
    queue: ["deviceId", "seq", "ts", "rxTs", "type", "ticket", "txnId", "windowId", "clerkId", "applicationNo", "itemCode"],
    presence: [
      "deviceId",
      "seq",
      "ts",
      "rxTs",
      "type",
      "intervalS",
      "lastSeenTs",
      "fromTs",
      "toTs",
      "count",
      "firstSeenTs",
      "gaps",
      "state",
    ],
  },
} as const satisfies Record<number, Record<ReadingKind, readonly string[]>>;
export type LayoutNumber = keyof typeof READING_LAYOUTS;
/** The layout gateways of this code write. */
export const CURRENT_LAYOUT: LayoutNumber = 1;

type Layout = Readonly<Record<string, readonly string[]>>;
const layoutOf = (layout: LayoutNumber): Layout => READING_LAYOUTS[layout];

/**
 * A reading as a row of `layout`, trailing absent fields left off; undefined when the layout cannot carry it (a
 * kind or field it does not name, a `null` value, a `v` other than 1): the gateway then seals the batch as v1.
 */
export function readingRow(reading: Readonly<Record<string, unknown>>, layout: LayoutNumber = CURRENT_LAYOUT): unknown[] | undefined {
  const kind = reading.kind;
  const columns = typeof kind === "string" && Object.hasOwn(layoutOf(layout), kind) ? layoutOf(layout)[kind]! : undefined;
  if (!columns) return undefined;
  let carried = 1; // kind
  if (reading.v !== undefined) {
    if (reading.v !== 1) return undefined;
    carried++;
  }
  const row: unknown[] = [kind];
  let last = 0;
  for (let i = 0; i < columns.length; i++) {
    const value = Object.hasOwn(reading, columns[i]!) ? reading[columns[i]!] : undefined;
    if (value === null) return undefined;
    if (value === undefined) {
      row.push(null);
      continue;
    }
    row.push(value);
    carried++;
    last = i + 1;
  }
  // Every field it has (a field holding undefined is absent, as in its JSON) is carried: nothing is lost.
  let fields = 0;
  for (const key of Object.keys(reading)) if (reading[key] !== undefined) fields++;
  if (fields !== carried) return undefined;
  row.length = last + 1;
  return row;
}

/**
 * The gateway's side: readings' JSON as its buffer stores them, comma-separated (v1 objects), turned into the rows
 * of a v2 batch, comma-separated, UTF-8; undefined when any of them cannot be carried by the layout (or is not JSON).
 */
export function readingRowsJson(readingsJson: Uint8Array, layout: LayoutNumber = CURRENT_LAYOUT): Buffer | undefined {
  const bytes = Buffer.from(readingsJson.buffer, readingsJson.byteOffset, readingsJson.byteLength);
  const out: Buffer[] = [];
  // In pieces under 128 KiB, as the hub parses bodies (batch-json.ts): a string over that is a large object to V8, and
  // making the whole batch one string cost three times the rest of this. Split where one reading ends and the next
  // begins; a split inside a string or a nested value leaves a piece that does not parse, and then the batch goes v1.
  let from = 0;
  while (from < bytes.length) {
    const boundary = bytes.length - from > PIECE_BYTES ? bytes.indexOf(READING_BOUNDARY, from + PIECE_BYTES) : -1;
    const to = boundary < 0 ? bytes.length : boundary + 1;
    let readings: unknown;
    try {
      readings = JSON.parse(`[${bytes.toString("utf8", from, to)}]`);
    } catch {
      return undefined;
    }
    const rows: unknown[][] = [];
    for (const reading of readings as unknown[]) {
      if (reading === null || typeof reading !== "object" || Array.isArray(reading)) return undefined;
      const row = readingRow(reading as Record<string, unknown>, layout);
      if (!row) return undefined;
      rows.push(row);
    }
    if (out.length > 0) out.push(COMMA);
    out.push(Buffer.from(JSON.stringify(rows).slice(1, -1), "utf8"));
    from = to + 1; // past the comma between two readings
  }
  return Buffer.concat(out);
}
const PIECE_BYTES = 64 * 1024;
const READING_BOUNDARY = Buffer.from("},{", "latin1");
const COMMA = Buffer.from(",", "latin1");

/**
 * The reading a received row stands for, before its schema check: refused here only when it is not a row of the
 * layout at all (not an array, an unknown kind, more columns than the kind has). Everything else is the schema's to
 * judge (`parseRowReading`).
 */
export function readingFromRow(row: unknown, layout: LayoutNumber): Result<Record<string, unknown>, PayloadError> {
  if (!Array.isArray(row)) return err({ code: "invalid_field", message: "a v2 reading must be a JSON array (a row)" });
  const kind: unknown = row[0];
  const columns = typeof kind === "string" && Object.hasOwn(layoutOf(layout), kind) ? layoutOf(layout)[kind]! : undefined;
  if (!columns)
    return err({
      code: "invalid_field",
      message: `unknown reading kind ${String(JSON.stringify(kind) ?? "(none)").slice(0, 80)} in layout ${layout}`,
      path: "kind",
    });
  if (row.length > columns.length + 1)
    return err({
      code: "unknown_field",
      message: `a ${kind} row of layout ${layout} has at most ${columns.length + 1} columns; this one has ${row.length}`,
      path: `[${columns.length + 1}]`,
    });
  return ok(rowReader(layout, kind as string, row));
}

type RowReader = (row: readonly unknown[]) => Record<string, unknown>;
/** Per layout and kind: its columns and a reader per set of columns present (a bit each); a batch's rows share a few. */
const rowReaders = new Map<LayoutNumber, Map<string, { columns: readonly string[]; readers: Map<number, RowReader> }>>();
const MAX_READERS_PER_KIND = 1024;

/**
 * The reading of a row (of checked length) built as one object literal naming the fields present, as JSON.parse
 * builds a v1 reading: its fields are then stored inside the object, and reading them later (check, line) costs what
 * it costs for a v1 reading. The literal's code is generated once per set of columns present (from the frozen layout:
 * identifiers only) and kept; past MAX_READERS_PER_KIND sets (only hostile rows make so many) the fields are added one
 * by one, with the same result.
 */
function rowReader(layout: LayoutNumber, kind: string, row: readonly unknown[]): Record<string, unknown> {
  let kinds = rowReaders.get(layout);
  if (!kinds) {
    kinds = new Map(Object.entries(layoutOf(layout)).map(([k, columns]) => [k, { columns, readers: new Map<number, RowReader>() }]));
    rowReaders.set(layout, kinds);
  }
  const perKind = kinds.get(kind)!;
  let present = 0;
  for (let i = 1; i < row.length; i++) if (row[i] !== null) present |= 1 << (i - 1);
  let reader = perKind.readers.get(present);
  if (!reader) {
    const { columns } = perKind;
    if (perKind.readers.size >= MAX_READERS_PER_KIND) {
      const reading: Record<string, unknown> = { kind };
      for (let i = 1; i < row.length; i++) if (row[i] !== null) reading[columns[i - 1]!] = row[i];
      return reading;
    }
    const fields = ["kind: row[0]"];
    for (let i = 1; i <= columns.length; i++) if (present & (1 << (i - 1))) fields.push(`${JSON.stringify(columns[i - 1])}: row[${i}]`);
    reader = new Function(`return function readRow(row) { return { ${fields.join(", ")} }; };`)() as RowReader;
    perKind.readers.set(present, reader);
  }
  return reader(row);
}

/** A v2 row checked as parseReading checks a v1 reading (`parse` is parseReading, given so this module stays small). */
export function parseRowReading(
  row: unknown,
  layout: LayoutNumber,
  parse: (reading: unknown) => Result<CheckedReading, PayloadError>,
): Result<CheckedReading, PayloadError> {
  const reading = readingFromRow(row, layout);
  return reading.ok ? parse(reading.value) : reading;
}
