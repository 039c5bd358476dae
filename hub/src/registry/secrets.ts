import { readFileSync, statSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { MAX_SECRET_BYTES, type SecretSource } from "@supervision/firmware-protocols";

/**
 * Reads a device link secret the registry names: in clear (a lab), from the hub's environment, or from a file
 * (relative to the registry folder; a trailing newline is dropped). The error never contains the secret.
 */
export function resolveSecret(source: SecretSource, registryDir: string): { ok: true; value: string } | { ok: false; error: string } {
  let value: string;
  if (typeof source === "string") value = source;
  else if ("env" in source) {
    const fromEnv = process.env[source.env];
    if (fromEnv === undefined || fromEnv === "") {
      return { ok: false, error: `environment variable ${source.env} is not set; set it in the hub's environment (or use { file: ... })` };
    }
    value = fromEnv;
  } else {
    const file = isAbsolute(source.file) ? source.file : join(registryDir, source.file);
    try {
      if (statSync(file).size > MAX_SECRET_BYTES + 2)
        return { ok: false, error: `${file} is larger than a secret (${MAX_SECRET_BYTES} bytes)` };
      value = readFileSync(file, "utf8").replace(/\r?\n$/, "");
    } catch (err) {
      return {
        ok: false,
        error: `cannot read the secret file ${file} (${(err as NodeJS.ErrnoException).code ?? "error"}); check the path and its permissions`,
      };
    }
  }
  const bytes = Buffer.byteLength(value);
  if (bytes === 0 || bytes > MAX_SECRET_BYTES)
    return { ok: false, error: `a secret must be 1 to ${MAX_SECRET_BYTES} bytes, this one is ${bytes}` };
  return { ok: true, value };
}
