import { connect as tcpConnect } from "node:net";
import { gatewayTopics } from "@supervision/firmware-protocols";
import { freePort, startInfluxd, type TestInfluxd } from "@supervision/test-support";
import mqtt from "mqtt";
import pino from "pino";
import { Registry as MetricsRegistry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type HubBroker, startHubBroker } from "../src/broker/index.ts";
import { ensureDatabase } from "../src/influx/setup.ts";
import { createIngestExtension } from "../src/ingest/index.ts";
import { rating, staticRegistryView, TestGateway, testContext, testRegistry } from "./ingest-fixtures.ts";

const fixture = testRegistry();
fixture.registry.gateways.set("gw2", {
  id: "gw2",
  site: "hall1",
  publicKey: fixture.registry.gateways.get("gw1")?.publicKey as string,
  secret: "lab-secret",
});
const SERVICE_SECRET = "hub-service-secret";
const metrics = new MetricsRegistry();
let broker: HubBroker;
let url: string;
let influx: TestInfluxd;

beforeAll(async () => {
  const port = await freePort();
  url = `mqtt://127.0.0.1:${port}`;
  [broker, influx] = await Promise.all([
    startHubBroker({
      port,
      registry: staticRegistryView(fixture.registry),
      logger: pino({ level: "silent" }),
      serviceSecret: SERVICE_SECRET,
      metrics,
    }),
    startInfluxd(),
  ]);
}, 60_000);
afterAll(async () => {
  await Promise.all([broker?.close(), influx?.close()]);
});

async function refusals(code: string): Promise<number> {
  const metric = await metrics.getSingleMetric("hub_broker_refusals_total")?.get();
  return metric?.values.find((v) => v.labels.code === code)?.value ?? 0;
}

const login = (username: string | undefined, password: string | undefined) =>
  mqtt.connectAsync(url, { username, password, reconnectPeriod: 0, connectTimeout: 3000 });

describe("hub broker: gateway authentication and ACL", () => {
  it("admits a gateway with its secret (hashed or lab clear text) and the hub service client; refuses everyone else", async () => {
    for (const [u, p] of [
      ["gw1", fixture.gatewaySecret],
      ["gw2", "lab-secret"],
      ["hub", SERVICE_SECRET],
    ] as const) {
      const c = await login(u, p);
      expect(c.connected).toBe(true);
      await c.endAsync();
    }
    for (const [u, p] of [
      ["gw1", "wrong"],
      ["gw2", "wrong"],
      ["gwx", "x"],
      ["hub", "wrong"],
      [undefined, undefined],
      ["gw1", "x".repeat(60_000)],
    ] as const) {
      await expect(login(u, p)).rejects.toThrow(/Bad username or password|Not authorized|bad user/i);
    }
  });

  it("confines a gateway to its own topics", async () => {
    const hub = await login("hub", SERVICE_SECRET);
    const gw1 = await login("gw1", fixture.gatewaySecret);
    const gw2 = await login("gw2", "lab-secret");
    const seen: string[] = [];
    hub.on("message", (t) => seen.push(t));
    gw2.on("message", (t) => seen.push(t));
    await hub.subscribeAsync([gatewayTopics.allBatches, gatewayTopics.allStatus], { qos: 1 });
    await gw2.subscribeAsync([gatewayTopics.ack("gw2"), gatewayTopics.config("gw2"), gatewayTopics.command("gw2")], { qos: 1 });
    const refusedBefore = await refusals("broker_publish_refused");

    const granted = await gw1.subscribeAsync([gatewayTopics.ack("gw1"), gatewayTopics.config("gw1"), gatewayTopics.command("gw1")], {
      qos: 1,
    });
    expect(granted.map((g) => g.qos)).toEqual([1, 1, 1]);
    for (const forbidden of [gatewayTopics.ack("gw2"), "sv/#", "#", gatewayTopics.batch("gw1")]) {
      await expect(gw1.subscribeAsync(forbidden, { qos: 1 })).rejects.toThrow(/Subscribe error/);
    }

    // A publish outside its own batch/status topics is dropped and the gateway disconnected (MQTT-3.3.5-2).
    await gw1.publishAsync(gatewayTopics.status("gw1"), "ok", { qos: 1 });
    const forbiddenTopics = [
      gatewayTopics.batch("gw2"),
      gatewayTopics.status("gw2"),
      gatewayTopics.ack("gw2"),
      gatewayTopics.config("gw2"),
      gatewayTopics.command("gw2"),
      gatewayTopics.ack("gw1"),
      gatewayTopics.config("gw1"),
      "$SYS/x",
      "other/topic",
    ];
    for (const forbidden of forbiddenTopics) {
      const intruder = await login("gw1", fixture.gatewaySecret);
      const closed = new Promise<void>((r) => intruder.once("close", () => r()));
      intruder.publish(forbidden, "x", { qos: 1 });
      await closed;
      await intruder.endAsync(true);
    }
    await new Promise((r) => setTimeout(r, 200));
    expect(seen).toEqual([gatewayTopics.status("gw1")]);
    // Each refusal is counted under its stable code.
    expect((await refusals("broker_publish_refused")) - refusedBefore).toBe(forbiddenTopics.length);
    await Promise.all([hub.endAsync(), gw1.endAsync(true), gw2.endAsync()]);
  });

  it("confines the hub's own service identity to what the hub sends and reads", async () => {
    const gw1 = await login("gw1", fixture.gatewaySecret);
    const seen: string[] = [];
    gw1.on("message", (t) => seen.push(t));
    await gw1.subscribeAsync([gatewayTopics.ack("gw1"), gatewayTopics.config("gw1")], { qos: 1 });
    const hub = await login("hub", SERVICE_SECRET);
    for (const forbidden of ["sv/#", "#", gatewayTopics.ack("+"), gatewayTopics.config("gw1"), "$SYS/#"]) {
      await expect(hub.subscribeAsync(forbidden, { qos: 1 })).rejects.toThrow(/Subscribe error/);
    }
    await hub.publishAsync(gatewayTopics.ack("gw1"), "{}", { qos: 1 });
    await expect.poll(() => seen).toEqual([gatewayTopics.ack("gw1")]);
    await hub.endAsync();
    // It cannot forge a gateway's batch or status, nor write outside the gateway topics.
    for (const forbidden of [gatewayTopics.batch("gw1"), gatewayTopics.status("gw1"), "sv/v1/gw/+/ack", "other/topic"]) {
      const intruder = await login("hub", SERVICE_SECRET);
      const closed = new Promise<void>((r) => intruder.once("close", () => r()));
      intruder.publish(forbidden, "x", { qos: 1 });
      await closed;
      await intruder.endAsync(true);
    }
    expect(seen).toEqual([gatewayTopics.ack("gw1")]);
    await gw1.endAsync();
  });

  it("carries signed batches to ingest (plain subscription) and acks back; survives garbage on the socket", async () => {
    const socket = tcpConnect(Number(new URL(url).port), "127.0.0.1");
    await new Promise((r) => socket.once("connect", r));
    socket.write(Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0x7f, 1, 2, 3]));
    await new Promise((r) => socket.once("close", r));

    const ctx = testContext(fixture.registry, influx.url, "broker_e2e");
    await ensureDatabase(ctx.influx, "broker_e2e", ctx.logger);
    const ingest = createIngestExtension({ brokerUrl: url, username: "hub", password: SERVICE_SECRET, shareGroup: "" });
    await ingest.start(ctx);
    const gw = await TestGateway.connect(url, "gw1", fixture.privateKeyPem, { username: "gw1", password: fixture.gatewaySecret });
    try {
      const b = gw.next([rating(1, Date.now() - 1000)]);
      await gw.send(b.wire);
      expect(await gw.waitForAck((a) => a.seq === 1)).toMatchObject({ status: "stored", hash: b.hash });
      const res = await influx.query(`SELECT count("seq") FROM "rating"`, "broker_e2e");
      expect(res.results[0]?.series?.[0]?.values?.[0]?.[1]).toBe(1);
    } finally {
      await gw.close();
      await ingest.stop();
    }
  }, 60_000);
});

