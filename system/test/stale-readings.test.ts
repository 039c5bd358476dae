/**
 * Stale, future and ordinary readings mixed in one device stream through a real gateway process and the hub:
 * the ordinary ones are all stored, the stale and future ones refused at the gateway with their reason and
 * counted, and nothing is retried for ever (the stream after them keeps flowing).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deviceTopics } from "@supervision/firmware-protocols";
import { freePort, startInfluxd, type TestInfluxd } from "@supervision/test-support";
import mqtt from "mqtt";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { loadOrCreateKeys } from "@supervision/gateway";
import { type GatewayUnderTest, gatewayProcess, waitFor } from "@supervision/gateway/testing";
import { Hub, HubSettings } from "@supervision/hub";

let influxd: TestInfluxd;
let hub: Hub;
let gateway: GatewayUnderTest;
let dir: string;

const DAY = 86_400_000;

beforeAll(async () => {
  influxd = await startInfluxd();
  dir = mkdtempSync(join(tmpdir(), "stale-e2e-"));
  // Heartbeats forwarded one by one, as older gateways send them: each stale or fresh one is counted at the hub.
  gateway = await gatewayProcess({ gatewayId: "gw-stale", extra: { heartbeats: { summaryS: 0 } } });
  const { publicKeyPem } = loadOrCreateKeys(gateway.dataDir);
  mkdirSync(join(dir, "registry"));
  writeFileSync(
    join(dir, "registry", "hall.yaml"),
    stringify({
      regions: [{ id: "east", name: "East" }],
      towns: [{ id: "riverside", name: "Riverside", region: "east" }],
      departments: [{ id: "tax", name: "Taxation" }],
      sites: [{ id: "hall-1", kind: "hall", name: "Riverside Hall", town: "riverside", tz: "Asia/Shanghai", gateway: "gw-stale" }],
      windows: [{ id: "w1", site: "hall-1", name: "Window 1", department: "tax" }],
      rosters: [{ id: "office", shifts: [{ start: "09:00", end: "17:00" }] }],
      people: [{ id: "c1", name: "Li Na", role: "clerk", post: "Tax clerk", site: "hall-1", window: "w1", roster: "office" }],
      gateways: [{ id: "gw-stale", site: "hall-1", secret: "gateway-secret", publicKey: publicKeyPem }],
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
}, 120_000);

afterAll(async () => {
  await gateway?.cleanup();
  await hub?.stop();
  await influxd?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function count(q: string): Promise<number> {
  const answer = await influxd.query(q, "supervision");
  return Number(answer.results[0]?.series?.[0]?.values?.[0]?.[1] ?? 0);
}

async function metric(name: string, labels: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${gateway.httpPort}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line ? Number(line.split(" ").at(-1)) : 0;
}

describe("stale, future and ordinary readings in one stream", () => {
  it("stores every ordinary reading and refuses the stale and future ones with their reason, counted", { timeout: 120_000 }, async () => {
    // The keypad is known once the hub's config reached the gateway.
    const device = await (async () => {
      let client: mqtt.MqttClient | undefined;
      await waitFor("the keypad to be accepted", async () => {
        try {
          client = await mqtt.connectAsync(`mqtt://127.0.0.1:${gateway.devicePort}`, {
            clientId: "kp-w1",
            username: "kp-w1",
            password: "keypad-secret",
            reconnectPeriod: 0,
          });
          return true;
        } catch {
          return false;
        }
      });
      return client as mqtt.MqttClient;
    })();
    try {
      const now = Date.now();
      const rating = (seq: number, ts: number) =>
        JSON.stringify({
          v: 1,
          deviceId: "kp-w1",
          seq,
          ts,
          windowId: "w1",
          clerkId: "c1",
          outcome: "rated",
          scale: "four",
          key: 1,
          level: "very_satisfied",
        });
      const heartbeat = (seq: number, ts: number) => JSON.stringify({ v: 1, deviceId: "kp-w1", seq, ts, intervalS: 60, uptimeS: seq });
      const stream: Array<{ kind: "rating" | "heartbeat"; payload: string; expect: "stored" | "beyond_retention" | "future_timestamp" }> =
        [];
      for (let i = 1; i <= 60; i++) {
        const r = i % 10;
        if (r === 3) stream.push({ kind: "rating", payload: rating(i, now - 1200 * DAY), expect: "beyond_retention" });
        else if (r === 5) stream.push({ kind: "heartbeat", payload: heartbeat(i, now - 40 * DAY), expect: "beyond_retention" });
        else if (r === 7) stream.push({ kind: "rating", payload: rating(i, now + 3_600_000), expect: "future_timestamp" });
        else if (r === 9) stream.push({ kind: "heartbeat", payload: heartbeat(i, now - 29 * DAY), expect: "stored" });
        else stream.push({ kind: "rating", payload: rating(i, now - 60_000 + i), expect: "stored" });
      }
      for (const m of stream) await device.publishAsync(deviceTopics.event("kp-w1", m.kind), m.payload, { qos: 1 });

      const expected = (kind: string, what: string) => stream.filter((m) => m.kind === kind && m.expect === what).length;
      await waitFor(
        "every ordinary reading in InfluxDB",
        async () =>
          (await count(`SELECT count("seq") FROM "raw"."rating"`)) === expected("rating", "stored") &&
          (await count(`SELECT count("seq") FROM "health"."heartbeat"`)) === expected("heartbeat", "stored"),
        60_000,
      );
      expect(await metric("gateway_readings_rejected_total", 'code="beyond_retention"')).toBe(
        expected("rating", "beyond_retention") + expected("heartbeat", "beyond_retention"),
      );
      expect(await metric("gateway_readings_rejected_total", 'code="future_timestamp"')).toBe(expected("rating", "future_timestamp"));
      // None of them reached the hub: nothing there to dead-letter, and nothing stuck.
      expect(await count(`SELECT count("line") FROM "raw"."dead_letter"`)).toBe(0);
      const ingest = (hub.status().extensions.ingest as { detail: { pendingPoints: number; influx: string } }).detail;
      expect(ingest).toMatchObject({ pendingPoints: 0, influx: "up" });
    } finally {
      await device.endAsync();
    }
  });
});
