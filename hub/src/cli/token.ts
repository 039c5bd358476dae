import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { ApiTokens, newApiToken, ROLES, type Role } from "../http/auth.ts";
import { SecretFileError } from "../secrets/file.ts";
import { hubSecrets } from "../secrets/hub-secrets.ts";
import { loadSettings, SettingsError } from "../settings/index.ts";
import type { CliCommand } from "./command.ts";

const HELP = `Usage: hub token add <name> --role viewer|operator|administrator   prints the new token once
       hub token list                                              names and roles (never the tokens)
       hub token remove <name>
  [--settings config/hub.yaml | --token-file <file>]

Manages the hub's API tokens, in the token file (http.tokensFile; default <dataDir>/secrets/api-tokens.json, which
the hub generates at first start with one administrator token named "admin"; npm start's is
var/demo/hub/secrets/api-tokens.json). The file is kept readable by its owner only (mode 0600). A running hub
picks up a change within a second. The name is what the hub records as who verified a rating or entered an entry.
Roles: viewer reads; operator also handles warnings, verifies ratings and enters manual entries; administrator
may do everything.`;

export const tokenCommand: CliCommand = {
  name: "token",
  summary: "add, list or remove the HTTP API's tokens (viewer, operator, administrator)",
  async run(args) {
    let parsed;
    try {
      parsed = parseArgs({
        args,
        allowPositionals: true,
        options: {
          role: { type: "string" },
          settings: { type: "string", default: "config/hub.yaml" },
          "token-file": { type: "string" },
          help: { type: "boolean", short: "h" },
        },
      });
    } catch (error) {
      console.error(`hub token: ${(error as Error).message}\n\n${HELP}`);
      return 2;
    }
    const { values, positionals } = parsed;
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    const [action, name, ...rest] = positionals;
    const arity = { add: 1, remove: 1, list: 0 }[action ?? ""];
    if (arity === undefined || (arity === 1 ? name === undefined || rest.length > 0 : name !== undefined)) {
      console.error(`hub token: give add <name>, list or remove <name>.\n\n${HELP}`);
      return 2;
    }
    if (action === "add" && !ROLES.includes(values.role as Role)) {
      console.error(`hub token add: --role is one of ${ROLES.join(", ")}.\n\n${HELP}`);
      return 2;
    }
    try {
      const file = values["token-file"] ? resolve(values["token-file"]) : hubSecrets(loadSettings(values.settings)).apiTokensFile;
      if (action === "add") {
        const { tokens } = ApiTokens.loadOrCreate(file);
        const token = newApiToken();
        tokens.with({ name: name!, role: values.role as Role, token }).save(file);
        console.log(`added "${name}" (${values.role}) to ${file}; the token (shown once here, kept in that file):\n${token}`);
      } else if (action === "remove") {
        ApiTokens.load(file).without(name!).save(file);
        console.log(`removed "${name}" from ${file}`);
      } else {
        for (const e of ApiTokens.load(file).entries) console.log(`${e.name.padEnd(24)} ${e.role}`);
      }
      return 0;
    } catch (error) {
      if (!(error instanceof SecretFileError) && !(error instanceof SettingsError)) throw error;
      console.error(`hub token ${action}: ${error.message}`);
      return 1;
    }
  },
};
