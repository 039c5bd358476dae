import { randomBytes, scrypt, scryptSync, timingSafeEqual } from "node:crypto";

/** Device MQTT passwords travel and rest only as scrypt hashes: "scrypt$N$r$p$salt$hash" (base64 parts). */
const N = 16384;
const R = 8;
const P = 1;

export function hashSecret(secret: string): string {
  const salt = randomBytes(16);
  const hash = scryptSync(secret, salt, 32, { N, r: R, p: P });
  return `scrypt$${N}$${R}$${P}$${salt.toString("base64")}$${hash.toString("base64")}`;
}

/**
 * Whether `secret` matches a stored hash. scrypt runs on libuv's thread pool (some 50 ms of CPU each, on purpose),
 * so a hall's devices reconnecting all at once after a power cut do not stall the event loop that acknowledges
 * everyone else's readings.
 */
export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const parts = stored.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return false;
  const [n, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  if (![n, r, p].every((x) => Number.isInteger(x) && x > 0) || n > 1 << 20 || r > 64 || p > 16) return false;
  const salt = Buffer.from(parts[4] ?? "", "base64");
  const expected = Buffer.from(parts[5] ?? "", "base64");
  if (expected.length === 0 || expected.length > 256) return false;
  const actual = await new Promise<Buffer | undefined>((resolve) =>
    scrypt(secret, salt, expected.length, { N: n, r, p, maxmem: 256 * n * r + 1024 * 1024 }, (error, key) =>
      resolve(error ? undefined : key),
    ),
  );
  return actual !== undefined && timingSafeEqual(actual, expected);
}
