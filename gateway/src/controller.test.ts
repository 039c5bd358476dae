import { type GatewayConfig, hashSecret } from "@supervision/firmware-protocols";
import { freePort } from "@supervision/test-support";
import mqtt from "mqtt";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemorySink } from "./adapters/testing/memory-sink.ts";
import { type RunningGateway, startGateway } from "./controller.ts";
import { parseSettings } from "./settings/settings.ts";

const config: GatewayConfig = {
  v: 1,
  gatewayId: "gw-1",
  version: 1,
  site: { id: "hall-1", name: "Hall 1", kind: "hall", tz: "UTC" },
  devices: [
    { id: "kp-1", kind: "keypad", windowId: "w1", secretHash: hashSecret("kp"), heartbeatS: 60 },
    { id: "term-1", kind: "terminal", secretHash: hashSecret("term"), heartbeatS: 60 },
  ],
  windows: [{ id: "w1", name: "Window 1", departmentId: "tax" }],
  people: [{ id: "p-1", name: "Li Ming", post: "Clerk", windowId: "w1" }],
};

let gateway: RunningGateway;
const sink = new MemorySink();

beforeAll(async () => {
  const settings = parseSettings(
    `gatewayId: gw-1\nbroker:\n  host: 127.0.0.1\n  port: ${await freePort()}\nhttp:\n  port: ${await freePort()}\n`,
  );
  gateway = await startGateway({ settings, sink, logger: pino({ level: "silent" }), config });
});
afterAll(() => gateway.close());

const connect = (id: string, password: string) =>
  mqtt.connectAsync(`mqtt://127.0.0.1:${gateway.status().links.mqtt?.ports?.mqtt}`, { clientId: id, username: id, password, reconnectPeriod: 0 });

function nextMessage(client: mqtt.MqttClient): Promise<{ topic: string; payload: Record<string, unknown> }> {
  return new Promise((resolve) => client.once("message", (topic, payload) => resolve({ topic, payload: JSON.parse(payload.toString()) })));
}

describe("gateway controller", () => {
  it("shows the signed-in clerk on the window's keypad", async () => {
    const keypad = await connect("kp-1", "kp");
    await keypad.subscribeAsync("sv/v1/dev/kp-1/cmd/+", { qos: 1 });
    const terminal = await connect("term-1", "term");
    const display = nextMessage(keypad);
    const signin = { v: 1, deviceId: "term-1", seq: 1, ts: Date.now(), personId: "p-1", method: "card", direction: "in" };
    await terminal.publishAsync("sv/v1/dev/term-1/evt/signin", JSON.stringify(signin), { qos: 1 });
    const message = await display;
    expect(message.topic).toBe("sv/v1/dev/kp-1/cmd/display");
    expect(message.payload.clerk).toMatchObject({ id: "p-1", name: "Li Ming" });
    expect(gateway.status().devices).toEqual({ online: 2, total: 2 });
    await keypad.endAsync();
    await terminal.endAsync();
  });

  it("stores a rating with the clerk signed in at its window, not the clerk its keypad claims", async () => {
    const keypad = await connect("kp-1", "kp");
    const signedInAt = sink.readings.find((r) => r.kind === "signin")?.ts as number;
    const rating = { v: 1, deviceId: "kp-1", windowId: "w1", outcome: "rated", scale: "four", key: 1, level: "very_satisfied" };
    const send = (fields: Record<string, unknown>) => keypad.publishAsync("sv/v1/dev/kp-1/evt/rating", JSON.stringify({ ...rating, ...fields }), { qos: 1 });
    await send({ seq: 21, ts: signedInAt + 1000, clerkId: "p-9" }); // claims another clerk
    await send({ seq: 22, ts: signedInAt + 2000 }); // names nobody
    await send({ seq: 23, ts: signedInAt - 60_000, clerkId: "p-9" }); // before any sign-in the gateway saw: left to the hub
    await expect.poll(() => sink.readings.filter((r) => r.kind === "rating").length, { timeout: 10_000 }).toBe(3);
    const clerks = Object.fromEntries(sink.readings.flatMap((r) => (r.kind === "rating" ? [[r.seq, r.clerkId]] : [])));
    expect(clerks).toEqual({ 21: "p-1", 22: "p-1", 23: "p-9" });
    await keypad.endAsync();
  });

  it("forwards valid hub commands and answers clock errors with a time command", async () => {
    const keypad = await connect("kp-1", "kp");
    await keypad.subscribeAsync("sv/v1/dev/kp-1/cmd/+", { qos: 1 });
    const forwarded = nextMessage(keypad);
    await gateway.handleHubCommand({ v: 1, deviceId: "kp-1", name: "config", payload: { v: 1, cmdId: "c1", ts: 1, heartbeatS: 30 } });
    expect((await forwarded).topic).toBe("sv/v1/dev/kp-1/cmd/config");
    const time = nextMessage(keypad);
    const unset = { v: 1, deviceId: "kp-1", seq: 9, ts: 5, windowId: "w1", outcome: "timeout", scale: "five" };
    await keypad.publishAsync("sv/v1/dev/kp-1/evt/rating", JSON.stringify(unset), { qos: 1 });
    expect((await time).topic).toBe("sv/v1/dev/kp-1/cmd/time");
    await keypad.endAsync();
  });

  it("applies a new config without restart and ignores an older one", async () => {
    gateway.applyConfig({ ...config, version: 2, devices: [config.devices[1] ?? config.devices[0]!] });
    await expect(connect("kp-1", "kp")).rejects.toThrow(/Bad username or password/i);
    gateway.applyConfig({ ...config, version: 1 });
    await expect(connect("kp-1", "kp")).rejects.toThrow(/Bad username or password/i);
    gateway.applyConfig({ ...config, version: 3 });
    const keypad = await connect("kp-1", "kp");
    await keypad.endAsync();
  });

  it("counts accepted and rejected readings in /metrics", async () => {
    const text = await (await fetch(`http://127.0.0.1:${gateway.httpPort}/metrics`)).text();
    expect(text).toMatch(/gateway_readings_accepted_total\{kind="signin",result="stored"\} 1/);
    expect(text).toMatch(/gateway_readings_rejected_total\{code="clock_unset"\} 1/);
  });
});
