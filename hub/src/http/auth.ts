import { createHash, randomBytes } from "node:crypto";
import { statSync } from "node:fs";
import { z } from "zod";
import { exists, readSecretFile, SecretFileError, writeSecretFile } from "../secrets/file.ts";

/**
 * Who may do what through the hub's HTTP API. Roles are ordered: an operator may do what a viewer may, an
 * administrator what an operator may.
 * - viewer: reads (status, lists)
 * - operator: handles warnings, verifies or dismisses ratings, enters manual entries
 * - administrator: everything, including what changes the hub itself
 */
export const ROLES = ["viewer", "operator", "administrator"] as const;
export type Role = (typeof ROLES)[number];

/** The authenticated caller of a request: the token's name is what writes record as who did it. */
export interface Identity {
  name: string;
  role: Role;
}

/** Who may call a route: anyone (`PUBLIC`) or a token with at least a role (`requireRole`). */
export type Access = { public: true } | { role: Role };

/** `/healthz` and `/metrics`: open, for probes and Prometheus (they carry no secrets and change nothing). */
export const PUBLIC: Access = { public: true };

/** The access a route needs: a token whose role is `role` or above. `http.add(method, path, handler, requireRole("operator"))`. */
export function requireRole(role: Role): Access {
  return { role };
}

export const roleAllows = (have: Role, need: Role): boolean => ROLES.indexOf(have) >= ROLES.indexOf(need);

const TokenEntry = z.strictObject({
  name: z.string().regex(/^[\p{L}\p{N}][\p{L}\p{N} ._@-]{0,63}$/u, "1 to 64 letters, digits, spaces or ._@-"),
  role: z.enum(ROLES),
  /** At least 24 characters: tokens are generated (`hub token add`), never chosen by hand. */
  token: z.string().min(24, "at least 24 characters (use `hub token add`)").max(256),
});
export type TokenEntry = z.infer<typeof TokenEntry>;
const TokenFile = z.strictObject({ tokens: z.array(TokenEntry) });

const digest = (token: string) => createHash("sha256").update(token).digest("hex");

/** A new random API token: 32 bytes, URL-safe, with a prefix that says what it is when it turns up somewhere. */
export function newApiToken(): string {
  return `hubtk_${randomBytes(32).toString("base64url")}`;
}

/** The API tokens the hub accepts, from its token file (`http.tokensFile`, mode 0600). */
export class ApiTokens {
  private readonly byDigest = new Map<string, Identity>();

  constructor(readonly entries: readonly TokenEntry[]) {
    for (const e of entries) this.byDigest.set(digest(e.token), { name: e.name, role: e.role });
  }

  /** The identity of an `Authorization: Bearer <token>` header value, undefined when it names no token. */
  identify(authorization: string | undefined): Identity | undefined {
    const match = /^Bearer[ ]+(\S{1,256})\s*$/i.exec(authorization ?? "");
    // Comparing digests: what a timing difference could reveal is a digest prefix, which does not help forge a token.
    return match ? this.byDigest.get(digest(match[1]!)) : undefined;
  }

  /** Reads the token file; refuses one others may read, or one that is not valid. */
  static load(file: string): ApiTokens {
    const text = readSecretFile(file);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new SecretFileError(`${file} is not valid JSON; it holds {"tokens": [{"name", "role", "token"}]} (see hub/README.md)`);
    }
    const result = TokenFile.safeParse(parsed);
    if (!result.success)
      throw new SecretFileError(`${file}: ${result.error.issues.map((i) => `${i.path.join(".") || "(file)"}: ${i.message}`).join("; ")}`);
    const names = new Set<string>();
    for (const e of result.data.tokens) {
      if (names.has(e.name)) throw new SecretFileError(`${file}: the name "${e.name}" is given twice; each token has its own name`);
      names.add(e.name);
    }
    return new ApiTokens(result.data.tokens);
  }

  /** The token file, generated at first start with one administrator token named `admin` (mode 0600). */
  static loadOrCreate(file: string): { tokens: ApiTokens; created: boolean } {
    if (exists(file)) return { tokens: ApiTokens.load(file), created: false };
    const tokens = new ApiTokens([{ name: "admin", role: "administrator", token: newApiToken() }]);
    tokens.save(file);
    return { tokens, created: true };
  }

  /** A copy with one more token (a name already used is refused). */
  with(entry: TokenEntry): ApiTokens {
    if (this.entries.some((e) => e.name === entry.name)) throw new SecretFileError(`a token named "${entry.name}" exists already`);
    const checked = TokenEntry.safeParse(entry);
    if (!checked.success) throw new SecretFileError(checked.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "));
    return new ApiTokens([...this.entries, checked.data]);
  }

  without(name: string): ApiTokens {
    if (!this.entries.some((e) => e.name === name)) throw new SecretFileError(`no token named "${name}"`);
    return new ApiTokens(this.entries.filter((e) => e.name !== name));
  }

  save(file: string): void {
    writeSecretFile(file, `${JSON.stringify({ tokens: this.entries }, null, 2)}\n`);
  }
}

/**
 * The token file as the running hub sees it: re-read when it changed (checked at most once a second), so
 * `hub token add` and `hub token remove` take effect without a restart. A file made invalid keeps the last good tokens.
 */
export class WatchedApiTokens {
  private checkedAt = 0;
  private mtimeMs = 0;

  constructor(
    private readonly file: string,
    private tokens: ApiTokens,
    private readonly onReloadError: (error: Error) => void = () => {},
  ) {
    this.mtimeMs = mtime(file);
  }

  current(now = Date.now()): ApiTokens {
    if (now - this.checkedAt < 1000) return this.tokens;
    this.checkedAt = now;
    const m = mtime(this.file);
    if (m !== this.mtimeMs) {
      this.mtimeMs = m;
      try {
        this.tokens = ApiTokens.load(this.file);
      } catch (error) {
        this.onReloadError(error as Error);
      }
    }
    return this.tokens;
  }
}

function mtime(file: string): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}
