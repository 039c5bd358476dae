import { type KeyObject, createPublicKey } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateGatewayKeys, generateSealingKeys, loadPrivateKey, loadSealingPrivateKey } from "@supervision/firmware-protocols";

export const PRIVATE_KEY_FILE = "gateway-key.pem";
/** The X25519 key device link secrets (ONVIF passwords, terminal comm keys) are sealed to by the hub. */
export const SEALING_KEY_FILE = "gateway-sealing-key.pem";

export interface GatewayKeys {
  /** Ed25519: signs the batches. */
  privateKey: KeyObject;
  publicKeyPem: string;
  /** X25519: opens the link secrets the hub sealed to this gateway. */
  sealingPrivateKey: KeyObject;
  sealingKeyPem: string;
}

/** Reads a key file, creating it first (mode 0600, never overwriting one another process made meanwhile). */
function loadOrCreate<T>(dataDir: string, name: string, create: () => string, load: (pem: string) => T, what: string, given?: string): T {
  const file = given ?? join(dataDir, name);
  if (given !== undefined && !existsSync(given))
    throw new Error(
      `keyFile ${given} does not exist: give the path of this gateway's Ed25519 key (PEM), or remove keyFile to have one made in dataDir`,
    );
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    try {
      writeFileSync(file, create(), { mode: 0o600, flag: "wx" });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
  }
  try {
    return load(readFileSync(file, "utf8"));
  } catch (error) {
    throw new Error(
      `${file} is not a readable ${what} (${(error as Error).message}): restore it from a backup, or delete it to make a new one and register the new public key at the hub (gateway keys)`,
    );
  }
}

/**
 * The gateway's identity: an Ed25519 signing key and an X25519 sealing key, created on first start in the data dir
 * (mode 0600, readable by the gateway's user only) and reused after, so the hub's registry entry (`gateway keys`)
 * stays valid across restarts.
 */
export function loadOrCreateKeys(dataDir: string, keyFile?: string): GatewayKeys {
  const privateKey = loadOrCreate(
    dataDir,
    PRIVATE_KEY_FILE,
    () => generateGatewayKeys().privateKeyPem,
    loadPrivateKey,
    "private key",
    keyFile,
  );
  if (privateKey.asymmetricKeyType !== "ed25519") {
    throw new Error(
      `${keyFile ?? join(dataDir, PRIVATE_KEY_FILE)} holds a ${privateKey.asymmetricKeyType} key; the gateway signs with Ed25519: delete it to make a new one`,
    );
  }
  const sealingPrivateKey = loadOrCreate(
    dataDir,
    SEALING_KEY_FILE,
    () => generateSealingKeys().privateKeyPem,
    loadSealingPrivateKey,
    "X25519 sealing key",
  );
  const pem = (key: KeyObject) => createPublicKey(key).export({ type: "spki", format: "pem" }).toString();
  return { privateKey, publicKeyPem: pem(privateKey), sealingPrivateKey, sealingKeyPem: pem(sealingPrivateKey) };
}
