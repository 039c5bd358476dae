import { COMMAND_SCHEMAS, type DeviceCommand } from "../commands.ts";
import type { PayloadError } from "../errors.ts";
import { type DeviceEvent, LEVELS } from "../events.ts";
import { err, ok, type Result } from "../result.ts";
import type { EventKind } from "../topics.ts";
import { issueToError, type ValidateOptions, validateEvent } from "../validate.ts";
import { COMMANDS, encodeFrame, type Frame, MAX_PAYLOAD, type SerialError } from "./frame.ts";

/**
 * Compact binary payloads carrying every field of the v1 JSON schemas. Integers are little-endian; strings are
 * one length byte and UTF-8; "absent" has an explicit encoding per field. Decoded payloads are validated by the
 * same zod schemas as MQTT payloads, so a serial device cannot send what an MQTT device could not.
 */

const OUTCOMES = ["rated", "timeout", "unsolicited"] as const;
const METHODS = ["card", "face", "fingerprint", "pin"] as const;
const DIRECTIONS = ["in", "out"] as const;
const MOTION_STATES = ["end", "start"] as const;
const SOURCES = ["onvif", "vmd", "pir", "ai"] as const;
/** Queue systems and approval items are networked systems: they have no serial frames. */
const EVENT_COMMAND: Partial<Record<EventKind, number>> = {
  rating: COMMANDS.rating,
  signin: COMMANDS.signin,
  motion: COMMANDS.motion,
  heartbeat: COMMANDS.heartbeat,
};
const COMMAND_EVENT = new Map(Object.entries(EVENT_COMMAND).map(([kind, code]) => [code, kind as EventKind]));

class Writer {
  private readonly bytes: number[] = [];
  u8(n: number) {
    this.bytes.push(n & 0xff);
  }
  u16(n: number) {
    this.u8(n);
    this.u8(n >>> 8);
  }
  u32(n: number) {
    this.u16(n & 0xffff);
    this.u16(n >>> 16);
  }
  i32(n: number) {
    this.u32(n >>> 0);
  }
  /** Milliseconds since the epoch, 48 bits: enough until the year 10889. */
  time(ms: number) {
    this.u32(ms % 0x1_0000_0000);
    this.u16(Math.floor(ms / 0x1_0000_0000));
  }
  str(s: string | undefined) {
    const b = Buffer.from(s ?? "", "utf8");
    if (b.length > 255) throw new RangeError(`string of ${b.length} bytes; at most 255`);
    this.u8(b.length);
    for (const x of b) this.u8(x);
  }
  done(): Uint8Array {
    if (this.bytes.length > MAX_PAYLOAD)
      throw new RangeError(`payload of ${this.bytes.length} bytes; a frame carries at most ${MAX_PAYLOAD}`);
    return Uint8Array.from(this.bytes);
  }
}

/** Reads without trusting: every read past the end throws a Short, turned into a bad_payload error. */
class Short extends Error {}
class Reader {
  private at = 0;
  constructor(private readonly b: Uint8Array) {}
  u8(): number {
    if (this.at >= this.b.length) throw new Short();
    return this.b[this.at++]!;
  }
  u16() {
    return this.u8() | (this.u8() << 8);
  }
  u32() {
    return (this.u16() | (this.u16() << 16)) >>> 0;
  }
  i32() {
    return this.u32() | 0;
  }
  time() {
    return this.u32() + this.u16() * 0x1_0000_0000;
  }
  str(): string {
    const n = this.u8();
    if (this.at + n > this.b.length) throw new Short();
    const s = Buffer.from(this.b.subarray(this.at, this.at + n)).toString("utf8");
    this.at += n;
    return s;
  }
  end() {
    if (this.at !== this.b.length) throw new Error(`${this.b.length - this.at} bytes after the last field`);
  }
}

const index = <T>(list: readonly T[], value: T) => list.indexOf(value);
const pick = <T>(list: readonly T[], i: number): T | string => list[i] ?? `#${i}`;
const optional = (s: string) => (s === "" ? undefined : s);

export function encodeEventFrame(event: DeviceEvent, address: number, linkSeq: number): Buffer {
  const command = EVENT_COMMAND[event.kind];
  if (command === undefined) throw new RangeError(`${event.kind} events have no serial frame (PROTOCOL.md 3.2); send them over MQTT`);
  const w = new Writer();
  w.u32(event.seq);
  w.time(event.ts);
  switch (event.kind) {
    case "rating":
      w.u8(index(OUTCOMES, event.outcome));
      w.u8(event.scale === "four" ? 4 : 5);
      w.u8(event.key ?? 0);
      w.u8(event.level ? index(LEVELS, event.level) + 1 : 0);
      w.str(event.windowId);
      w.str(event.clerkId);
      w.str(event.txnId);
      break;
    case "signin":
      w.u8(index(METHODS, event.method));
      w.u8(index(DIRECTIONS, event.direction));
      w.str(event.personId);
      w.u8(event.location ? 1 : 0);
      if (event.location) {
        w.i32(Math.round(event.location.lat * 1e7));
        w.i32(Math.round(event.location.lon * 1e7));
        w.u16(Math.min(0xfffe, Math.round(event.location.accuracyM ?? 0xffff)));
      }
      break;
    case "motion":
      w.u8(index(MOTION_STATES, event.state));
      w.u8(index(SOURCES, event.source));
      w.str(event.cameraId);
      break;
    case "heartbeat":
      w.u16(event.intervalS);
      w.u32(event.uptimeS);
      w.u8(event.rssi === undefined ? 0x7f : event.rssi & 0xff);
      w.u16(event.pending === undefined ? 0xffff : Math.min(event.pending, 0xfffe));
      w.str(event.fw);
      break;
  }
  return encodeFrame({ address, command: command as Frame["command"], seq: linkSeq, payload: w.done() });
}

