import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type GatewayConfig,
  generateSealingKeys,
  loadSealingPrivateKey,
  openSecret,
  sealSecret,
  secretContext,
} from "@supervision/firmware-protocols";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { ConfigStore, loadLastConfig } from "./store.ts";

const logger = pino({ level: "silent" });
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
const keys = generateSealingKeys();
const sealingKey = loadSealingPrivateKey(keys.privateKeyPem);

function sealed(secret: string, deviceId = "cam-1", gatewayId = "gw-1", publicKey = keys.publicKeyPem): string {
  const result = sealSecret(secret, publicKey, secretContext(gatewayId, deviceId, "onvif", "password"));
  if (!result.ok) throw new Error(result.error.message);
  return result.value;
}

function config(version: number, password = sealed("cam-pass")): GatewayConfig {
  return {
    v: 1,
    gatewayId: "gw-1",
    version,
    site: { id: "hall-1", name: "Hall", kind: "hall", tz: "Asia/Shanghai" },
    devices: [{ id: "cam-1", kind: "camera", heartbeatS: 60, onvif: { url: "http://cam-1.example/onvif", username: "admin", password } }],
    windows: [],
    people: [],
  };
}

function store(): { store: ConfigStore; dataDir: string; applied: number[] } {
  const dataDir = join(mkdtempSync(join(tmpdir(), "gw-config-")), "data");
  dirs.push(join(dataDir, ".."));
  const s = new ConfigStore({ gatewayId: "gw-1", dataDir, sealingKey, logger });
  const applied: number[] = [];
  s.onApply((c) => applied.push(c.version));
  return { store: s, dataDir, applied };
}

describe("the gateway's config path", () => {
  it("checks once, stores once, applies; the stored copy keeps the secret sealed and opens with the gateway's key", () => {
    const { store: s, dataDir, applied } = store();
    expect(s.offer(config(1_796_000_000_000))).toMatchObject({ applied: true });
    expect(applied).toEqual([1_796_000_000_000]);
    expect(loadLastConfig(dataDir)?.version).toBe(1_796_000_000_000);
    expect(readFileSync(join(dataDir, "config.json"), "utf8")).not.toContain("cam-pass");
    const password = s.current()!.devices[0]!.onvif!.password!;
    expect(openSecret(password, sealingKey, secretContext("gw-1", "cam-1", "onvif", "password"))).toEqual({ ok: true, value: "cam-pass" });
    // A restarted gateway starts from what was stored.
    expect(new ConfigStore({ gatewayId: "gw-1", dataDir, sealingKey, logger }).current()?.version).toBe(1_796_000_000_000);
  });

  it("refuses older versions, other gateways, malformed configs and secrets it cannot open, keeping the last good one", () => {
    const { store: s, dataDir, applied } = store();
    s.offer(config(5));
    const refusals = [
      s.offer(config(4)),
      s.offer({ ...config(9), gatewayId: "gw-2" }),
      s.offer({ ...config(9), devices: "all" }),
      s.offer("not even an object"),
      s.offer(config(9, sealed("cam-pass", "cam-1", "gw-1", generateSealingKeys().publicKeyPem))),
      s.offer(config(9, sealed("cam-pass", "cam-2"))),
      s.offer(config(9, "x25519-aes256gcm$garbage")),
    ];
    expect(refusals.map((r) => r.applied)).toEqual([false, false, false, false, false, false, false]);
    expect(refusals.map((r) => (r.applied ? "" : r.reason))).toEqual([
      "version 4 is older than the applied 5",
      "it names another gateway (gw-2)",
      expect.stringMatching(/^invalid: devices: /),
      expect.stringMatching(/^invalid: \(top level\)/),
      expect.stringMatching(/cam-1: onvif\.password: the sealed secret does not open/),
      expect.stringMatching(/cam-1: onvif\.password: the sealed secret does not open/),
      expect.stringMatching(/^invalid: devices\.0\.onvif\.password/),
    ]);
    for (const r of refusals) expect(JSON.stringify(r)).not.toContain("cam-pass");
    expect(applied).toEqual([5]);
    expect(loadLastConfig(dataDir)?.version).toBe(5);
    // Without a sealing key a gateway cannot check sealed secrets, so it does not take them.
    expect(new ConfigStore({ gatewayId: "gw-1", logger }).offer(config(6))).toMatchObject({
      applied: false,
      reason: expect.stringMatching(/no sealing key/),
    });
  });

  it("applies the same version again (a second hub copy) and a newer one", () => {
    const { store: s, applied } = store();
    s.offer(config(7));
    s.offer(config(7));
    s.offer(config(8));
    expect(applied).toEqual([7, 7, 8]);
  });

  it("applies a config it cannot store (disk full) from memory, says so, and stores it when it can", () => {
    const { store: s, dataDir, applied } = store();
    s.offer(config(7));
    // The temp file's name taken by a folder: the write fails as on a full disk.
    mkdirSync(join(dataDir, "config.json.tmp"));
    const errors: string[] = [];
    const loud = new ConfigStore({
      gatewayId: "gw-1",
      dataDir,
      sealingKey,
      logger: { ...logger, error: (_: unknown, msg: string) => errors.push(msg), info: () => undefined } as unknown as typeof logger,
    });
    loud.onApply((c) => applied.push(c.version));
    expect(loud.offer(config(8))).toMatchObject({ applied: true });
    expect(loud.current()?.version).toBe(8);
    expect(errors.join()).toMatch(/could not store the config .*disk full/);
    expect(loadLastConfig(dataDir)?.version).toBe(7);
    rmSync(join(dataDir, "config.json.tmp"), { recursive: true });
    loud.offer(config(9));
    expect(loadLastConfig(dataDir)?.version).toBe(9);
    expect(applied).toEqual([7, 8, 9]);
  });

  it("ignores the config it already holds (each hub copy sends a change; a hub re-sends at connection): not written, not applied again", () => {
    const { store: s, dataDir, applied } = store();
    const same = config(7);
    s.offer(same);
    expect(loadLastConfig(dataDir)?.version).toBe(7);
    rmSync(join(dataDir, "config.json"));
    expect(s.offer(structuredClone(same))).toEqual({ applied: false, reason: "version 7 is the one applied" });
    expect(loadLastConfig(dataDir)).toBeUndefined();
    expect(applied).toEqual([7]);
  });
});
