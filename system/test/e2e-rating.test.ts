/**
 * The whole chain as deployed: mosquitto_pub at a real gateway process → signed batch → the hub's embedded broker
 * → InfluxDB. The gateway gets its devices from the hub's registry (retained config), not from its own settings, and
 * seals the uplink envelope that config lists: v1 when the registry names none, v2 (rows, PROTOCOL.md 4.2) for
 * `uplinkVersions: [1, 2]`, v3 (rows signed over the body's SHA-256, 4.3) for `[1, 2, 3]`. Each gives the same point.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deviceTopics } from "@supervision/firmware-protocols";
import { completeRows, freePort, startInfluxd, type TestInfluxd } from "@supervision/test-support";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { loadOrCreateKeys } from "@supervision/gateway";
import { type GatewayUnderTest, gatewayProcess, waitFor } from "@supervision/gateway/testing";
import { Hub, HubSettings } from "@supervision/hub";

describe.each([
  { version: 1, uplinkVersions: undefined },
  { version: 2, uplinkVersions: [1, 2] },
  { version: 3, uplinkVersions: [1, 2, 3] },
])("a rating from a keypad, through a gateway sending uplink v$version", ({ version, uplinkVersions }) => {
  let influxd: TestInfluxd;
  let hub: Hub;
  let gateway: GatewayUnderTest;
  let dir: string;

  beforeAll(async () => {
    influxd = await startInfluxd();
    dir = mkdtempSync(join(tmpdir(), `hub-e2e-v${version}-`));
    gateway = await gatewayProcess({ gatewayId: `gw-e2e-v${version}` });
    const { publicKeyPem } = loadOrCreateKeys(gateway.dataDir);
    mkdirSync(join(dir, "registry"));
    writeFileSync(
      join(dir, "registry", "hall.yaml"),
      stringify({
        regions: [{ id: "east", name: "East" }],
        towns: [{ id: "riverside", name: "Riverside", region: "east" }],
        departments: [{ id: "tax", name: "Taxation" }],
        sites: [
          { id: "hall-1", kind: "hall", name: "Riverside Hall", town: "riverside", tz: "Asia/Shanghai", gateway: `gw-e2e-v${version}` },
        ],
        windows: [{ id: "w1", site: "hall-1", name: "Window 1", department: "tax" }],
        rosters: [{ id: "office", shifts: [{ start: "09:00", end: "17:00" }] }],
        people: [{ id: "c1", name: "Li Na", role: "clerk", post: "Tax clerk", site: "hall-1", window: "w1", roster: "office" }],
        gateways: [
          {
            id: `gw-e2e-v${version}`,
            site: "hall-1",
            secret: "gateway-secret",
            publicKey: publicKeyPem,
            ...(uplinkVersions ? { uplinkVersions } : {}),
          },
        ],
        devices: [{ id: "kp-w1", kind: "keypad", site: "hall-1", window: "w1", secret: "keypad-secret" }],
      }),
    );
    const brokerPort = await freePort();
    hub = new Hub(
      HubSettings.parse({
        influx: { url: influxd.url },
        broker: { port: brokerPort, host: "127.0.0.1" },
        http: { port: await freePort() },
        registry: { dir: join(dir, "registry") },
        dataDir: join(dir, "hub"),
      }),
      pino({ level: "warn" }),
    );
    await hub.start();
    gateway.settings.hub = { url: `mqtt://127.0.0.1:${brokerPort}`, password: "gateway-secret" };
    await gateway.start();
  });

  afterAll(async () => {
    await gateway?.cleanup();
    await hub?.stop();
    await influxd?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("arrives in a batch of that version and is queryable in InfluxDB with its hall, window, clerk and level", async () => {
    const ts = Date.now();
    const payload = JSON.stringify({
      v: 1,
      deviceId: "kp-w1",
      seq: 7,
      ts,
      windowId: "w1",
      clerkId: "c1",
      txnId: "T-1",
      outcome: "rated",
      scale: "four",
      key: 4,
      level: "dissatisfied",
    });
    // The gateway learns kp-w1 from the hub's config; until then the device is refused, so retry the publish.
    await waitFor("the keypad to be accepted", async () => {
      try {
        await new Promise<void>((resolve, reject) =>
          execFile(
            "mosquitto_pub",
            [
              "-h",
              "127.0.0.1",
              "-p",
              String(gateway.devicePort),
              "-i",
              "kp-w1",
              "-u",
              "kp-w1",
              "-P",
              "keypad-secret",
              "-q",
              "1",
              "-V",
              "mqttv311",
              "-t",
              deviceTopics.event("kp-w1", "rating"),
              "-m",
              payload,
            ],
            (error) => (error ? reject(error) : resolve()),
          ),
        );
        return true;
      } catch {
        return false;
      }
    });
    const expected = {
      site: "hall-1",
      window: "w1",
      department: "tax",
      clerk: "c1",
      level: "dissatisfied",
      device: "kp-w1",
      seq: 7,
      key: 4,
      negative: 1,
      txn: "T-1",
    };
    let rows: Record<string, unknown>[] = [];
    await waitFor("the rating in InfluxDB with all its fields", async () => {
      rows = await completeRows(influxd, "SELECT * FROM raw.rating", "supervision", Object.keys(expected));
      return rows.length > 0;
    });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject(expected);
    // Every batch the gateway sent was of that version: the keypad was accepted only once the config (listing it) arrived.
    const byEnvelope = () =>
      (hub.status().extensions.ingest as { detail: { batchesByEnvelope: Record<string, number> } }).detail.batchesByEnvelope;
    // Counted once the write has returned (the point may be queryable a moment before).
    await waitFor("the batch counted", async () => Object.keys(byEnvelope()).length > 0);
    expect(byEnvelope()).toEqual({ [`v${version}`]: 1 });
  });
});
