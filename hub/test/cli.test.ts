import { execFile } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { verifySecret } from "@supervision/firmware-protocols";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "../..");
const TSX = join(ROOT, "node_modules/.bin/tsx");
const MAIN = join(ROOT, "hub/src/cli/main.ts");

async function hub(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(TSX, [MAIN, ...args], { cwd: ROOT });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe("hub CLI", () => {
  it("lists its commands with --help", async () => {
    const { code, stdout } = await hub("--help");
    expect(code).toBe(0);
    expect(stdout).toMatch(/registry\s+check the site registry/);
    expect(stdout).toMatch(/hash-secret\s+print the scrypt hash/);
  });

  it.each(["start", "status", "gateways", "registry", "hash-secret"])("hub %s --help explains the command", async (name) => {
    const { code, stdout } = await hub(name, "--help");
    expect(code).toBe(0);
    expect(stdout).toContain(`Usage: hub ${name}`);
  });

  it("status says what to do when no hub answers, start names a bad settings key", async () => {
    const status = await hub("status", "--url", "http://127.0.0.1:9");
    expect(status.code).toBe(1);
    expect(status.stderr).toContain("no hub answers at http://127.0.0.1:9");
    const dir = mkdtempSync(join(tmpdir(), "hub-cli-"));
    try {
      writeFileSync(join(dir, "hub.yaml"), "http:\n  prot: 1\n");
      const start = await hub("start", "--settings", join(dir, "hub.yaml"));
      expect(start.code).toBe(1);
      expect(start.stderr).toContain(`${join(dir, "hub.yaml")}:2: http: unknown key(s) "prot"`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("rejects an unknown command with the command list", async () => {
    const { code, stderr } = await hub("frobnicate");
    expect(code).toBe(2);
    expect(stderr).toContain('unknown command "frobnicate"');
    expect(stderr).toContain("hash-secret");
  });

  it("hash-secret prints a verifiable scrypt hash and refuses a missing secret", async () => {
    const ok = await hub("hash-secret", "s3cret");
    expect(ok.code).toBe(0);
    expect(await verifySecret("s3cret", ok.stdout.trim())).toBe(true);
    const missing = await hub("hash-secret");
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("expected exactly one secret");
  });

  it("registry check accepts the example and lists every error of a bad registry", async () => {
    const ok = await hub("registry", "check", "config/registry");
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("OK — 1 site(s), 2 window(s)");
    const dir = mkdtempSync(join(tmpdir(), "registry-cli-"));
    try {
      writeFileSync(
        join(dir, "a.yaml"),
        "departments:\n  - { id: tax, name: Tax }\nwindows:\n  - { id: w1, site: s1, name: W1, department: tx }\n",
      );
      const bad = await hub("registry", "check", dir);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toContain(`${join(dir, "a.yaml")}:4: windows[0].site "s1" is not a site; known: none defined`);
      expect(bad.stderr).toContain(`${join(dir, "a.yaml")}:4: windows[0].department "tx" is not a department; known: tax`);
      expect(bad.stderr).toContain("2 error(s)");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("registry check refuses a device its gateway would refuse, with file, line and fix", async () => {
    const dir = mkdtempSync(join(tmpdir(), "registry-cli-"));
    try {
      copyFileSync(join(ROOT, "config/registry/example.yaml"), join(dir, "example.yaml"));
      writeFileSync(
        join(dir, "cams.yaml"),
        `devices:\n  - { id: cam-9, kind: camera, site: hall-1, serial: { port: "/dev/${"x".repeat(300)}", address: 2 } }\n  - { id: kp-9, kind: keypad, site: hall-1, window: w1, onvif: { url: "http://cam.example/onvif" } }\n`,
      );
      const bad = await hub("registry", "check", dir);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(new RegExp(`${join(dir, "cams.yaml")}:2: devices\\[0\\]\\.serial\\.port: .*256`));
      expect(bad.stderr).toContain(
        `${join(dir, "cams.yaml")}:3: devices[1].onvif: "onvif" is a link for camera devices, not a keypad; a keypad may use: serial`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
