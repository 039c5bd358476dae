import { isUtf8 } from "node:buffer";
import type { PayloadError } from "./errors.ts";
import { ok, type Result } from "./result.ts";
import { parseJsonObject } from "./validate.ts";

/**
 * A batch body's JSON parsed without ever holding the whole body as one string. A string over 128 KiB is a large
 * object to V8: on the hub's 2-core machine making one cost about 1.3 ms, more than parsing the thousand readings in
 * it (npm run bench -- hub; hub/src/ingest/README.md). A body as gateways write it,
 *
 *     {"v":1,"gatewayId":…,"createdAt":…,"readings":[{…},{…},…]}
 *
 * is parsed as its head (everything before `,"readings":[`, closed with `}`) and its readings array in pieces of
 * about PIECE_BYTES, split where one reading ends and the next begins (`},{`). When every piece parses, the result
 * is the one JSON.parse gives for the whole body: `[A]` and `[B]` being JSON arrays, `[A,B]` is the array of both's
 * elements; a split inside a string leaves a piece with an unterminated string, and one inside a nested object or
 * array a piece whose brackets do not close, neither of which parses. A v2 body's rows are split the same way where
 * one row ends and the next begins (`],[`). Any body off
 * this path (another layout, a split that does not parse, invalid UTF-8, a BOM) is parsed whole by parseJsonObject,
 * so verdicts and error messages are the same either way.
 */
export function parseBatchJson(
  bodyBytes: Buffer,
  maxBytes: number,
  pieceBytes = PIECE_BYTES,
): Result<Record<string, unknown>, PayloadError> {
  return (bodyBytes.length <= maxBytes && parseInPieces(bodyBytes, pieceBytes)) || parseJsonObject(bodyBytes, maxBytes);
}

/** Below the 128 KiB at which V8 makes a string a large object, with room for a long reading. */
const PIECE_BYTES = 64 * 1024;
const READINGS_KEY = Buffer.from(',"readings":[', "latin1");
const READING_BOUNDARY = Buffer.from("},{", "latin1");
/** Between two rows of a v2 body (`"readings":[[…],[…]]`). */
const ROW_BOUNDARY = Buffer.from("],[", "latin1");
const OPEN_BRACKET = 0x5b;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACKET = 0x5d;
const CLOSE_BRACE = 0x7d;

/** The body parsed in pieces, or undefined when it is not laid out as gateways write it (the caller parses it whole). */
function parseInPieces(bytes: Buffer, pieceBytes: number): { ok: true; value: Record<string, unknown> } | undefined {
  const end = bytes.length - 2;
  if (bytes[0] !== OPEN_BRACE || bytes[end] !== CLOSE_BRACKET || bytes[end + 1] !== CLOSE_BRACE) return undefined;
  const keyAt = bytes.indexOf(READINGS_KEY);
  if (keyAt < 0 || !isUtf8(bytes)) return undefined;
  try {
    const head: unknown = JSON.parse(`${bytes.toString("utf8", 0, keyAt)}}`);
    if (head === null || typeof head !== "object" || Array.isArray(head)) return undefined;
    // `{,` closed as `{}` parses, but the whole body would not; a head with its own "readings" would lose it.
    if (Object.keys(head).length === 0 || Object.hasOwn(head, "readings")) return undefined;
    const readings: unknown[] = [];
    let from = keyAt + READINGS_KEY.length;
    const between = bytes[from] === OPEN_BRACKET ? ROW_BOUNDARY : READING_BOUNDARY;
    while (from < end) {
      const boundary = end - from > pieceBytes ? bytes.indexOf(between, from + pieceBytes) : -1;
      const to = boundary < 0 || boundary >= end ? end : boundary + 1;
      const piece: unknown = JSON.parse(`[${bytes.toString("utf8", from, to)}]`);
      for (const reading of piece as unknown[]) readings.push(reading);
      from = to + 1; // past the comma between two readings
    }
    if (from !== end && from !== end + 1) return undefined;
    return ok({ ...(head as Record<string, unknown>), readings });
  } catch {
    return undefined;
  }
}
