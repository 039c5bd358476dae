/**
 * GBK text, as older Chinese terminal firmware writes and reads names. Node decodes GBK (`TextDecoder("gbk")`) but
 * has no encoder: the table is built once from the decoder (double-byte codes 0x8140 to 0xFEFE).
 */

let table: Map<string, number> | undefined;

function gbkTable(): Map<string, number> {
  if (table) return table;
  table = new Map();
  const decoder = new TextDecoder("gbk");
  for (let lead = 0x81; lead <= 0xfe; lead++) {
    for (let trail = 0x40; trail <= 0xfe; trail++) {
      if (trail === 0x7f) continue;
      const ch = decoder.decode(Uint8Array.of(lead, trail));
      if (ch.length === 1 && ch !== "\ufffd" && !table.has(ch)) table.set(ch, (lead << 8) | trail);
    }
  }
  return table;
}

/** Encodes text as GBK; characters GBK lacks become "?". */
export function encodeGbk(text: string): Buffer {
  const out: number[] = [];
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (code < 0x80) out.push(code);
    else {
      const two = gbkTable().get(ch);
      if (two === undefined) out.push(0x3f);
      else out.push(two >> 8, two & 0xff);
    }
  }
  return Buffer.from(out);
}