describe("hub broker with TLS", () => {
  it("speaks MQTTS on its one port (no second listener there) and gives the hub's own clients a loopback listener", async () => {
    const { execFileSync } = await import("node:child_process");
    const { mkdtempSync, readFileSync, rmSync } = await import("node:fs");
    const { join } = await import("node:path");
    const { tmpdir } = await import("node:os");
    const dir = mkdtempSync(join(tmpdir(), "hub-broker-tls-"));
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
        "-keyout",
        join(dir, "key.pem"),
        "-out",
        join(dir, "cert.pem"),
      ],
      { stdio: "ignore" },
    );
    const port = await freePort();
    const secured = await startHubBroker({
      port,
      tls: { cert: join(dir, "cert.pem"), key: join(dir, "key.pem") },
      registry: staticRegistryView(fixture.registry),
      logger: pino({ level: "silent" }),
      serviceSecret: SERVICE_SECRET,
    });
    try {
      const gw = await mqtt.connectAsync(`mqtts://127.0.0.1:${port}`, {
        username: "gw1",
        password: fixture.gatewaySecret,
        ca: readFileSync(join(dir, "cert.pem")),
        reconnectPeriod: 0,
      });
      expect(gw.connected).toBe(true);
      await gw.endAsync();
      // Plain MQTT on the TLS port gets no CONNACK (0x20): the TLS listener closes the connection.
      const plain = tcpConnect(port, "127.0.0.1");
      const answer: Buffer[] = [];
      plain.on("data", (d: Buffer) => answer.push(d));
      plain.on("error", () => {});
      await new Promise((r) => plain.once("connect", r));
      // CONNECT, MQTT 3.1.1, clean session, keepalive 60, client id "x"
      plain.write(Buffer.from([0x10, 13, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 2, 0, 60, 0, 1, 0x78]));
      await new Promise((r) => plain.once("close", r));
      expect(Buffer.concat(answer)[0]).not.toBe(0x20);
      expect(secured.internalUrl).toMatch(/^mqtt:\/\/127\.0\.0\.1:\d+$/);
      expect(secured.internalUrl).not.toBe(`mqtt://127.0.0.1:${port}`);
      const hub = await mqtt.connectAsync(secured.internalUrl, { username: "hub", password: SERVICE_SECRET, reconnectPeriod: 0 });
      expect(hub.connected).toBe(true);
      await hub.endAsync();
    } finally {
      await secured.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
