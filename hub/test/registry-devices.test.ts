import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateSealingKeys, loadSealingPrivateKey, openSecret, secretContext } from "@supervision/firmware-protocols";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { loadRegistry, RegistryLoadError } from "../src/registry/loader.ts";
import { sliceFor } from "../src/registry/slice.ts";
import { nextVersion, WatchedRegistry } from "../src/registry/view.ts";

const EXAMPLE = join(import.meta.dirname, "../../config/registry/example.yaml");
const logger = pino({ level: "silent" });
const dirs: string[] = [];
function registryDir(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "registry-dev-"));
  dirs.push(dir);
  copyFileSync(EXAMPLE, join(dir, "example.yaml"));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function errorsOf(dir: string): string[] {
  try {
    loadRegistry(dir);
  } catch (err) {
    expect(err).toBeInstanceOf(RegistryLoadError);
    return (err as RegistryLoadError).errors.map((e) => `${e.file.split("/").pop()}:${e.line}: ${e.message}`);
  }
  throw new Error("expected the registry to be rejected");
}

const sealing = generateSealingKeys();
/** The example gateway with a sealing key: the example file with the key added under its public key. */
function withSealingKey(dir: string, pem = sealing.publicKeyPem): void {
  const file = join(dir, "example.yaml");
  const indented = pem
    .trim()
    .split("\n")
    .map((l) => `      ${l}`)
    .join("\n");
  writeFileSync(file, readFileSync(file, "utf8").replace("    publicKey: |", `    sealingKey: |\n${indented}\n    publicKey: |`));
}

