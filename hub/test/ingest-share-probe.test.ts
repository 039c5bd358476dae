import { startMosquitto } from "@supervision/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { routingKeyToTopic, topicToRoutingKey, unroutableGatewayIds } from "../src/broker/amqp.ts";
import { probeSharedSubscriptions } from "../src/ingest/share-probe.ts";

let mosquitto: Awaited<ReturnType<typeof startMosquitto>>;
beforeAll(async () => {
  mosquitto = await startMosquitto();
});
afterAll(async () => {
  await mosquitto?.close();
});

describe("the shared-subscription probe (a hub that would receive nothing says so)", () => {
  it("finds that Mosquitto delivers $share subscriptions", async () => {
    expect(await probeSharedSubscriptions({ brokerUrl: mosquitto.url, shareGroup: "hub" })).toBe("delivered");
  });

  it("says unknown when the probe comes back through no subscription (here: a publish refused for its size)", async () => {
    const limited = await startMosquitto({ config: ["message_size_limit 2"] });
    try {
      expect(await probeSharedSubscriptions({ brokerUrl: limited.url, shareGroup: "hub", timeoutMs: 1000 })).toBe("unknown");
    } finally {
      await limited.close();
    }
  });
});

describe("MQTT topics and RabbitMQ routing keys", () => {
  it("maps a gateway topic to the key the MQTT plugin publishes and back", () => {
    expect(topicToRoutingKey("sv/v1/gw/gw-hall-1/ack")).toBe("sv.v1.gw.gw-hall-1.ack");
    expect(routingKeyToTopic("sv.v1.gw.gw-hall-1.batch")).toBe("sv/v1/gw/gw-hall-1/batch");
  });

  it("refuses a key it cannot map back: a gateway id with a dot, too few or too many words", () => {
    expect(routingKeyToTopic("sv.v1.gw.gw.x.batch")).toBeUndefined();
    expect(routingKeyToTopic("sv.v1.gw")).toBeUndefined();
    expect(routingKeyToTopic("")).toBeUndefined();
  });

  it("names the gateway ids RabbitMQ cannot route back (a dot), which the hub logs as an error at start", () => {
    expect(unroutableGatewayIds(["gw-hall-1", "gw.hall.2", "gw_3", "x."])).toEqual(["gw.hall.2", "x."]);
    expect(unroutableGatewayIds([])).toEqual([]);
  });
});
