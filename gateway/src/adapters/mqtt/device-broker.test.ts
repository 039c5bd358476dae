import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { type GatewayDevice, hashSecret } from "@supervision/firmware-protocols";
import { freePort } from "@supervision/test-support";
import mqtt from "mqtt";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeviceAccess } from "./access.ts";
import { type DeviceBroker, startDeviceBroker } from "./device-broker.ts";
import { MemorySink } from "../testing/memory-sink.ts";

const run = promisify(execFile);

const devices: GatewayDevice[] = [
  { id: "kp-1", kind: "keypad", windowId: "w1", secretHash: hashSecret("kp1-secret"), heartbeatS: 60 },
  { id: "term-1", kind: "terminal", secretHash: hashSecret("term1-secret"), heartbeatS: 60 },
];

const rating = (seq: number, windowId = "w1") =>
  JSON.stringify({
    v: 1,
    deviceId: "kp-1",
    seq,
    ts: Date.now(),
    windowId,
    outcome: "rated",
    scale: "five",
    key: 1,
    level: "very_satisfied",
  });

let broker: DeviceBroker;
const sink = new MemorySink();
const access = new DeviceAccess(devices);

beforeAll(async () => {
  broker = await startDeviceBroker({ access, sink, logger: pino({ level: "silent" }), host: "127.0.0.1", port: await freePort() });
});
afterAll(async () => {
  await broker.close();
});

function connect(id: string, password: string) {
  return mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, {
    clientId: id,
    username: id,
    password,
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 5000,
  });
}

describe("device broker", () => {
  it("commits a valid reading before PUBACK, with rxTs, and stores duplicates once", async () => {
    const client = await connect("kp-1", "kp1-secret");
    await client.publishAsync("sv/v1/dev/kp-1/evt/rating", rating(1), { qos: 1 });
    expect(sink.readings.filter((r) => r.seq === 1)).toHaveLength(1);
    expect(sink.readings[0]?.rxTs).toBeTypeOf("number");
    await client.publishAsync("sv/v1/dev/kp-1/evt/rating", rating(1), { qos: 1 });
    expect(sink.readings.filter((r) => r.deviceId === "kp-1" && r.seq === 1)).toHaveLength(1);
    await client.endAsync();
  });

  it("accepts a reading from mosquitto_pub as a foreign client", async () => {
    await run("mosquitto_pub", [
      "-h",
      "127.0.0.1",
      "-p",
      String(broker.port),
      "-i",
      "kp-1",
      "-u",
      "kp-1",
      "-P",
      "kp1-secret",
      "-q",
      "1",
      "-t",
      "sv/v1/dev/kp-1/evt/rating",
      "-m",
      rating(2),
    ]);
    expect(sink.readings.some((r) => r.seq === 2)).toBe(true);
  });

  it("refuses unknown devices and wrong passwords at connect", async () => {
    await expect(connect("ghost", "x")).rejects.toThrow(/Bad username or password/i);
    await expect(connect("kp-1", "wrong")).rejects.toThrow(/Bad username or password/i);
  });

  it("dead-letters malformed, oversized and clock-unset payloads but still acknowledges them", async () => {
    const client = await connect("kp-1", "kp1-secret");
    await client.publishAsync("sv/v1/dev/kp-1/evt/rating", "{not json", { qos: 1 });
    await client.publishAsync("sv/v1/dev/kp-1/evt/rating", "x".repeat(10_000), { qos: 1 });
    await client.publishAsync("sv/v1/dev/kp-1/evt/rating", rating(3).replace(/"ts":\d+/, '"ts":1000'), { qos: 1 });
    const codes = sink.deadLetters.map((d) => d.code);
    expect(codes).toEqual(expect.arrayContaining(["malformed_json", "oversized", "clock_unset"]));
    expect(client.connected).toBe(true);
    await client.endAsync();
  });

  it("refuses a rating for another window and a terminal publishing ratings", async () => {
    const before = sink.readings.length;
    const keypad = await connect("kp-1", "kp1-secret");
    const closed = new Promise<void>((resolve) => keypad.once("close", () => resolve()));
    keypad.publish("sv/v1/dev/kp-1/evt/rating", rating(4, "w2"), { qos: 1 });
    await closed;
    expect(sink.deadLetters.some((d) => d.code === "acl_denied" && d.message.includes("w2"))).toBe(true);
    const terminal = await connect("term-1", "term1-secret");
    const closedTerminal = new Promise<void>((resolve) => terminal.once("close", () => resolve()));
    terminal.publish("sv/v1/dev/term-1/evt/rating", rating(5), { qos: 1 });
    await closedTerminal;
    expect(sink.readings.length).toBe(before);
    keypad.end(true);
    terminal.end(true);
  });

  it("refuses subscribing to another device's commands and allows its own", async () => {
    const client = await connect("kp-1", "kp1-secret");
    const own = await client.subscribeAsync("sv/v1/dev/kp-1/cmd/+", { qos: 1 });
    expect(own[0]?.qos).toBe(1);
    const closed = new Promise<void>((resolve) => client.once("close", () => resolve()));
    client.subscribe("sv/v1/dev/term-1/cmd/+", { qos: 1 });
    await closed;
    client.end(true);
  });

  it("applies a changed device list without restart", async () => {
    access.setDevices([...devices, { id: "kp-2", kind: "keypad", windowId: "w2", secretHash: hashSecret("kp2"), heartbeatS: 60 }]);
    const client = await connect("kp-2", "kp2");
    await client.endAsync();
    access.setDevices(devices);
    await expect(connect("kp-2", "kp2")).rejects.toThrow(/Bad username or password/i);
  });
});

describe("device broker listeners", () => {
  it("serves the same devices over TLS and MQTT over websocket", async () => {
    const { mkdtempSync, readFileSync, rmSync } = await import("node:fs");
    const { join } = await import("node:path");
    const { tmpdir } = await import("node:os");
    const dir = mkdtempSync(join(tmpdir(), "broker-tls-"));
    await run("openssl", [
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
    ]);
    const [tlsPort, wsPort] = [await freePort(), await freePort()];
    const tlsSink = new MemorySink();
    const secured = await startDeviceBroker({
      access,
      sink: tlsSink,
      logger: pino({ level: "silent" }),
      host: "127.0.0.1",
      port: await freePort(),
      tls: { port: tlsPort, cert: readFileSync(join(dir, "cert.pem")), key: readFileSync(join(dir, "key.pem")) },
      websocketPort: wsPort,
    });
    try {
      const options = { clientId: "kp-1", username: "kp-1", password: "kp1-secret", protocolVersion: 4 as const, reconnectPeriod: 0 };
      const overTls = await mqtt.connectAsync(`mqtts://127.0.0.1:${tlsPort}`, {
        ...options,
        ca: readFileSync(join(dir, "cert.pem")),
        rejectUnauthorized: true,
      });
      await overTls.publishAsync("sv/v1/dev/kp-1/evt/rating", rating(100), { qos: 1 });
      await overTls.endAsync();
      const overWs = await mqtt.connectAsync(`ws://127.0.0.1:${wsPort}`, options);
      await overWs.publishAsync("sv/v1/dev/kp-1/evt/rating", rating(101), { qos: 1 });
      await overWs.endAsync();
      expect(tlsSink.readings.map((r) => r.seq)).toEqual([100, 101]);
      await expect(
        mqtt.connectAsync(`mqtts://127.0.0.1:${tlsPort}`, { ...options, password: "wrong", rejectUnauthorized: false }),
      ).rejects.toThrow();
    } finally {
      await secured.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
