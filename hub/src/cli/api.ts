import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { ApiTokens } from "../http/auth.ts";
import { hubSecrets } from "../secrets/hub-secrets.ts";
import { SecretFileError } from "../secrets/file.ts";
import { loadSettings, SettingsError } from "../settings/index.ts";
import { DEMO_SETTINGS } from "./command.ts";

export const DEFAULT_URL = "http://127.0.0.1:8080";

/** The options every command that calls the hub's API takes (parseArgs form). */
export const API_OPTIONS = {
  url: { type: "string", default: DEFAULT_URL },
  token: { type: "string" },
  "token-file": { type: "string" },
  as: { type: "string" },
  settings: { type: "string" },
} as const;

export const API_HELP = `API access (the hub records the token's name as who did it):
  --url <url>          the hub's HTTP API (default ${DEFAULT_URL})
  --token <token>      an API token; or the environment variable HUB_API_TOKEN
  --token-file <file>  take it from a token file (HUB_API_TOKEN_FILE);
                       npm start's is var/demo/hub/secrets/api-tokens.json
  --as <name>          which token of the file (default: its first, "admin")
  --settings <file>    take the token file from these hub settings
                       (default: ${DEMO_SETTINGS} when npm start ran
                       here, else config/hub.yaml when it exists)`;

export interface ApiOptionValues {
  url: string;
  token?: string;
  "token-file"?: string;
  as?: string;
  settings?: string;
}

/** The token to send: --token, HUB_API_TOKEN, a token file (--token-file, HUB_API_TOKEN_FILE, the settings' one). */
export function resolveToken(values: ApiOptionValues, env: NodeJS.ProcessEnv = process.env): { token: string } | { error: string } {
  if (values.token) return { token: values.token };
  if (env.HUB_API_TOKEN) return { token: env.HUB_API_TOKEN };
  let file = values["token-file"] ?? env.HUB_API_TOKEN_FILE;
  try {
    if (!file) {
      const settingsFile = values.settings ?? (existsSync(DEMO_SETTINGS) ? DEMO_SETTINGS : "config/hub.yaml");
      if (values.settings !== undefined || existsSync(settingsFile)) file = hubSecrets(loadSettings(settingsFile)).apiTokensFile;
    }
    if (!file)
      return {
        error:
          "no API token: pass --token <token>, set HUB_API_TOKEN, or --token-file <hub dataDir>/secrets/api-tokens.json (npm start: var/demo/hub/secrets/api-tokens.json)",
      };
    const tokens = ApiTokens.load(resolve(file));
    const entry = values.as === undefined ? tokens.entries[0] : tokens.entries.find((e) => e.name === values.as);
    if (!entry)
      return {
        error: `${file} has no token${values.as === undefined ? "" : ` named "${values.as}"`}; its tokens: ${tokens.entries.map((e) => e.name).join(", ") || "none"} (hub token add)`,
      };
    return { token: entry.token };
  } catch (error) {
    if (error instanceof SecretFileError || error instanceof SettingsError) return { error: error.message };
    throw error;
  }
}

/** Calls the running hub's API with a token; the answer, or a sentence saying what went wrong and what to do. */
export async function callApi(
  values: ApiOptionValues,
  method: "GET" | "POST",
  path: string,
  body?: unknown,
): Promise<{ ok: true; answer: Record<string, unknown> } | { ok: false; error: string }> {
  const token = resolveToken(values);
  if ("error" in token) return { ok: false, error: token.error };
  let res: Response;
  try {
    res = await fetch(new URL(path, values.url), {
      method,
      headers: { "content-type": "application/json", authorization: `Bearer ${token.token}` },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(15_000),
    });
  } catch (error) {
    return { ok: false, error: `no hub answers at ${values.url} (${(error as Error).message}); start it with "hub start" or pass --url` };
  }
  const answer = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok) return { ok: false, error: String(answer.error ?? `HTTP ${res.status}`) };
  return { ok: true, answer };
}
