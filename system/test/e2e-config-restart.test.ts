/**
 * Issue 10: after a hub restart, registry edits must still reach the gateways. A real gateway process, the real hub
 * (stopped and started again on the same data dir), a registry edited after the restart.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GatewayConfig, loadSealingPrivateKey, openSecret, secretContext } from "@supervision/firmware-protocols";
import { freePort, startInfluxd, type TestInfluxd } from "@supervision/test-support";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { loadOrCreateKeys } from "@supervision/gateway";
import { type GatewayUnderTest, gatewayProcess, waitFor } from "@supervision/gateway/testing";
import { Hub, HubSettings } from "@supervision/hub";

let influxd: TestInfluxd;
let hub: Hub | undefined;
let gateway: GatewayUnderTest;
let dir: string;
let settings: HubSettings;
const CAMERA_PASSWORD = "onvif-pass-Zx81";

function registry(devices: object[]): string {
  const keys = loadOrCreateKeys(gateway.dataDir);
  return stringify({
    regions: [{ id: "east", name: "East" }],
    towns: [{ id: "riverside", name: "Riverside", region: "east" }],
    departments: [{ id: "tax", name: "Taxation" }],
    sites: [{ id: "hall-1", kind: "hall", name: "Riverside Hall", town: "riverside", tz: "Asia/Shanghai", gateway: "gw-restart" }],
    windows: [{ id: "w1", site: "hall-1", name: "Window 1", department: "tax" }],
    rosters: [{ id: "office", shifts: [{ start: "09:00", end: "17:00" }] }],
    people: [{ id: "c1", name: "Li Na", role: "clerk", post: "Tax clerk", site: "hall-1", window: "w1", roster: "office" }],
    gateways: [
      { id: "gw-restart", site: "hall-1", secret: "gateway-secret", publicKey: keys.publicKeyPem, sealingKey: keys.sealingKeyPem },
    ],
    devices: [
      { id: "kp-w1", kind: "keypad", site: "hall-1", window: "w1", secret: "keypad-secret" },
      {
        id: "cam-w1",
        kind: "camera",
        site: "hall-1",
        window: "w1",
        onvif: { url: "http://cam-w1.example/onvif/device_service", username: "admin", password: CAMERA_PASSWORD },
      },
      ...devices,
    ],
  });
}

/** What the gateway has applied, from its own HTTP API, and what it stored. */
async function gatewayState(): Promise<{ version: number | null; devices: number; stored: GatewayConfig | undefined }> {
  const response = await fetch(`http://127.0.0.1:${gateway.httpPort}/api/status`);
  const status = (await response.json()) as { configVersion: number | null; devices: { total: number } };
  let stored: GatewayConfig | undefined;
  try {
    stored = GatewayConfig.parse(JSON.parse(readFileSync(join(gateway.dataDir, "config.json"), "utf8")));
  } catch {
    stored = undefined;
  }
  return { version: status.configVersion, devices: status.devices.total, stored };
}

async function startHub(): Promise<Hub> {
  const started = new Hub(settings, pino({ level: "warn" }));
  await started.start();
  return started;
}

beforeAll(async () => {
  influxd = await startInfluxd();
  dir = mkdtempSync(join(tmpdir(), "hub-restart-"));
  gateway = await gatewayProcess({ gatewayId: "gw-restart" });
  mkdirSync(join(dir, "registry"));
  writeFileSync(join(dir, "registry", "hall.yaml"), registry([]));
  const brokerPort = await freePort();
  settings = HubSettings.parse({
    influx: { url: influxd.url },
    broker: { port: brokerPort, host: "127.0.0.1" },
    http: { port: await freePort() },
    registry: { dir: join(dir, "registry") },
    dataDir: join(dir, "hub"),
  });
  hub = await startHub();
  gateway.settings.hub = { url: `mqtt://127.0.0.1:${brokerPort}`, password: "gateway-secret" };
  await gateway.start();
}, 180_000);

afterAll(async () => {
  await gateway?.cleanup();
  await hub?.stop();
  await influxd?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("registry edits after a hub restart", () => {
  it("reach the gateway, which applies the new version; link secrets arrive sealed", async () => {
    await waitFor("the first config at the gateway", async () => (await gatewayState()).devices === 2, 60_000);
    const first = await gatewayState();
    expect(first.version).toBeGreaterThan(1);

    // What the gateway stored holds the camera password only sealed to its own key, and it opens.
    const stored = readFileSync(join(gateway.dataDir, "config.json"), "utf8");
    expect(stored).not.toContain(CAMERA_PASSWORD);
    const sealed = first.stored?.devices.find((d) => d.id === "cam-w1")?.onvif?.password ?? "";
    const key = loadSealingPrivateKey(readFileSync(join(gateway.dataDir, "gateway-sealing-key.pem"), "utf8"));
    expect(openSecret(sealed, key, secretContext("gw-restart", "cam-w1", "onvif", "password"))).toEqual({
      ok: true,
      value: CAMERA_PASSWORD,
    });

    // Restart the hub on the same data dir: the same files give the same version, never a lower one.
    await hub?.stop();
    hub = undefined;
    hub = await startHub();

    // Edit the registry after the restart: the gateway applies it (before issue 10 it kept "ignoring an older config").
    writeFileSync(
      join(dir, "registry", "hall.yaml"),
      registry([{ id: "kp-w1b", kind: "keypad", site: "hall-1", window: "w1", secret: "keypad-b" }]),
    );
    await waitFor("the edited config at the gateway", async () => (await gatewayState()).devices === 3, 60_000);
    const after = await gatewayState();
    expect(after.version).toBeGreaterThan(first.version!);
    expect(after.stored?.version).toBe(after.version);
    expect(after.stored?.devices.map((d) => d.id).sort()).toEqual(["cam-w1", "kp-w1", "kp-w1b"]);
  }, 240_000);
});
