import { type KeyObject, createPublicKey } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateGatewayKeys, loadPrivateKey } from "@supervision/firmware-protocols";

export const PRIVATE_KEY_FILE = "gateway-key.pem";

/**
 * The gateway's Ed25519 identity: created on first start in the data dir (mode 0600, readable by the gateway's
 * user only) and reused after, so the hub's registry entry (`gateway keys`) stays valid across restarts.
 */
export function loadOrCreateKeys(dataDir: string): { privateKey: KeyObject; publicKeyPem: string } {
  const file = join(dataDir, PRIVATE_KEY_FILE);
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    // "wx": never overwrite a key another process created meanwhile.
    writeFileSync(file, generateGatewayKeys().privateKeyPem, { mode: 0o600, flag: "wx" });
  }
  let privateKey: KeyObject;
  try {
    privateKey = loadPrivateKey(readFileSync(file, "utf8"));
  } catch (error) {
    throw new Error(
      `${file} is not a readable private key (${(error as Error).message}): restore it from a backup, or delete it to make a new one and register the new public key at the hub (gateway keys)`,
    );
  }
  if (privateKey.asymmetricKeyType !== "ed25519") throw new Error(`${file} holds a ${privateKey.asymmetricKeyType} key; the gateway signs with Ed25519: delete it to make a new one`);
  const publicKeyPem = createPublicKey(privateKey).export({ type: "spki", format: "pem" }).toString();
  return { privateKey, publicKeyPem };
}
