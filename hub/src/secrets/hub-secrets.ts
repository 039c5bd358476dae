import { randomBytes } from "node:crypto";
import { join, resolve } from "node:path";
import type { HubSettings } from "../settings/index.ts";
import { exists, readSecretFile, SecretFileError, writeSecretFile } from "./file.ts";

/** Where the hub keeps the secrets it generated itself: dataDir/secrets (0700), each file 0600. */
export const secretsDir = (dataDir: string) => join(dataDir, "secrets");

/** A random secret of 32 bytes as URL-safe text (no quoting trouble in YAML, URLs or shell). */
export const randomSecret = () => randomBytes(32).toString("base64url");

/** A secret kept in a file of its own: read when it exists, generated (mode 0600) when it does not. */
export function fileSecret(file: string, minLength = 16): string {
  if (!exists(file)) {
    const secret = randomSecret();
    writeSecretFile(file, `${secret}\n`);
    return secret;
  }
  const secret = readSecretFile(file).trim();
  if (secret.length < minLength)
    throw new SecretFileError(`${file} holds a secret shorter than ${minLength} characters; delete the file to have a new one generated`);
  return secret;
}

export interface HubSecrets {
  /** Password of the hub's own clients at the embedded broker (username "hub"); generated on first call. */
  serviceSecret(): string;
  apiTokensFile: string;
}

/** The hub's secrets: from the settings where given, otherwise generated into dataDir/secrets at first start. */
export function hubSecrets(settings: HubSettings, dataDir = resolve(settings.dataDir)): HubSecrets {
  const dir = secretsDir(dataDir);
  return {
    serviceSecret: () => settings.serviceSecret ?? fileSecret(join(dir, "broker-service.secret")),
    apiTokensFile: settings.http.tokensFile ? resolve(settings.http.tokensFile) : join(dir, "api-tokens.json"),
  };
}

/** The managed influxd's admin user: the hub's own, made at its first start. */
export const MANAGED_INFLUX_USER = "supervision-admin";

/**
 * The credentials the hub uses with InfluxDB: `influx.username`/`password` when given; for the managed influxd
 * otherwise its admin user, whose password is generated at first start into dataDir/secrets/influxdb-admin.secret.
 * `generate: false` (the CLI commands) reads that file only, and says to start the hub once when it is missing.
 */
export function influxCredentials(
  settings: HubSettings,
  options: { generate: boolean; dataDir?: string },
): { username?: string; password?: string } {
  const { username, password } = settings.influx;
  if (settings.influx.url !== undefined || username !== undefined) return { username, password };
  const file = join(secretsDir(options.dataDir ?? resolve(settings.dataDir)), "influxdb-admin.secret");
  if (!options.generate && !exists(file))
    throw new SecretFileError(`${file} is missing: the managed InfluxDB's password is made at the hub's first start; run "hub start" once`);
  return { username: MANAGED_INFLUX_USER, password: fileSecret(file) };
}
