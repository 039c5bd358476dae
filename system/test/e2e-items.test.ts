/**
 * Approval items through a real gateway process and the hub: the hall's queue system (a foreign device,
 * `mosquitto_pub`) finishes a transaction at a window, that window's keypad (a real MQTT client) receives a prompt
 * carrying the transaction id, its rating carries the id, and the month's counts tie the rating to the application's
 * item. The same acceptance sent twice through the gateway and twice through the hub's approval-system API is one
 * application.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deviceTopics, localDate } from "@supervision/firmware-protocols";
import { freePort, startInfluxd, type TestInfluxd } from "@supervision/test-support";
import { InfluxDB } from "influx";
import mqtt, { type MqttClient } from "mqtt";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { loadOrCreateKeys } from "@supervision/gateway";
import { type GatewayUnderTest, gatewayProcess, waitFor } from "@supervision/gateway/testing";
import { Hub, HubSettings, itemMonth, loadRegistry } from "@supervision/hub";

const TZ = "Asia/Shanghai";
const SYSTEM_TOKEN = `hubtk_${"e2e-items-system-token".padEnd(43, "x")}`;
let influxd: TestInfluxd;
let hub: Hub;
let gateway: GatewayUnderTest;
let dir: string;
let apiUrl: string;

beforeAll(async () => {
  influxd = await startInfluxd();
  dir = mkdtempSync(join(tmpdir(), "hub-e2e-items-"));
  gateway = await gatewayProcess({ gatewayId: "gw-e2e" });
  const { publicKeyPem } = loadOrCreateKeys(gateway.dataDir);
  mkdirSync(join(dir, "registry"));
  writeFileSync(
    join(dir, "registry", "hall.yaml"),
    stringify({
      regions: [{ id: "east", name: "East" }],
      towns: [{ id: "riverside", name: "Riverside", region: "east" }],
      departments: [{ id: "market", name: "市场监管局" }],
      sites: [{ id: "hall-1", kind: "hall", name: "市民中心", town: "riverside", tz: TZ, gateway: "gw-e2e" }],
      windows: [{ id: "w1", site: "hall-1", name: "一号窗口", department: "market" }],
      rosters: [{ id: "office", shifts: [{ start: "09:00", end: "17:00" }] }],
      people: [{ id: "c1", name: "李娜", role: "clerk", post: "窗口人员", site: "hall-1", window: "w1", roster: "office" }],
      gateways: [{ id: "gw-e2e", site: "hall-1", secret: "gateway-secret-e2e", publicKey: publicKeyPem }],
      devices: [
        { id: "kp-w1", kind: "keypad", site: "hall-1", window: "w1", secret: "keypad-secret-e2e" },
        { id: "qs-1", kind: "queue", site: "hall-1", secret: "queue-secret-e2e" },
      ],
      items: [
        {
          code: "XK-001",
          name: "食品经营许可",
          department: "market",
          site: "hall-1",
          calendar: "office",
          legalLimit: { days: 20 },
          promisedLimit: { days: 5 },
          handler: { name: "张办", person: "c1" },
          head: { name: "赵科长" },
        },
      ],
      approvalSystems: [{ id: "market-sys", name: "市场监管审批系统", department: "market" }],
    }),
  );
  // The approval system's API token, as `hub token add market-sys --role operator` writes it.
  mkdirSync(join(dir, "secrets"), { mode: 0o700 });
  const tokensFile = join(dir, "secrets", "api-tokens.json");
  writeFileSync(tokensFile, JSON.stringify({ tokens: [{ name: "market-sys", role: "operator", token: SYSTEM_TOKEN }] }), { mode: 0o600 });
  const brokerPort = await freePort();
  const httpPort = await freePort();
  hub = new Hub(
    HubSettings.parse({
      influx: { url: influxd.url },
      broker: { port: brokerPort, host: "127.0.0.1" },
      http: { port: httpPort, host: "127.0.0.1", tokensFile },
      registry: { dir: join(dir, "registry") },
      dataDir: join(dir, "hub"),
      supervision: { intervalMs: 3_600_000 },
    }),
    pino({ level: "warn" }),
  );
  await hub.start();
  apiUrl = `http://127.0.0.1:${hub.httpPort}/api/items/events`;
  gateway.settings.hub = { url: `mqtt://127.0.0.1:${brokerPort}`, password: "gateway-secret-e2e" };
  await gateway.start();
});

afterAll(async () => {
  await gateway?.cleanup();
  await hub?.stop();
  await influxd?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The queue system's publish, by `mosquitto_pub` (a device that is not ours); rejects when the gateway refuses it. */
const queuePublish = (kind: "item" | "queue", event: Record<string, unknown>) =>
  new Promise<void>((resolve, reject) =>
    execFile(
      "mosquitto_pub",
      [
        "-h",
        "127.0.0.1",
        "-p",
        String(gateway.devicePort),
        "-i",
        "qs-1",
        "-u",
        "qs-1",
        "-P",
        "queue-secret-e2e",
        "-q",
        "1",
        "-V",
        "mqttv311",
      ].concat(["-t", deviceTopics.event("qs-1", kind), "-m", JSON.stringify({ v: 1, deviceId: "qs-1", ...event })]),
      (error) => (error ? reject(error) : resolve()),
    ),
  );