/** Decodes an event frame from the device at `deviceId` and validates it like an MQTT payload. Never throws. */
export function decodeEventFrame(frame: Frame, deviceId: string, opts: ValidateOptions): Result<DeviceEvent, SerialError | PayloadError> {
  const kind = COMMAND_EVENT.get(frame.command);
  if (!kind) return err({ code: "unknown_command", message: `command 0x${frame.command.toString(16)} is not an event` });
  const r = new Reader(frame.payload);
  let json: Record<string, unknown>;
  try {
    json = { v: 1, deviceId, seq: r.u32(), ts: r.time() };
    if (kind === "rating") {
      const outcome = pick(OUTCOMES, r.u8());
      const scale = r.u8();
      const key = r.u8();
      const level = r.u8();
      Object.assign(json, {
        outcome,
        scale: scale === 4 ? "four" : scale === 5 ? "five" : `#${scale}`,
        ...(key > 0 ? { key } : {}),
        ...(level > 0 ? { level: pick(LEVELS, level - 1) } : {}),
        windowId: r.str(),
      });
      const clerkId = optional(r.str());
      const txnId = optional(r.str());
      Object.assign(json, clerkId ? { clerkId } : {}, txnId ? { txnId } : {});
    } else if (kind === "signin") {
      Object.assign(json, { method: pick(METHODS, r.u8()), direction: pick(DIRECTIONS, r.u8()), personId: r.str() });
      if (r.u8() === 1) {
        const lat = r.i32() / 1e7;
        const lon = r.i32() / 1e7;
        const accuracy = r.u16();
        json.location = { lat, lon, ...(accuracy === 0xffff ? {} : { accuracyM: accuracy }) };
      }
    } else if (kind === "motion") {
      Object.assign(json, { state: pick(MOTION_STATES, r.u8()), source: pick(SOURCES, r.u8()), cameraId: r.str() });
    } else {
      const intervalS = r.u16();
      const uptimeS = r.u32();
      const rssi = r.u8();
      const pending = r.u16();
      const fw = optional(r.str());
      Object.assign(json, {
        intervalS,
        uptimeS,
        ...(rssi === 0x7f ? {} : { rssi: (rssi << 24) >> 24 }),
        ...(pending === 0xffff ? {} : { pending }),
        ...(fw ? { fw } : {}),
      });
    }
    r.end();
  } catch (error) {
    return err({ code: "bad_payload", message: error instanceof Short ? `${kind} payload is cut short` : (error as Error).message });
  }
  return validateEvent(kind, JSON.stringify(json), opts);
}

export function encodeCommandFrame(command: DeviceCommand, address: number, linkSeq: number): Buffer {
  const w = new Writer();
  const p = command.payload;
  w.str(p.cmdId);
  w.time(p.ts);
  switch (command.name) {
    case "display":
      w.str(command.payload.windowId);
      w.str(command.payload.clerk?.id);
      w.str(command.payload.clerk?.name);
      w.str(command.payload.clerk?.post);
      w.str(command.payload.clerk?.photoUrl);
      break;
    case "prompt":
      w.str(command.payload.windowId);
      w.str(command.payload.txnId);
      w.str(command.payload.clerkId);
      w.u16(command.payload.timeoutS);
      break;
    case "time":
      w.str(command.payload.tz);
      break;
    case "config":
      w.u16(command.payload.heartbeatS);
      w.u8(command.payload.scale === "four" ? 4 : command.payload.scale === "five" ? 5 : 0);
      break;
  }
  return encodeFrame({ address, command: COMMANDS[command.name], seq: linkSeq, payload: w.done() });
}

const COMMAND_NAMES = new Map<number, DeviceCommand["name"]>([
  [COMMANDS.display, "display"],
  [COMMANDS.prompt, "prompt"],
  [COMMANDS.time, "time"],
  [COMMANDS.config, "config"],
]);

/** What a device does with a command frame: decode and validate it. Never throws. */
export function decodeCommandFrame(frame: Frame): Result<DeviceCommand, SerialError | PayloadError> {
  const name = COMMAND_NAMES.get(frame.command);
  if (!name) return err({ code: "unknown_command", message: `command 0x${frame.command.toString(16)} is not a device command` });
  const r = new Reader(frame.payload);
  let json: Record<string, unknown>;
  try {
    json = { v: 1, cmdId: r.str(), ts: r.time() };
    if (name === "display") {
      const windowId = r.str();
      const [id, clerkName, post, photoUrl] = [r.str(), r.str(), r.str(), r.str()];
      json = { ...json, windowId, clerk: id === "" ? null : { id, name: clerkName, post, ...(photoUrl ? { photoUrl } : {}) } };
    } else if (name === "prompt") {
      const windowId = r.str();
      const txnId = r.str();
      const clerkId = optional(r.str());
      json = { ...json, windowId, txnId, ...(clerkId ? { clerkId } : {}), timeoutS: r.u16() };
    } else if (name === "time") json.tz = r.str();
    else {
      json.heartbeatS = r.u16();
      const scale = r.u8();
      if (scale !== 0) json.scale = scale === 4 ? "four" : scale === 5 ? "five" : `#${scale}`;
    }
    r.end();
  } catch (error) {
    return err({ code: "bad_payload", message: error instanceof Short ? `${name} payload is cut short` : (error as Error).message });
  }
  const parsed = COMMAND_SCHEMAS[name].safeParse(json);
  if (!parsed.success) return err(issueToError(parsed.error.issues, json));
  return ok({ name, payload: parsed.data } as DeviceCommand);
}
