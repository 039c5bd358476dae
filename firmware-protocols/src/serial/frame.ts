import { err, ok, type Result } from "../result.ts";

/**
 * RS-485 frames, byte by byte (see PROTOCOL.md, "Serial frames"):
 *
 *   0xA5 | LEN | ADDR | CMD | SEQ | PAYLOAD (LEN-3 bytes) | CRC lo | CRC hi
 *
 * LEN counts ADDR, CMD, SEQ and the payload (3..255). The CRC is CRC-16/MODBUS over LEN..PAYLOAD, low byte first.
 */
export const START_BYTE = 0xa5;
export const MIN_LEN = 3;
export const MAX_LEN = 255;
export const MAX_PAYLOAD = MAX_LEN - 3;
export const BROADCAST_ADDRESS = 0;

export const COMMANDS = {
  poll: 0x01,
  ack: 0x02,
  nack: 0x03,
  nothing: 0x04,
  rating: 0x10,
  signin: 0x11,
  motion: 0x12,
  heartbeat: 0x13,
  display: 0x20,
  prompt: 0x21,
  time: 0x22,
  config: 0x23,
} as const;
export type CommandCode = (typeof COMMANDS)[keyof typeof COMMANDS];
const KNOWN = new Set<number>(Object.values(COMMANDS));

/** Why a NACK was sent (its one payload byte). */
export const NACK_REASONS = { bad_crc: 0x01, bad_length: 0x02, unknown_command: 0x03, bad_payload: 0x04, busy: 0x05 } as const;

export const SERIAL_ERROR_CODES = [
  "bad_start",
  "bad_length",
  "truncated",
  "bad_crc",
  "unknown_command",
  "bad_payload",
  "oversized",
] as const;
export type SerialErrorCode = (typeof SERIAL_ERROR_CODES)[number];
export interface SerialError {
  code: SerialErrorCode;
  message: string;
}

export interface Frame {
  address: number;
  command: CommandCode;
  /** Link sequence number 0..255: a retransmission repeats it, so the receiver can drop the duplicate. */
  seq: number;
  payload: Uint8Array;
}

/** CRC-16/MODBUS: polynomial 0x8005 reflected (0xA001), initial 0xFFFF, no final XOR. */
export function crc16modbus(bytes: Uint8Array): number {
  let crc = 0xffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  }
  return crc;
}

export function encodeFrame(frame: Frame): Buffer {
  if (frame.payload.length > MAX_PAYLOAD)
    throw new RangeError(`payload of ${frame.payload.length} bytes; a frame carries at most ${MAX_PAYLOAD}`);
  if (!Number.isInteger(frame.address) || frame.address < 0 || frame.address > 247)
    throw new RangeError(`bus address ${frame.address} is not 0..247`);
  if (!Number.isInteger(frame.seq) || frame.seq < 0 || frame.seq > 255) throw new RangeError(`link seq ${frame.seq} is not 0..255`);
  const out = Buffer.alloc(frame.payload.length + 7);
  out[0] = START_BYTE;
  out[1] = frame.payload.length + 3;
  out[2] = frame.address;
  out[3] = frame.command;
  out[4] = frame.seq;
  out.set(frame.payload, 5);
  const crc = crc16modbus(out.subarray(1, 5 + frame.payload.length));
  out[5 + frame.payload.length] = crc & 0xff;
  out[6 + frame.payload.length] = crc >>> 8;
  return out;
}

export type SerialDecodeResult = Result<Frame, SerialError>;

/**
 * Streaming decoder for a noisy half-duplex line. It hunts for the start byte, checks the length bound and the
 * CRC, and on any failure skips one byte and hunts again, so it finds the next good frame after noise. It never
 * throws; `end()` reports a frame cut short (call it when the line has been silent past the inter-frame gap).
 */
export class FrameDecoder {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Uint8Array): SerialDecodeResult[] {
    this.buf = this.buf.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buf, chunk]);
    const results: SerialDecodeResult[] = [];
    for (;;) {
      const start = this.buf.indexOf(START_BYTE);
      if (start < 0) {
        if (this.buf.length > 0)
          results.push(err({ code: "bad_start", message: `${this.buf.length} bytes of noise before any start byte` }));
        this.buf = Buffer.alloc(0);
        return results;
      }
      if (start > 0) {
        results.push(err({ code: "bad_start", message: `${start} bytes of noise before a start byte` }));
        this.buf = this.buf.subarray(start);
      }
      if (this.buf.length < 2) return results;
      const len = this.buf[1]!;
      if (len < MIN_LEN) {
        results.push(err({ code: "bad_length", message: `length byte ${len} is below ${MIN_LEN}` }));
        this.buf = this.buf.subarray(1);
        continue;
      }
      const total = len + 4;
      if (this.buf.length < total) return results;
      const body = this.buf.subarray(1, 2 + len);
      const crc = this.buf[2 + len]! | (this.buf[3 + len]! << 8);
      const expected = crc16modbus(body);
      if (crc !== expected) {
        results.push(err({ code: "bad_crc", message: `CRC ${hex16(crc)} but the bytes give ${hex16(expected)}` }));
        this.buf = this.buf.subarray(1);
        continue;
      }
      const command = this.buf[3]!;
      const frame = {
        address: this.buf[2]!,
        command: command as CommandCode,
        seq: this.buf[4]!,
        payload: Uint8Array.from(this.buf.subarray(5, 2 + len)),
      };
      this.buf = this.buf.subarray(total);
      results.push(
        KNOWN.has(command)
          ? ok(frame)
          : err({ code: "unknown_command", message: `command 0x${command.toString(16).padStart(2, "0")} is not in protocol v1` }),
      );
    }
  }

  /**
   * The line went quiet: the frame begun at the first start byte was cut short (or that byte was noise with a
   * length promising more than came). Drop that byte and look for whole frames in the rest.
   */
  end(): SerialDecodeResult[] {
    const results: SerialDecodeResult[] = [];
    while (this.buf.length > 0) {
      const rest = this.buf.subarray(1);
      results.push(err({ code: "truncated", message: `${this.buf.length} bytes of an unfinished frame` }));
      this.buf = Buffer.alloc(0);
      results.push(...this.push(rest));
    }
    return results;
  }
}

const hex16 = (n: number) => `0x${n.toString(16).padStart(4, "0")}`;

/** Decodes exactly one complete frame (a test vector, a captured frame). */
export function decodeFrame(bytes: Uint8Array): SerialDecodeResult {
  if (bytes.length > MAX_LEN + 4) return err({ code: "oversized", message: `${bytes.length} bytes; a frame is at most ${MAX_LEN + 4}` });
  const decoder = new FrameDecoder();
  const results = [...decoder.push(bytes), ...decoder.end()];
  const frame = results.find((r) => r.ok);
  if (frame && results.length === 1) return frame;
  return results.find((r) => !r.ok) ?? err({ code: "truncated", message: "no frame" });
}
