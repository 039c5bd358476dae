import { connect as tcpConnect } from "node:net";
import { gatewayTopics } from "@supervision/firmware-protocols";
import { freePort, startInfluxd, type TestInfluxd } from "@supervision/test-support";
import mqtt from "mqtt";
import pino from "pino";
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
    }),
    startInfluxd(),
  ]);
}, 60_000);
afterAll(async () => {
  await Promise.all([broker?.close(), influx?.close()]);
});

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
    const seen: string[] = [];
    hub.on("message", (t) => seen.push(t));
    await hub.subscribeAsync("sv/#", { qos: 1 });

    const granted = await gw1.subscribeAsync([gatewayTopics.ack("gw1"), gatewayTopics.config("gw1"), gatewayTopics.command("gw1")], {
      qos: 1,
    });
    expect(granted.map((g) => g.qos)).toEqual([1, 1, 1]);
    for (const forbidden of [gatewayTopics.ack("gw2"), "sv/#", "#", gatewayTopics.batch("gw1")]) {
      await expect(gw1.subscribeAsync(forbidden, { qos: 1 })).rejects.toThrow(/Subscribe error/);
    }

    // A publish outside its own batch/status topics is dropped and the gateway disconnected (MQTT-3.3.5-2).
    await gw1.publishAsync(gatewayTopics.status("gw1"), "ok", { qos: 1 });
    for (const forbidden of [gatewayTopics.batch("gw2"), gatewayTopics.ack("gw1"), gatewayTopics.config("gw1"), "$SYS/x", "other/topic"]) {
      const intruder = await login("gw1", fixture.gatewaySecret);
      const closed = new Promise<void>((r) => intruder.once("close", () => r()));
      intruder.publish(forbidden, "x", { qos: 1 });
      await closed;
      await intruder.endAsync(true);
    }
    await new Promise((r) => setTimeout(r, 200));
    expect(seen).toEqual([gatewayTopics.status("gw1")]);
    await Promise.all([hub.endAsync(), gw1.endAsync(true)]);
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
