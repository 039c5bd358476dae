/**
 * Text of terminal bodies: UTF-8 or GBK (older Chinese firmware writes names in GBK), and the OPERLOG and device
 * info records. Biometric templates are recognised only to be dropped: their content is never kept or logged.
 */

const utf8 = new TextDecoder("utf-8", { fatal: true });
const gbk = new TextDecoder("gbk");

/** Decodes a body: strict UTF-8 when it is valid, else GBK. */
export function decodeBody(bytes: Uint8Array): { text: string; charset: "utf-8" | "gbk" } {
  try {
    return { text: utf8.decode(bytes), charset: "utf-8" };
  } catch {
    return { text: gbk.decode(bytes), charset: "gbk" };
  }
}

/** `Key=Value` pairs separated by tabs (USER records) or by `sep`. Keys keep their case; a leading `~` is dropped. */
export function keyValues(text: string, sep: RegExp = /\t/): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of text.split(sep)) {
    const eq = part.indexOf("=");
    if (eq <= 0) continue;
    out.set(part.slice(0, eq).trim().replace(/^~/, ""), part.slice(eq + 1).trim());
  }
  return out;
}

export type OperlogRecord =
  | { type: "user"; pin: string; name: string }
  | { type: "oplog"; op: number; admin: string; local: string }
  /** A biometric template or photo: counted, never kept. */
  | { type: "biometric" }
  | { type: "invalid"; reason: string };

/** Parses one OPERLOG line: `USER PIN=..<TAB>Name=..`, `OPLOG op<TAB>admin<TAB>time<TAB>...`, templates (FP, FACE, BIODATA, USERPIC...). */
export function parseOperlogLine(line: string): OperlogRecord {
  const space = line.indexOf(" ");
  const head = space < 0 ? line : line.slice(0, space);
  const rest = space < 0 ? "" : line.slice(space + 1);
  switch (head) {
    case "USER": {
      const kv = keyValues(rest);
      const pin = kv.get("PIN");
      if (!pin || !/^[0-9A-Za-z]{1,24}$/.test(pin)) return { type: "invalid", reason: "USER record without a valid PIN" };
      return { type: "user", pin, name: (kv.get("Name") ?? "").slice(0, 64) };
    }
    case "OPLOG": {
      const [op, admin, local] = rest.split("\t");
      if (!op || !/^\d{1,4}$/.test(op)) return { type: "invalid", reason: "OPLOG record without an operation code" };
      return { type: "oplog", op: Number(op), admin: (admin ?? "").slice(0, 24), local: (local ?? "").slice(0, 19) };
    }
    case "FP":
    case "FACE":
    case "FVEIN":
    case "BIODATA":
    case "BIOPHOTO":
    case "USERPIC":
      return { type: "biometric" };
    default:
      return { type: "invalid", reason: `unknown record type ${JSON.stringify(head.slice(0, 16))}` };
  }
}

/** Model and firmware from device info (INFO confirmations, `table=options` bodies, the `INFO=` poll parameter). */
export function deviceInfo(text: string): { model?: string; firmware?: string; platform?: string } {
  const kv = keyValues(text, /[\t\r\n,]/);
  const pick = (...keys: string[]) => {
    for (const k of keys) {
      const v = kv.get(k);
      if (v) return v.slice(0, 64);
    }
    return undefined;
  };
  const out: { model?: string; firmware?: string; platform?: string } = {};
  const model = pick("DeviceName", "DeviceType");
  const firmware = pick("FWVersion", "FirmVer", "FirmwareVersion");
  const platform = pick("Platform");
  if (model) out.model = model;
  if (firmware) out.firmware = firmware;
  if (platform) out.platform = platform;
  return out;
}
