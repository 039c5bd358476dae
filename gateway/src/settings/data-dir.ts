import { accessSync, constants, mkdirSync, statSync } from "node:fs";
import { userInfo } from "node:os";
import { resolve } from "node:path";

/** The gateway cannot keep its buffer and keys in dataDir: the message names the path, who runs, and the fix. */
export class DataDirError extends Error {}

/**
 * Makes sure dataDir exists and this user may write there, before SQLite says only "unable to open database file".
 * The fix names the user id, which is what a Docker volume's owner must match.
 */
export function ensureWritableDataDir(dataDir: string): void {
  const dir = resolve(dataDir);
  const who = (() => {
    const u = userInfo();
    return `user ${u.username} (uid ${u.uid}, gid ${u.gid})`;
  })();
  try {
    mkdirSync(dir, { recursive: true });
  } catch (error) {
    throw new DataDirError(
      `cannot create the data folder ${dir} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}) as ${who}: ` +
        `create it and give it to this user (sudo mkdir -p ${dir} && sudo chown -R ${userInfo().uid}:${userInfo().gid} ${dir}), or set dataDir to a folder it may write`,
    );
  }
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch {
    const owner = statSync(dir);
    throw new DataDirError(
      `the data folder ${dir} belongs to uid ${owner.uid} and ${who} may not write there: ` +
        `sudo chown -R ${userInfo().uid}:${userInfo().gid} ${dir} (in Docker: a volume the image's user owns, nothing mounted inside it as root), or set dataDir to a folder it may write`,
    );
  }
}
