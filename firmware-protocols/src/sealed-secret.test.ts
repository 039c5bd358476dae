import { generateKeyPairSync } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  generateSealingKeys,
  loadSealingPrivateKey,
  loadSealingPublicKey,
  MAX_SECRET_BYTES,
  openSecret,
  SealedSecret,
  sealSecret,
} from "./sealed-secret.ts";

const gateway = generateSealingKeys();
const privateKey = loadSealingPrivateKey(gateway.privateKeyPem);
const context = "gw-hall-1/cam-w01/onvif.password";

function sealed(secret = "camera-pass-1", ctx = context): string {
  const result = sealSecret(secret, gateway.publicKeyPem, ctx);
  if (!result.ok) throw new Error(result.error.message);
  return result.value;
}

/** Flips one character of part `index` (1 = ephemeral key ... 4 = tag) to another base64url character. */
function alter(value: string, index: number): string {
  const parts = value.split("$");
  const part = parts[index]!;
  parts[index] = part.slice(0, 1) + (part[1] === "A" ? "B" : "A") + part.slice(2);
  return parts.join("$");
}

describe("sealed secrets", () => {
  it("opens what was sealed to its key, in the given context, and never gives the same string twice", () => {
    const a = sealed("Zhang-San 张三 #1");
    const b = sealed("Zhang-San 张三 #1");
    expect(a).not.toBe(b);
    expect(SealedSecret.safeParse(a).success).toBe(true);
    expect(a).not.toContain("Zhang");
    expect(openSecret(a, privateKey, context)).toEqual({ ok: true, value: "Zhang-San 张三 #1" });
    expect(openSecret(b, privateKey, context)).toEqual({ ok: true, value: "Zhang-San 张三 #1" });
  });

  it("seals secrets of every length up to the limit and refuses empty or longer ones", () => {
    for (const length of [1, 16, 255, MAX_SECRET_BYTES]) {
      const secret = "k".repeat(length);
      const value = sealed(secret);
      expect(SealedSecret.safeParse(value).success).toBe(true);
      expect(openSecret(value, privateKey, context)).toEqual({ ok: true, value: secret });
    }
    expect(sealSecret("", gateway.publicKeyPem, context)).toMatchObject({ ok: false, error: { code: "too_long" } });
    expect(sealSecret("k".repeat(MAX_SECRET_BYTES + 1), gateway.publicKeyPem, context)).toMatchObject({
      ok: false,
      error: { code: "too_long" },
    });
  });

  it("does not open with another gateway's key or in another context (moved to another device or field)", () => {
    const other = loadSealingPrivateKey(generateSealingKeys().privateKeyPem);
    const value = sealed();
    expect(openSecret(value, other, context)).toMatchObject({ ok: false, error: { code: "wrong_key_or_tampered" } });
    expect(openSecret(value, privateKey, "gw-hall-1/cam-w02/onvif.password")).toMatchObject({
      ok: false,
      error: { code: "wrong_key_or_tampered" },
    });
    expect(openSecret(value, privateKey, "gw-hall-2/cam-w01/onvif.password")).toMatchObject({
      ok: false,
      error: { code: "wrong_key_or_tampered" },
    });
  });

  it("refuses a sealed value with any part altered", () => {
    const value = sealed();
    for (const index of [1, 2, 3, 4]) {
      const result = openSecret(alter(value, index), privateKey, context);
      expect(result.ok, `part ${index}`).toBe(false);
    }
  });

  it("gives a typed error, never an exception or the secret, for malformed input", () => {
    const value = sealed();
    const parts = value.split("$");
    const malformed = [
      "",
      "camera-pass-1",
      "x25519-aes256gcm$",
      parts.slice(0, 4).join("$"),
      `${value}$extra`,
      value.replace("x25519-aes256gcm", "rsa-aes256gcm"),
      [parts[0], "A".repeat(42), parts[2], parts[3], parts[4]].join("$"),
      [parts[0], parts[1], parts[2], "", parts[4]].join("$"),
      [parts[0], parts[1], parts[2], parts[3], "=".repeat(22)].join("$"),
      "x".repeat(100_000),
    ];
    for (const input of malformed) {
      const result = openSecret(input, privateKey, context);
      expect(result).toMatchObject({ ok: false, error: { code: "malformed" } });
    }
    // A well-formed string whose ephemeral key is the all-zero (low-order) point.
    const zeroKey = [parts[0], "A".repeat(43), parts[2], parts[3], parts[4]].join("$");
    expect(openSecret(zeroKey, privateKey, context).ok).toBe(false);
    expect(openSecret(undefined as unknown as string, privateKey, context)).toMatchObject({ ok: false, error: { code: "malformed" } });
  });

  it("never throws on random input and opens nothing it did not seal", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 2000 }), (input) => {
        expect(openSecret(input, privateKey, context).ok).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it("seals only to an X25519 public key, and opens only with an X25519 private key", () => {
    const signing = generateKeyPairSync("ed25519");
    const signingPem = signing.publicKey.export({ type: "spki", format: "pem" }).toString();
    expect(loadSealingPublicKey(signingPem)).toMatchObject({ ok: false, error: { code: "bad_key" } });
    expect(loadSealingPublicKey("-----BEGIN PUBLIC KEY-----\ngarbage\n-----END PUBLIC KEY-----\n")).toMatchObject({
      ok: false,
      error: { code: "bad_key" },
    });
    expect(sealSecret("pw", signingPem, context)).toMatchObject({ ok: false, error: { code: "bad_key" } });
    expect(sealSecret("pw", signing.publicKey, context)).toMatchObject({ ok: false, error: { code: "bad_key" } });
    expect(openSecret(sealed(), signing.privateKey, context)).toMatchObject({ ok: false, error: { code: "bad_key" } });
    expect(() => loadSealingPrivateKey(signing.privateKey.export({ type: "pkcs8", format: "pem" }).toString())).toThrow(/X25519/);
    const publicKey = loadSealingPublicKey(gateway.publicKeyPem);
    expect(publicKey.ok).toBe(true);
    if (publicKey.ok) {
      const value = sealSecret("pw", publicKey.value, context);
      expect(value.ok && openSecret(value.value, privateKey, context)).toEqual({ ok: true, value: "pw" });
    }
  });
});
