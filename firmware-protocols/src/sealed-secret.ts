import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
  randomBytes,
} from "node:crypto";
import { z } from "zod";
import { err, ok, type Result } from "./result.ts";

/**
 * Secrets of a device link (an ONVIF password, a terminal's comm key) travel in the gateway's retained config only
 * sealed to that gateway: X25519 with a fresh ephemeral key per secret, HKDF-SHA256, AES-256-GCM.
 *
 *   x25519-aes256gcm$<ephemeral public key>$<iv>$<ciphertext>$<tag>      (each part base64url, no padding)
 *
 * The AAD is a context string (gateway, device, link field), so a sealed value copied to another field, device or
 * gateway does not open. Only the gateway's X25519 private key, made with its identity, opens it.
 */
export const SEALED_SECRET_PREFIX = "x25519-aes256gcm";
/** The longest secret that can be sealed (bytes of UTF-8). */
export const MAX_SECRET_BYTES = 512;

const B64URL = "[A-Za-z0-9_-]";
const SEALED_PATTERN = new RegExp(
  `^${SEALED_SECRET_PREFIX}\\$(${B64URL}{43})\\$(${B64URL}{16})\\$(${B64URL}{1,${Math.ceil((MAX_SECRET_BYTES * 4) / 3)}})\\$(${B64URL}{22})$`,
);
const HKDF_INFO = Buffer.from("sv/v1 sealed secret");

/** A sealed secret as it travels in a GatewayConfig. */
export const SealedSecret = z.string().max(1024).regex(SEALED_PATTERN, "a secret sealed by the hub (x25519-aes256gcm$...)");
export type SealedSecret = z.infer<typeof SealedSecret>;

export type SealError = { code: "malformed" | "wrong_key_or_tampered" | "bad_key" | "too_long"; message: string };

/** A gateway's X25519 key pair for opening sealed secrets (PEM: PKCS#8 private, SPKI public). */
export function generateSealingKeys(): { privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync("x25519");
  return {
    privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
  };
}

/** Reads an X25519 public key (SPKI PEM); a typed error for anything else (an Ed25519 signing key, garbage). */
export function loadSealingPublicKey(pem: string): Result<KeyObject, SealError> {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (e) {
    return err({ code: "bad_key", message: `not a PEM public key (${(e as Error).message})` });
  }
  if (key.asymmetricKeyType !== "x25519") {
    return err({
      code: "bad_key",
      message: `a ${key.asymmetricKeyType ?? "unknown"} key, not the gateway's X25519 sealing key (gateway keys prints it)`,
    });
  }
  return ok(key);
}

/** Reads the gateway's X25519 private key (PKCS#8 PEM). Throws with the reason: a missing key is a start-up error. */
export function loadSealingPrivateKey(pem: string): KeyObject {
  const key = createPrivateKey(pem);
  if (key.asymmetricKeyType !== "x25519") throw new Error(`a ${key.asymmetricKeyType ?? "unknown"} key, not an X25519 sealing key`);
  return key;
}

function rawPublic(key: KeyObject): Buffer {
  const x = key.export({ format: "jwk" }).x;
  if (typeof x !== "string") throw new Error("not an OKP public key");
  return Buffer.from(x, "base64url");
}

function deriveKey(shared: Buffer, ephemeral: Buffer, recipient: Buffer): Buffer {
  return Buffer.from(hkdfSync("sha256", shared, Buffer.concat([ephemeral, recipient]), HKDF_INFO, 32));
}

/**
 * Seals `secret` to a gateway's X25519 public key, bound to `context` (e.g. "gw-hall-1/cam-w01/onvif.password").
 * Randomised: sealing the same secret twice gives two different strings.
 */
export function sealSecret(secret: string, recipient: KeyObject | string, context: string): Result<SealedSecret, SealError> {
  const plain = Buffer.from(secret, "utf8");
  if (plain.length === 0 || plain.length > MAX_SECRET_BYTES) {
    return err({ code: "too_long", message: `a secret must be 1 to ${MAX_SECRET_BYTES} bytes` });
  }
  let recipientKey: KeyObject;
  if (typeof recipient === "string") {
    const loaded = loadSealingPublicKey(recipient);
    if (!loaded.ok) return loaded;
    recipientKey = loaded.value;
  } else if (recipient.type === "public" && recipient.asymmetricKeyType === "x25519") {
    recipientKey = recipient;
  } else {
    return err({ code: "bad_key", message: "the recipient must be an X25519 public key" });
  }
  const ephemeral = generateKeyPairSync("x25519");
  const epk = rawPublic(ephemeral.publicKey);
  const shared = diffieHellman({ privateKey: ephemeral.privateKey, publicKey: recipientKey });
  const key = deriveKey(shared, epk, rawPublic(recipientKey));
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(context, "utf8"));
  const ciphertext = Buffer.concat([cipher.update(plain), cipher.final()]);
  const tag = cipher.getAuthTag();
  return ok([SEALED_SECRET_PREFIX, epk, iv, ciphertext, tag].map((p) => (typeof p === "string" ? p : p.toString("base64url"))).join("$"));
}

/** Opens a sealed secret with the gateway's X25519 private key; a typed error (never the secret) when it does not open. */
export function openSecret(sealed: string, privateKey: KeyObject, context: string): Result<string, SealError> {
  const match = typeof sealed === "string" && sealed.length <= 1024 ? SEALED_PATTERN.exec(sealed) : null;
  if (!match) return err({ code: "malformed", message: `not a sealed secret (${SEALED_SECRET_PREFIX}$...)` });
  const [, epkText, ivText, ctText, tagText] = match as unknown as [string, string, string, string, string];
  if (privateKey.type !== "private" || privateKey.asymmetricKeyType !== "x25519") {
    return err({ code: "bad_key", message: "opening needs the gateway's X25519 private key" });
  }
  const epk = Buffer.from(epkText, "base64url");
  let shared: Buffer;
  try {
    const ephemeralPublic = createPublicKey({ key: { kty: "OKP", crv: "X25519", x: epk.toString("base64url") }, format: "jwk" });
    shared = diffieHellman({ privateKey, publicKey: ephemeralPublic });
  } catch {
    return err({ code: "malformed", message: "the sealed secret's ephemeral key is not a valid X25519 key" });
  }
  const key = deriveKey(shared, epk, rawPublic(createPublicKey(privateKey)));
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(ivText, "base64url"));
    decipher.setAAD(Buffer.from(context, "utf8"));
    decipher.setAuthTag(Buffer.from(tagText, "base64url"));
    const plain = Buffer.concat([decipher.update(Buffer.from(ctText, "base64url")), decipher.final()]);
    return ok(plain.toString("utf8"));
  } catch {
    return err({
      code: "wrong_key_or_tampered",
      message: "the sealed secret does not open: sealed to another gateway key (register this gateway's sealingKey at the hub) or altered",
    });
  }
}
