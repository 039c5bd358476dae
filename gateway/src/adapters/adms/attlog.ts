import { type SigninEvent, zoneOffsetMs } from "@supervision/firmware-protocols";

/**
 * ATTLOG lines (one punch a line): `PIN<TAB>YYYY-MM-DD hh:mm:ss<TAB>status<TAB>verify<TAB>workcode<TAB>...`, CR LF
 * or LF ends, often a trailing tab. Pure: parsing, the punch's identity, and its mapping to a v1 sign-in.
 */

export interface Punch {
  pin: string;
  /** The terminal's wall-clock time as written, "YYYY-MM-DD hh:mm:ss" (no zone). */
  local: string;
  status: number;
  verify: number;
}

export type LineResult = { ok: true; punch: Punch } | { ok: false; reason: string };

/** A PIN as terminals accept them: letters and digits (registries enrol digits; others are kept for review). */
const PIN = /^[0-9A-Za-z]{1,24}$/;
const LOCAL_TIME = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/;
const SMALL_INT = /^\d{1,3}$/;

/** Parses one ATTLOG line (without its line end). */
export function parseAttlogLine(line: string): LineResult {
  const fields = line.split("\t");
  if (fields.length < 4)
    return { ok: false, reason: `expected at least 4 tab-separated fields (PIN, time, status, verify), got ${fields.length}` };
  const [pin, local, status, verify] = fields as [string, string, string, string];
  if (!PIN.test(pin)) return { ok: false, reason: `PIN ${JSON.stringify(pin.slice(0, 40))} is not 1 to 24 letters or digits` };
  const m = LOCAL_TIME.exec(local);
  if (!m) return { ok: false, reason: `time ${JSON.stringify(local.slice(0, 40))} is not "YYYY-MM-DD hh:mm:ss"` };
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const probe = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  if (probe.getUTCMonth() !== mo - 1 || probe.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) {
    return { ok: false, reason: `time "${local}" is not a real date and time` };
  }
  if (!SMALL_INT.test(status) || Number(status) > 255)
    return { ok: false, reason: `status ${JSON.stringify(status.slice(0, 20))} is not 0 to 255` };
  if (!SMALL_INT.test(verify) || Number(verify) > 255)
    return { ok: false, reason: `verify mode ${JSON.stringify(verify.slice(0, 20))} is not 0 to 255` };
  return { ok: true, punch: { pin, local, status: Number(status), verify: Number(verify) } };
}

/** Splits a body into lines (CR LF or LF), dropping empty ones (the body ends with a line end). */
export function bodyLines(text: string): string[] {
  return text.split(/\r?\n/).filter((l) => l.length > 0);
}

/** Numeric PINs up to this many digits get a sequence number by arithmetic, so no two punches share one. */
const ARITHMETIC_PIN_MAX = 99_999_999;
const ARITHMETIC_SPACE = (ARITHMETIC_PIN_MAX + 1) * 16;

/**
 * The reading sequence number of a punch. A punch's identity is (terminal serial, PIN, punch time, status); the
 * reading identity is (deviceId, seq, ts), with deviceId from the serial and ts from the punch time, so seq carries
 * PIN and status: `PIN × 16 + status` for numeric PINs up to 8 digits and statuses 0 to 14 (255, "no status key", is
 * 15). Any other PIN or status gets an FNV-1a hash above that range. The same line always makes the same reading,
 * so a resent line is a duplicate at the buffer and the same point at the hub.
 */
export function punchSeq(pin: string, status: number): number {
  const slot = status <= 14 ? status : status === 255 ? 15 : -1;
  if (/^\d{1,8}$/.test(pin) && slot >= 0) return Number(pin) * 16 + slot;
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(`${pin}\t${status}`, "utf8")) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return ARITHMETIC_SPACE + (hash % (0x1_0000_0000 - ARITHMETIC_SPACE));
}

/** Status: 0 check-in, 1 check-out, 2 break-out, 3 break-in, 4 overtime-in, 5 overtime-out; others (255: none) count as in. */
export function punchDirection(status: number): SigninEvent["direction"] {
  return status === 1 || status === 2 || status === 5 ? "out" : "in";
}

/**
 * Verify mode (vendor table): 0 and 3 password, 1 fingerprint, 2 and 4 card, 15 face, 25 palm. v1 has no palm: palm
 * is scanned by the face camera and reported as face. Combined modes (5 to 14) all include a fingerprint.
 */
export function punchMethod(verify: number): SigninEvent["method"] {
  if (verify === 0 || verify === 3) return "pin";
  if (verify === 2 || verify === 4) return "card";
  if (verify === 15 || verify === 25) return "face";
  return "fingerprint";
}

/** UTC ms of a terminal wall-clock time "YYYY-MM-DD hh:mm:ss" in zone `tz` (DST-correct, like localTimeToUtc). */
export function terminalTimeToUtc(local: string, tz: string): number {
  const [date, time] = local.split(" ") as [string, string];
  const [y, mo, d] = date.split("-").map(Number) as [number, number, number];
  const [h, mi, s] = time.split(":").map(Number) as [number, number, number];
  const wall = Date.UTC(y, mo - 1, d, h, mi, s);
  let guess = wall - zoneOffsetMs(wall, tz);
  guess = wall - zoneOffsetMs(guess, tz);
  return guess;
}

export { zoneOffsetMs };

/** The wall-clock time of `t` in `tz` as a terminal writes it, "YYYY-MM-DD hh:mm:ss". */
export function utcToTerminalTime(t: number, tz: string): string {
  return new Date(Math.floor(t / 1000) * 1000 + zoneOffsetMs(t, tz)).toISOString().slice(0, 19).replace("T", " ");
}

/** The integer ZKTeco firmware takes for `SET OPTION DateTime=`: ((yy×12 + month−1)×31 + day−1)×86400 + seconds of day. */
export function zkEncodedTime(local: string): number {
  const [date, time] = local.split(" ") as [string, string];
  const [y, mo, d] = date.split("-").map(Number) as [number, number, number];
  const [h, mi, s] = time.split(":").map(Number) as [number, number, number];
  return (((y % 100) * 12 + (mo - 1)) * 31 + (d - 1)) * 86400 + h * 3600 + mi * 60 + s;
}
