/**
 * The uplink over mutual TLS: the hub broker's MQTTS listener requires client certificates (broker.tls.clientCaFile);
 * a real gateway process with its certificate (hub.certFile/keyFile) delivers; a login without a certificate, with one
 * from another CA, or with another gateway's certificate is refused, even with the right password. Certificates are
 * made by Debian's openssl for this run; everything on loopback.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deviceTopics } from "@supervision/firmware-protocols";
import { checkHubLogin, loadOrCreateKeys, parseSettings } from "@supervision/gateway";
import { type GatewayUnderTest, gatewayProcess, waitFor } from "@supervision/gateway/testing";
import { Hub, HubSettings } from "@supervision/hub";
import { freePort, issueTestCert, makeTestCa, startInfluxd, type TestInfluxd } from "@supervision/test-support";
import mqtt from "mqtt";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";

const GATEWAY = "gw-tls";
const PASSWORD = "gateway-secret-of-this-test";
let influxd: TestInfluxd;
let hub: Hub;
let gateway: GatewayUnderTest;
let dir: string;
let hubUrl: string;
let certs: ReturnType<typeof makeCerts>;

function makeCerts(at: string) {
  const ca = makeTestCa(at, "hub");
  const otherCa = makeTestCa(at, "other");
  return {
    ca,
    server: issueTestCert(at, ca, "127.0.0.1", { ip: "127.0.0.1" }),
    gateway: issueTestCert(at, ca, GATEWAY),
    otherCaGateway: issueTestCert(at, otherCa, GATEWAY),
    anotherGateway: issueTestCert(at, ca, "gw-other"),
  };
}

beforeAll(async () => {
  influxd = await startInfluxd();
  dir = mkdtempSync(join(tmpdir(), "uplink-mtls-"));
  certs = makeCerts(dir);
  gateway = await gatewayProcess({ gatewayId: GATEWAY });
  const { publicKeyPem } = loadOrCreateKeys(gateway.dataDir);
  mkdirSync(join(dir, "registry"));
  writeFileSync(
    join(dir, "registry", "hall.yaml"),
    stringify({
      regions: [{ id: "east", name: "East" }],
      towns: [{ id: "riverside", name: "Riverside", region: "east" }],
      departments: [{ id: "tax", name: "Taxation" }],
      sites: [{ id: "hall-1", kind: "hall", name: "Riverside Hall", town: "riverside", tz: "Asia/Shanghai", gateway: GATEWAY }],
      windows: [{ id: "w1", site: "hall-1", name: "Window 1", department: "tax" }],
      rosters: [{ id: "office", shifts: [{ start: "09:00", end: "17:00" }] }],
      people: [{ id: "c1", name: "Li Na", role: "clerk", post: "Tax clerk", site: "hall-1", window: "w1", roster: "office" }],
      gateways: [{ id: GATEWAY, site: "hall-1", secret: PASSWORD, publicKey: publicKeyPem }],
      devices: [{ id: "kp-w1", kind: "keypad", site: "hall-1", window: "w1", secret: "keypad-secret" }],
    }),
  );
  const brokerPort = await freePort();
  hubUrl = `mqtts://127.0.0.1:${brokerPort}`;
  hub = new Hub(
    HubSettings.parse({
      influx: { url: influxd.url },
      broker: {
        port: brokerPort,
        host: "127.0.0.1",
        tls: { certFile: certs.server.certFile, keyFile: certs.server.keyFile, clientCaFile: certs.ca.certFile },
      },
      http: { port: await freePort() },
      registry: { dir: join(dir, "registry") },
      dataDir: join(dir, "hub"),
    }),
    pino({ level: "silent" }),
  );
  await hub.start();
  gateway.settings.hub = {
    url: hubUrl,
    password: PASSWORD,
    caFile: certs.ca.certFile,
    certFile: certs.gateway.certFile,
    keyFile: certs.gateway.keyFile,
  };
  await gateway.start();
}, 240_000);

afterAll(async () => {
  await gateway?.cleanup();
  await hub?.stop();
  await influxd?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** `gateway doctor`'s login (the uplink's TLS files and credentials) with these uplink settings. */
const login = (hubSettings: Record<string, string>) =>
  checkHubLogin(
    parseSettings(stringify({ gatewayId: GATEWAY, hub: { url: hubUrl, password: PASSWORD, caFile: certs.ca.certFile, ...hubSettings } })),
  );

describe("the uplink with client certificates", () => {
  it("a gateway with its certificate delivers: the rating is stored", { timeout: 180_000 }, async () => {
    const ts = Date.now();
    const payload = JSON.stringify({
      v: 1,
      deviceId: "kp-w1",
      seq: 3,
      ts,
      windowId: "w1",
      clerkId: "c1",
      outcome: "rated",
      scale: "four",
      key: 1,
      level: "very_satisfied",
    });
    // The gateway learns kp-w1 from the hub's config (over the same mutual TLS); until then the device is refused.
    await waitFor(
      "the keypad to be accepted",
      () =>
        new Promise<boolean>((resolve) =>
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
            (error) => resolve(!error),
          ),
        ),
      120_000,
    );
    let rows: unknown[][] = [];
    await waitFor(
      "the rating in InfluxDB",
      async () => {
        rows =
          (await influxd.query(`SELECT "device", "seq", "level" FROM raw.rating`, "supervision")).results[0]?.series?.[0]?.values ?? [];
        return rows.length > 0;
      },
      120_000,
    );
    expect(rows.map((r) => r.slice(1))).toEqual([["kp-w1", 3, "very_satisfied"]]);
  });

  it("the same credentials with the gateway's certificate log in (what doctor checks)", { timeout: 60_000 }, async () => {
    expect(await login({ certFile: certs.gateway.certFile, keyFile: certs.gateway.keyFile })).toEqual({ ok: true });
  });

  it("refuses the right password without a certificate, with another CA's, or with another gateway's", { timeout: 60_000 }, async () => {
    const none = await login({});
    expect(none).toMatchObject({ ok: false, reason: "tls" });
    const otherCa = await login({ certFile: certs.otherCaGateway.certFile, keyFile: certs.otherCaGateway.keyFile });
    expect(otherCa).toMatchObject({ ok: false });
    expect(otherCa.ok === false && otherCa.reason).toMatch(/^(tls|no-answer)$/);
    // A valid certificate of the hub's CA, but issued to gw-other: it does not open gw-tls's account.
    const another = await login({ certFile: certs.anotherGateway.certFile, keyFile: certs.anotherGateway.keyFile });
    expect(another).toMatchObject({ ok: false, reason: "refused" });
    // A plain MQTT.js client without a certificate: the TLS handshake fails, no CONNACK.
    await expect(
      mqtt.connectAsync(hubUrl, {
        username: GATEWAY,
        password: PASSWORD,
        ca: readFileSync(certs.ca.certFile),
        reconnectPeriod: 0,
        connectTimeout: 10_000,
      }),
    ).rejects.toThrow();
  });

  it("names an unreadable certificate file and the setting", { timeout: 30_000 }, async () => {
    const missing = await login({ certFile: join(dir, "nope.pem"), keyFile: certs.gateway.keyFile });
    expect(missing).toMatchObject({ ok: false, reason: "tls-file" });
    expect(missing.ok === false && missing.detail).toMatch(/cannot read hub\.certFile .*nope\.pem \(ENOENT\)/);
  });
});