describe("registry devices from the device catalogue", () => {
  it("refuses a device the gateway would refuse, with file, line and what to fix", () => {
    const errors = errorsOf(
      registryDir({
        "z.yaml": [
          "devices:",
          `  - { id: kp-9, kind: keypad, site: hall-1, window: w1, serial: { port: "/dev/${"x".repeat(300)}", address: 3 } }`,
          "  - { id: kp-8, kind: keypad, site: hall-1, window: w1, onvif: { url: http://cam.example/onvif } }",
          "  - { id: cam-1, kind: camera, site: hall-1, window: w1, onvif: { url: ftp://cam.example } }",
          "  - { id: term-9, kind: terminal, site: hall-1, adms: { serialNumber: 'A B' } }",
          "  - { id: cam-2, kind: camera, site: hall-1, serial: { port: /dev/ttyUSB0, address: 300 } }",
        ].join("\n"),
      }),
    );
    expect(errors).toEqual([
      expect.stringMatching(/^z\.yaml:2: devices\[0\]\.serial\.port: .*256/),
      expect.stringMatching(
        /^z\.yaml:3: devices\[1\]\.onvif: "onvif" is a link for camera devices, not a keypad; a keypad may use: serial$/,
      ),
      expect.stringMatching(/^z\.yaml:4: devices\[2\]\.onvif\.url: an http:\/\/ or https:\/\/ URL/),
      expect.stringMatching(/^z\.yaml:5: devices\[3\]\.adms\.serialNumber: the terminal's serial number/),
      expect.stringMatching(/^z\.yaml:6: devices\[4\]\.serial\.address: /),
    ]);
  });

  it("refuses a site whose slice is larger than a gateway accepts, at the site's line", () => {
    const windows = Array.from({ length: 1001 }, (_, i) => `  - { id: wx${i}, site: hall-1, name: W${i}, department: tax }`);
    const errors = errorsOf(registryDir({ "z.yaml": ["windows:", ...windows].join("\n") }));
    expect(errors).toEqual([expect.stringMatching(/^example\.yaml:\d+: sites\[0\]windows: gateway "gw-hall-1" would refuse this: .*1000/)]);
  });

  it("asks for a window where the catalogue says the kind needs one", () => {
    expect(errorsOf(registryDir({ "z.yaml": "devices:\n  - { id: kp-9, kind: keypad, site: hall-1 }\n" }))).toEqual([
      'z.yaml:2: devices[0]: keypad "kp-9" needs a window',
    ]);
  });

  it("seals link secrets to the gateway: clear, from the environment and from a file", () => {
    const dir = registryDir({
      "cams.yaml": [
        "devices:",
        "  - { id: cam-w1, kind: camera, site: hall-1, window: w1, onvif: { url: 'http://cam.example/onvif/device_service', username: admin, password: lab-cam-pass, snapshot: true } }",
        "  - { id: cam-w2, kind: camera, site: hall-1, window: w2, onvif: { url: 'http://cam2.example/onvif', password: { env: TEST_CAM_W2_PASSWORD } } }",
        "  - { id: term-2, kind: terminal, site: hall-1, adms: { serialNumber: CKJ1234, timeZone: Asia/Shanghai, commKey: { file: secrets/term-2.key } } }",
        "  - { id: cam-w3, kind: camera, site: hall-1, window: w1, frigate: { camera: hall1_w1 } }",
      ].join("\n"),
    });
    withSealingKey(dir);
    mkdirSync(join(dir, "secrets"));
    writeFileSync(join(dir, "secrets/term-2.key"), "123456\n");
    process.env.TEST_CAM_W2_PASSWORD = "env-cam-pass";
    try {
      const slice = sliceFor(loadRegistry(dir), "gw-hall-1");
      const text = JSON.stringify(slice);
      for (const secret of ["lab-cam-pass", "env-cam-pass", "123456"]) expect(text).not.toContain(secret);
      const key = loadSealingPrivateKey(sealing.privateKeyPem);
      const device = (id: string) => slice.devices.find((d) => d.id === id)!;
      const open = (sealed: string | undefined, id: string, field: string) =>
        openSecret(sealed ?? "", key, secretContext("gw-hall-1", id, field.split(".")[0]!, field.split(".")[1]!));
      expect(device("cam-w1").onvif).toMatchObject({ url: "http://cam.example/onvif/device_service", username: "admin", snapshot: true });
      expect(open(device("cam-w1").onvif?.password, "cam-w1", "onvif.password")).toEqual({ ok: true, value: "lab-cam-pass" });
      expect(open(device("cam-w2").onvif?.password, "cam-w2", "onvif.password")).toEqual({ ok: true, value: "env-cam-pass" });
      expect(open(device("term-2").adms?.commKey, "term-2", "adms.commKey")).toEqual({ ok: true, value: "123456" });
      expect(device("term-2").adms).toMatchObject({ serialNumber: "CKJ1234", timeZone: "Asia/Shanghai" });
      expect(device("cam-w3").frigate).toEqual({ camera: "hall1_w1" });
      // Sealed to one device's field, it does not open as another's.
      expect(open(device("cam-w1").onvif?.password, "cam-w2", "onvif.password").ok).toBe(false);
      // Stable across slices of the same registry in one process.
      expect(JSON.stringify(sliceFor(loadRegistry(dir), "gw-hall-1"))).toBe(text);
    } finally {
      delete process.env.TEST_CAM_W2_PASSWORD;
    }
  });

  it("says where a secret is missing or the gateway cannot receive it, never printing the secret", () => {
    const dir = registryDir({
      "cams.yaml": [
        "devices:",
        "  - { id: cam-w1, kind: camera, site: hall-1, onvif: { url: 'http://cam.example/onvif', password: s3cret-in-clear } }",
        "  - { id: cam-w2, kind: camera, site: hall-1, onvif: { url: 'http://cam.example/onvif', password: { env: TEST_NOT_SET_ANYWHERE } } }",
        "  - { id: term-2, kind: terminal, site: hall-1, adms: { serialNumber: CKJ1, commKey: { file: nope.key } } }",
        "  - { id: term-3, kind: terminal, site: hall-1, adms: { serialNumber: CKJ2, commKey: { vault: x } } }",
      ].join("\n"),
    });
    const errors = errorsOf(dir);
    expect(errors).toEqual([expect.stringMatching(/^cams\.yaml:5: devices\[3\]\.adms\.commKey: /)]);
    rmSync(join(dir, "cams.yaml"));
    writeFileSync(
      join(dir, "cams.yaml"),
      [
        "devices:",
        "  - { id: cam-w1, kind: camera, site: hall-1, onvif: { url: 'http://cam.example/onvif', password: s3cret-in-clear } }",
        "  - { id: cam-w2, kind: camera, site: hall-1, onvif: { url: 'http://cam.example/onvif', password: { env: TEST_NOT_SET_ANYWHERE } } }",
        "  - { id: term-2, kind: terminal, site: hall-1, adms: { serialNumber: CKJ1, commKey: { file: nope.key } } }",
      ].join("\n"),
    );
    const second = errorsOf(dir);
    expect(second).toEqual([
      expect.stringMatching(/^cams\.yaml:2: devices\[0\]: gateway "gw-hall-1" has no sealingKey .*gateway keys/),
      expect.stringMatching(/^cams\.yaml:3: devices\[1\]: gateway "gw-hall-1" has no sealingKey/),
      expect.stringMatching(/^cams\.yaml:3: devices\[1\]\.onvif\.password: environment variable TEST_NOT_SET_ANYWHERE is not set/),
      expect.stringMatching(/^cams\.yaml:4: devices\[2\]: gateway "gw-hall-1" has no sealingKey/),
      expect.stringMatching(/^cams\.yaml:4: devices\[2\]\.adms\.commKey: cannot read the secret file .*nope\.key \(ENOENT\)/),
    ]);
    expect(second.join("\n")).not.toContain("s3cret-in-clear");
  });

  it("refuses a sealing key that is not an X25519 public key", () => {
    const dir = registryDir();
    const signingKey = readFileSync(EXAMPLE, "utf8")
      .split("publicKey: |\n")[1]!
      .split("\n")
      .slice(0, 3)
      .map((l) => l.trim())
      .join("\n");
    withSealingKey(dir, signingKey);
    expect(errorsOf(dir)).toEqual([
      expect.stringMatching(/^example\.yaml:\d+: gateways\[0\]\.sealingKey: a ed25519 key, not the gateway's X25519 sealing key/),
    ]);
  });
});

describe("registry versions", () => {
  it("only go up: never below what was given out, the same for the same content", () => {
    expect(nextVersion({ version: 2000, digest: "b" }, undefined)).toBe(2000);
    expect(nextVersion({ version: 2000, digest: "b" }, { version: 1000, digest: "a" })).toBe(2000);
    expect(nextVersion({ version: 900, digest: "b" }, { version: 1000, digest: "a" })).toBe(1001);
    expect(nextVersion({ version: 900, digest: "a" }, { version: 1000, digest: "a" })).toBe(1000);
    expect(nextVersion({ version: 1000, digest: "a" }, { version: 1000, digest: "a" })).toBe(1000);
  });

  it("two hub copies reading the same registry agree, after edits too", async () => {
    const dir = registryDir();
    const stateA = join(mkdtempSync(join(tmpdir(), "hub-a-")), "registry-version.json");
    const stateB = join(mkdtempSync(join(tmpdir(), "hub-b-")), "registry-version.json");
    dirs.push(join(stateA, ".."), join(stateB, ".."));
    const a = new WatchedRegistry(dir, logger, { debounceMs: 50, stateFile: stateA });
    const b = new WatchedRegistry(dir, logger, { debounceMs: 50, stateFile: stateB });
    a.watch();
    b.watch();
    try {
      expect(a.current().version).toBe(b.current().version);
      const first = a.current().version;
      writeFileSync(join(dir, "more.yaml"), "departments:\n  - { id: permits, name: Permits }\n");
      await expect
        .poll(() => a.current().departments.has("permits") && b.current().departments.has("permits"), { timeout: 10_000 })
        .toBe(true);
      expect(a.current().version).toBeGreaterThan(first);
      expect(a.current().version).toBe(b.current().version);
      // A third copy started now, without any state of its own, agrees too.
      const c = new WatchedRegistry(dir, logger, { stateFile: join(dirs.at(-1)!, "c.json") });
      expect(c.current().version).toBe(a.current().version);
    } finally {
      a.close();
      b.close();
    }
  });

  it("keep rising across a restart, even when the files are put back with older times", () => {
    const dir = registryDir();
    const state = join(mkdtempSync(join(tmpdir(), "hub-state-")), "registry-version.json");
    dirs.push(join(state, ".."));
    const first = new WatchedRegistry(dir, logger, { stateFile: state }).current().version;
    // Restart with the same files: the same version (nothing new for the gateways).
    expect(new WatchedRegistry(dir, logger, { stateFile: state }).current().version).toBe(first);
    // An edit, then the file put back with a time before the first version (a restored backup).
    writeFileSync(join(dir, "more.yaml"), "departments:\n  - { id: permits, name: Permits }\n");
    const old = new Date(first - 86_400_000);
    utimesSync(join(dir, "more.yaml"), old, old);
    utimesSync(join(dir, "example.yaml"), old, old);
    utimesSync(dir, old, old);
    const restarted = new WatchedRegistry(dir, logger, { stateFile: state });
    expect(restarted.current().version).toBe(first + 1);
    expect(new WatchedRegistry(dir, logger, { stateFile: state }).current().version).toBe(first + 1);
  });
});