const rows = async (q: string): Promise<Record<string, unknown>[]> => {
  const series = (await influxd.query(q, "supervision")).results[0]?.series ?? [];
  return series.flatMap((s) => (s.values ?? []).map((v) => ({ ...s.tags, ...Object.fromEntries(s.columns.map((c, i) => [c, v[i]])) })));
};

describe("a transaction at a window", () => {
  it("prompts the window's keypad with its transaction id, and the rating that follows counts for the application's item", async () => {
    const t0 = Date.now() - 20 * 60_000;
    const txn = "T-E2E-A023";
    const accepted = {
      type: "accepted",
      applicationNo: "XK2026-E2E-1",
      itemCode: "XK-001",
      windowId: "w1",
      clerkId: "c1",
      applicantType: "company",
      txnId: txn,
    };
    // The gateway learns qs-1 from the hub's config; until then the device is refused, so retry.
    await waitFor(
      "the queue system to be accepted",
      () =>
        queuePublish("item", { seq: 1, ts: t0, ...accepted }).then(
          () => true,
          () => false,
        ),
      60_000,
    );

    // The keypad of window 1, a real MQTT client listening for its commands.
    let keypad: MqttClient | undefined;
    await waitFor(
      "the keypad to connect",
      async () => {
        try {
          keypad = await mqtt.connectAsync(`mqtt://127.0.0.1:${gateway.devicePort}`, {
            clientId: "kp-w1",
            username: "kp-w1",
            password: "keypad-secret-e2e",
            reconnectPeriod: 0,
            protocolVersion: 4,
          });
          return true;
        } catch {
          return false;
        }
      },
      60_000,
    );
    const prompts: Record<string, unknown>[] = [];
    keypad!.on("message", (topic, payload) => {
      if (topic === deviceTopics.command("kp-w1", "prompt")) prompts.push(JSON.parse(payload.toString()) as Record<string, unknown>);
    });
    await keypad!.subscribeAsync(deviceTopics.commandFilter("kp-w1"), { qos: 1 });
    try {
      const base = { ticket: "A023", txnId: txn, applicationNo: "XK2026-E2E-1", itemCode: "XK-001" };
      await queuePublish("queue", { seq: 2, ts: t0 - 10 * 60_000, type: "ticket", ...base });
      await queuePublish("queue", { seq: 3, ts: t0 - 60_000, type: "called", windowId: "w1", ...base });
      await queuePublish("queue", { seq: 4, ts: t0 - 50_000, type: "started", windowId: "w1", clerkId: "c1", ...base });
      expect(prompts).toEqual([]); // only a finished transaction prompts
      await queuePublish("queue", { seq: 5, ts: t0 + 5 * 60_000, type: "finished", windowId: "w1", clerkId: "c1", ...base });
      await waitFor("the prompt at the window's keypad", () => prompts.length > 0, 30_000);
      expect(prompts[0]).toMatchObject({ v: 1, windowId: "w1", txnId: txn, clerkId: "c1" });

      // The citizen presses "satisfied": the rating carries the transaction id.
      const rating = { v: 1, deviceId: "kp-w1", seq: 1, ts: t0 + 5 * 60_000 + 8000, windowId: "w1", clerkId: "c1", txnId: txn };
      await keypad!.publishAsync(
        deviceTopics.event("kp-w1", "rating"),
        JSON.stringify({ ...rating, outcome: "rated", scale: "four", key: 2, level: "satisfied" }),
        { qos: 1 },
      );
    } finally {
      await keypad!.endAsync();
    }

    // The same acceptance again through the gateway (a resend: same seq and time) and twice through the department's
    // approval system's API: the first is recorded, the second is a duplicate.
    await queuePublish("item", { seq: 1, ts: t0, ...accepted });
    const post = () =>
      fetch(apiUrl, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${SYSTEM_TOKEN}` },
        body: JSON.stringify({ ts: t0, ...accepted }),
      }).then(async (r) => [r.status, ((await r.json()) as { status: string }).status]);
    expect(await post()).toEqual([201, "recorded"]);
    expect(await post()).toEqual([200, "duplicate"]);

    let rated: Record<string, unknown>[] = [];
    await waitFor(
      "the rating and the transaction in InfluxDB",
      async () => {
        rated = await rows(`SELECT * FROM raw.rating`);
        return rated.length > 0 && (await rows(`SELECT * FROM raw.queue_event`)).length === 4;
      },
      60_000,
    );
    expect(rated).toHaveLength(1);
    expect(rated[0]).toMatchObject({ window: "w1", clerk: "c1", txn, level: "satisfied", positive: 1 });
    const stored = await rows(`SELECT "application" FROM raw.item_event GROUP BY "device"`);
    expect(stored.map((r) => [r.device, r.application]).sort()).toEqual([
      ["market-sys", "XK2026-E2E-1"],
      ["qs-1", "XK2026-E2E-1"],
    ]);

    // The month's counts: one application accepted, its transaction's rating counted for its item and department.
    const influx = new InfluxDB({ host: "127.0.0.1", port: influxd.port, database: "supervision" });
    const registry = loadRegistry(join(dir, "registry"));
    const month = await itemMonth(influx, registry, localDate(t0, TZ).slice(0, 7));
    expect(month.counts.map((c) => [c.department, c.accepted, c.inProgress, c.rated, c.positive])).toEqual([["market", 1, 1, 1, 1]]);
    expect(month.items.map((i) => [i.item, i.name, i.rated, i.positive])).toEqual([["XK-001", "食品经营许可", 1, 1]]);
  });
});
