import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { openSecret, sealSecret } from "@supervision/firmware-protocols";
import { afterEach, describe, expect, it } from "vitest";
import { loadOrCreateKeys, SEALING_KEY_FILE } from "./keys.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "gw-keys-"));
  dirs.push(dir);
  return join(dir, "data");
}

describe("gateway sealing key", () => {
  it("is made with the identity, private to the gateway, kept across restarts, and opens what is sealed to it", () => {
    const dir = dataDir();
    const first = loadOrCreateKeys(dir);
    expect(first.sealingKeyPem).toMatch(/BEGIN PUBLIC KEY/);
    expect(first.sealingKeyPem).not.toBe(first.publicKeyPem);
    const file = join(dir, SEALING_KEY_FILE);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const again = loadOrCreateKeys(dir);
    expect(again.sealingKeyPem).toBe(first.sealingKeyPem);
    const sealed = sealSecret("onvif-pass", first.sealingKeyPem, "gw-1/cam-1/onvif.password");
    expect(sealed.ok && openSecret(sealed.value, again.sealingPrivateKey, "gw-1/cam-1/onvif.password")).toEqual({
      ok: true,
      value: "onvif-pass",
    });
  });

  it("names the file and the fix when the sealing key is damaged or of the wrong type", () => {
    const dir = dataDir();
    loadOrCreateKeys(dir);
    writeFileSync(join(dir, SEALING_KEY_FILE), "garbage");
    expect(() => loadOrCreateKeys(dir)).toThrow(
      /gateway-sealing-key\.pem is not a readable X25519 sealing key.*delete it to make a new one/,
    );
    writeFileSync(join(dir, SEALING_KEY_FILE), readFileSync(join(dir, "gateway-key.pem")));
    expect(() => loadOrCreateKeys(dir)).toThrow(/gateway-sealing-key\.pem .*not an X25519 sealing key/);
  });

  it("`gateway keys` prints both keys as a registry snippet", async () => {
    const dir = dataDir();
    const settings = join(dir, "..", "gateway.yaml");
    writeFileSync(settings, `gatewayId: gw-keys-1\ndataDir: ${JSON.stringify(dir)}\n`);
    const main = new URL("../cli/main.ts", import.meta.url).pathname;
    const { stdout } = await promisify(execFile)("npx", ["tsx", main, "keys", "--settings", settings], { timeout: 60_000 });
    const keys = loadOrCreateKeys(dir);
    expect(stdout).toContain("  - id: gw-keys-1\n    publicKey: |\n");
    expect(stdout).toContain(`    sealingKey: |\n${keys.sealingKeyPem.trim().replace(/^/gm, "      ")}`);
  });
});
