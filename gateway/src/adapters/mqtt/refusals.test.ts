import { type GatewayDevice, hashSecret } from "@supervision/firmware-protocols";
import { freePort } from "@supervision/test-support";
import mqtt from "mqtt";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemorySink } from "../testing/memory-sink.ts";
import { DeviceAccess } from "./access.ts";
import { type DeviceBroker, startDeviceBroker } from "./device-broker.ts";

const devices: GatewayDevice[] = [{ id: "kp-1", kind: "keypad", windowId: "w1", secretHash: hashSecret("kp1-secret"), heartbeatS: 60 }];

let broker: DeviceBroker;
const sink = new MemorySink();

beforeAll(async () => {
  broker = await startDeviceBroker({
    access: new DeviceAccess(devices),
    sink,
    logger: pino({ level: "silent" }),
    host: "127.0.0.1",
    port: await freePort(),
  });
});
afterAll(async () => {
  await broker.close();
});

const connect = (id: string, password: string) =>
  mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, {
    clientId: id,
    username: id,
    password,
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 5000,
  });

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("device broker: every refusal leaves a dead-letter record with its code", () => {
  it("a refused login: login_refused with the username and why", async () => {
    await expect(connect("kp-1", "wrong-secret")).rejects.toThrow();
    await expect(connect("ghost", "whatever")).rejects.toThrow();
    await until(() => sink.deadLetters.filter((d) => d.code === "login_refused").length === 2, "two login_refused records");
    const records = sink.deadLetters.filter((d) => d.code === "login_refused");
    expect(records.map((d) => [d.deviceId, d.source])).toEqual([
      ["kp-1", "mqtt:connect"],
      ["ghost", "mqtt:connect"],
    ]);
    expect(records[1]?.message).toMatch(/unknown device "ghost"/);
  });

  it.each([
    ["sv/v1/dev/kp-1/evt/temperature", "unknown_kind"],
    ["sv/v1/dev/kp-1/evt/rating/extra", "bad_topic"],
    ["sv/v2/dev/kp-1/evt/rating", "bad_topic"],
    ["sv/v1/dev/kp-2/evt/rating", "acl_denied"],
    ["sv/v1/dev/kp-1/evt/signin", "acl_denied"],
  ])("a publish to %s: %s, and the device is disconnected", async (topic, code) => {
    const client = await connect("kp-1", "kp1-secret");
    const closed = new Promise<void>((r) => client.once("close", () => r()));
    client.publish(topic, "{}", { qos: 1 });
    await closed;
    await until(() => sink.deadLetters.some((d) => d.source === topic), `a record for ${topic}`);
    expect(sink.deadLetters.find((d) => d.source === topic)).toMatchObject({ code, deviceId: "kp-1" });
    client.end(true);
  });
});
