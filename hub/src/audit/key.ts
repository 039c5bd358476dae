import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

/**
 * The hub's audit key: the batch manifests' digests are HMAC-SHA256 with it, so someone who can write to InfluxDB but
 * cannot read this file cannot make an altered reading pass `hub audit`. Made at first start (32 random bytes, hex,
 * mode 0600) in `dataDir/audit.key`, or read from `audit.keyFile`: hub copies sharing one InfluxDB share one key file.
 */
export function auditKeyPath(settings: { dataDir: string; audit: { keyFile?: string } }): string {
  return resolve(settings.audit.keyFile ?? join(settings.dataDir, "audit.key"));
}

export class AuditKeyError extends Error {}

/** Reads the key; with `create`, makes it first when the file does not exist (never replaces one). */
export function loadAuditKey(path: string, opts: { create: boolean }): Buffer {
  if (opts.create) {
    try {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      writeFileSync(path, `${randomBytes(32).toString("hex")}\n`, { mode: 0o600, flag: "wx" });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST")
        throw new AuditKeyError(`cannot create the audit key ${path}: ${(e as Error).message}; set audit.keyFile to a writable path`);
    }
  }
  let text: string;
  try {
    text = readFileSync(path, "utf8").trim();
  } catch (e) {
    throw new AuditKeyError(
      `cannot read the audit key ${path}: ${(e as Error).message}; run the audit with the hub's settings (--settings) or set audit.keyFile`,
    );
  }
  if (!/^[0-9a-f]{64}$/.test(text)) throw new AuditKeyError(`the audit key ${path} is not 64 hex digits; restore it from the hub's backup`);
  return Buffer.from(text, "hex");
}
