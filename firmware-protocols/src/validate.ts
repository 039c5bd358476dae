import type { z } from "zod";
import type { PayloadError, PayloadErrorCode } from "./errors.ts";
import { type DeviceEvent, DeviceStatus, EVENT_SCHEMAS } from "./events.ts";
import { err, ok, type Result } from "./result.ts";
import { type EventKind, parseTopic } from "./topics.ts";

/** Largest device payload accepted, in bytes. Keeps one misbehaving device from filling the buffer. */
export const MAX_EVENT_BYTES = 4096;
/** How far ahead of the receiver's clock a device time may be before it is refused. */
export const DEFAULT_MAX_FUTURE_SKEW_MS = 10 * 60_000;
/** Device times before this mean the device clock was never set. */
export const EARLIEST_DEVICE_TIME_MS = Date.UTC(2020, 0, 1);

export interface ValidateOptions {
  /** The receiver's clock, UTC ms. */
  now: number;
  maxFutureSkewMs?: number;
  /**
   * How many days the hub keeps readings of each kind (the gateway config's retentionDays): an older reading could
   * never be stored, so it is refused (`beyond_retention`) where it arrives instead of travelling to the hub.
   */
  retentionDays?: Partial<Record<EventKind, number>>;
}

/** Whether `input` lacks the value at `path` (a key absent, or explicitly undefined). */
function absentAt(input: unknown, path: readonly PropertyKey[]): boolean {
  let at: unknown = input;
  for (const key of path) {
    if (at === null || typeof at !== "object") return true;
    at = (at as Record<PropertyKey, unknown>)[key];
  }
  return at === undefined;
}

/**
 * Turns the first schema issue into the contract's error code, with the field's path. Pass the parsed `input`:
 * zod 4 does not put the offending value in its issues, so a missing field is told from a wrong-typed one by
 * looking at the input (without it, by zod's "received undefined").
 */
export function issueToError(issues: readonly z.core.$ZodIssue[], input?: unknown): PayloadError {
  const issue = issues[0];
  if (!issue) return { code: "invalid_field", message: "invalid payload" };
  const path = issue.path.map(String).join(".");
  const at = path ? `${path}: ` : "";
  let code: PayloadErrorCode = "invalid_field";
  if (issue.code === "unrecognized_keys") {
    return {
      code: "unknown_field",
      message: `unknown field(s) ${issue.keys.join(", ")}; v1 defines no such field`,
      path: issue.keys[0] ?? "",
    };
  }
  const customCode = issue.code === "custom" ? (issue.params as { code?: PayloadErrorCode } | undefined)?.code : undefined;
  const missing =
    issue.path.length > 0 &&
    (input !== undefined ? absentAt(input, issue.path) : issue.code === "invalid_type" && /received undefined$/.test(issue.message));
  if (customCode) code = customCode;
  else if (missing) code = "missing_field";
  else if (path === "v") code = "unsupported_version";
  else if (path === "level") code = "bad_level";
  const message = code === "missing_field" ? `${path} is required` : `${at}${issue.message}`;
  return { code, message, path };
}

/** Parses bytes as a JSON object, refusing oversized and non-object input. */
export function parseJsonObject(payload: Uint8Array | string, maxBytes: number): Result<Record<string, unknown>, PayloadError> {
  const size = typeof payload === "string" ? Buffer.byteLength(payload) : payload.byteLength;
  if (size > maxBytes) return err({ code: "oversized", message: `payload is ${size} bytes; at most ${maxBytes} are accepted` });
  let value: unknown;
  try {
    const text = typeof payload === "string" ? payload : new TextDecoder("utf-8", { fatal: true }).decode(payload);
    value = JSON.parse(text);
  } catch (e) {
    return err({ code: "malformed_json", message: `payload is not UTF-8 JSON: ${(e as Error).message}` });
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return err({ code: "malformed_json", message: "payload must be a JSON object" });
  }
  return ok(value as Record<string, unknown>);
}

const DAY_MS = 86_400_000;

/** Checks the device time against the receiver's clock (and, given the event's kind, its retention). */
export function checkDeviceTime(ts: number, opts: ValidateOptions, kind?: EventKind): PayloadError | undefined {
  if (ts < EARLIEST_DEVICE_TIME_MS) {
    return {
      code: "clock_unset",
      message: `device time ${new Date(ts).toISOString()} is before 2020: set the device clock (send a "time" command)`,
      path: "ts",
    };
  }
  const skew = opts.maxFutureSkewMs ?? DEFAULT_MAX_FUTURE_SKEW_MS;
  if (ts > opts.now + skew) {
    return {
      code: "future_timestamp",
      message: `device time ${new Date(ts).toISOString()} is ${Math.round((ts - opts.now) / 1000)} s ahead of the receiver; at most ${skew / 1000} s allowed`,
      path: "ts",
    };
  }
  const keepDays = kind === undefined ? undefined : opts.retentionDays?.[kind];
  if (keepDays !== undefined && ts < opts.now - keepDays * DAY_MS) {
    return {
      code: "beyond_retention",
      message: `device time ${new Date(ts).toISOString()} is ${Math.floor((opts.now - ts) / DAY_MS)} days old; the hub keeps ${kind} readings ${keepDays} days`,
      path: "ts",
    };
  }
  return undefined;
}

/** Validates one device event payload of a known kind. */
export function validateEvent(kind: EventKind, payload: Uint8Array | string, opts: ValidateOptions): Result<DeviceEvent, PayloadError> {
  const parsed = parseJsonObject(payload, MAX_EVENT_BYTES);
  if (!parsed.ok) return parsed;
  const raw = parsed.value;
  if (raw.v !== 1) {
    return err({
      code: raw.v === undefined ? "missing_field" : "unsupported_version",
      message:
        raw.v === undefined ? "v is required (1)" : `protocol version ${JSON.stringify(raw.v)} is not supported; this receiver speaks v1`,
      path: "v",
    });
  }
  const result = EVENT_SCHEMAS[kind].safeParse(raw);
  if (!result.success) return err(issueToError(result.error.issues, raw));
  const timeError = checkDeviceTime(result.data.ts, opts, kind);
  if (timeError) return err(timeError);
  return ok({ kind, ...result.data } as DeviceEvent);
}

/** Validates a message a device published: topic and payload together. */
export function validateDeviceMessage(
  topic: string,
  payload: Uint8Array | string,
  opts: ValidateOptions,
): Result<DeviceEvent, PayloadError> {
  const t = parseTopic(topic);
  if (!t.ok) return t;
  if (t.value.scope !== "dev" || t.value.type !== "evt") return err({ code: "bad_topic", message: `"${topic}" is not an event topic` });
  const result = validateEvent(t.value.kind, payload, opts);
  if (result.ok && result.value.deviceId !== t.value.deviceId) {
    return err({
      code: "device_mismatch",
      message: `payload deviceId "${result.value.deviceId}" differs from the topic's "${t.value.deviceId}"`,
      path: "deviceId",
    });
  }
  return result;
}

/** Validates a device availability message (sv/v1/dev/{id}/status). */
export function validateDeviceStatus(payload: Uint8Array | string): Result<DeviceStatus, PayloadError> {
  const parsed = parseJsonObject(payload, MAX_EVENT_BYTES);
  if (!parsed.ok) return parsed;
  const result = DeviceStatus.safeParse(parsed.value);
  return result.success ? ok(result.data) : err(issueToError(result.error.issues, parsed.value));
}
