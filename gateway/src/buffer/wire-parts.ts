/** A sealed batch's wire around its readings' JSON: what a batch row keeps so the wire can be rebuilt. */
export interface WireParts {
  prefix: Buffer;
  suffix: Buffer;
}

/** The bytes of a wire before and after its readings' JSON (`length` bytes at `start`, between `[` and `]`). */
export function splitWireAt(wire: Buffer, start: number, length: number): WireParts | undefined {
  const end = start + length;
  if (start < 1 || end >= wire.length || wire[start - 1] !== 0x5b || wire[end] !== 0x5d) return undefined;
  return { prefix: Buffer.from(wire.subarray(0, start)), suffix: Buffer.from(wire.subarray(end)) };
}

/** For a wire of unknown layout (an old file's): its readings' JSON found by content, or undefined. */
export function splitWire(wire: Buffer, joined: Buffer): WireParts | undefined {
  const key = Buffer.from('"readings":[', "utf8");
  const at = wire.indexOf(key);
  if (at < 0) return undefined;
  const start = at + key.length;
  return wire.subarray(start, start + joined.length).equals(joined) ? splitWireAt(wire, start, joined.length) : undefined;
}
