import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

/** A secret file the hub could not use: the message names the file and what to do. */
export class SecretFileError extends Error {}

/**
 * Reads a file that holds secrets, refusing one that others may read (group/world bits set): a secret that leaked
 * through loose permissions is not one any more.
 */
export function readSecretFile(path: string): string {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch (err) {
    throw new SecretFileError(`cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if ((mode & 0o077) !== 0)
    throw new SecretFileError(`${path} holds secrets but others may read it (mode ${(mode & 0o777).toString(8)}); run: chmod 600 ${path}`);
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new SecretFileError(
      `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); it must belong to the user the hub runs as`,
    );
  }
}

/** Writes a secret file readable by its owner only (mode 0600), creating its folder (0700) if needed. */
export function writeSecretFile(path: string, content: string): void {
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    writeFileSync(path, content, { mode: 0o600 });
    chmodSync(path, 0o600); // an existing file keeps its mode through writeFileSync
  } catch (err) {
    throw new SecretFileError(
      `cannot write ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); the folder must be writable by the user the hub runs as`,
    );
  }
}

/** Whether a path exists (a secret file is generated only when it does not). */
export function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}
