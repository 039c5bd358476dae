/**
 * The hall's queue system as a device of the gateway: a transaction it reports finished at a window makes that
 * window's keypad (a real MQTT client) receive a prompt carrying the transaction id; the rating that answers it
 * carries the id into the buffer, and a resent "finished" does not prompt again.
 */
import { type GatewayConfig, hashSecret } from "@supervision/firmware-protocols";
import { freePort } from "@supervision/test-support";
import mqtt from "mqtt";
import pino from "pino";
import { afterAll, beforeAll, expect, it } from "vitest";
import { MemorySink } from "../adapters/testing/memory-sink.ts";
import { type RunningGateway, startGateway } from "../controller.ts";
import { parseSettings } from "../settings/settings.ts";

const config: GatewayConfig = {
  v: 1,
  gatewayId: "gw-1",
  version: 1,
  site: { id: "hall-1", name: "Hall 1", kind: "hall", tz: "Asia/Shanghai" },
  devices: [
    { id: "kp-1", kind: "keypad", windowId: "w1", secretHash: hashSecret("kp"), heartbeatS: 60 },
    { id: "qs-1", kind: "queue", secretHash: hashSecret("qs"), heartbeatS: 60 },
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
  mqtt.connectAsync(`mqtt://127.0.0.1:${gateway.status().links.mqtt?.ports?.mqtt}`, {
    clientId: id,
    username: id,
    password,
    reconnectPeriod: 0,
  });

it("prompts the window's keypad when the queue system finishes a transaction; the rating carries the transaction id", async () => {
  const keypad = await connect("kp-1", "kp");
  const queue = await connect("qs-1", "qs");
  const prompts: Record<string, unknown>[] = [];
  keypad.on("message", (topic, payload) => {
    if (topic === "sv/v1/dev/kp-1/cmd/prompt") prompts.push(JSON.parse(payload.toString()) as Record<string, unknown>);
  });
  await keypad.subscribeAsync("sv/v1/dev/kp-1/cmd/+", { qos: 1 });
  const ts = Date.now();
  const base = { v: 1, deviceId: "qs-1", ticket: "A023", txnId: "T-A023" };
  await queue.publishAsync("sv/v1/dev/qs-1/evt/queue", JSON.stringify({ ...base, seq: 1, ts: ts - 600_000, type: "ticket" }), { qos: 1 });
  await queue.publishAsync(
    "sv/v1/dev/qs-1/evt/queue",
    JSON.stringify({ ...base, seq: 2, ts: ts - 300_000, type: "called", windowId: "w1" }),
    { qos: 1 },
  );
  const finished = JSON.stringify({
    ...base,
    seq: 3,
    ts,
    type: "finished",
    windowId: "w1",
    clerkId: "p-1",
    applicationNo: "XK2026-1",
    itemCode: "XK-001",
  });
  await queue.publishAsync("sv/v1/dev/qs-1/evt/queue", finished, { qos: 1 });
  await expect.poll(() => prompts.length, { timeout: 10_000 }).toBe(1);
  expect(prompts[0]).toMatchObject({ v: 1, windowId: "w1", txnId: "T-A023", clerkId: "p-1", timeoutS: 60 });

  // The keypad answers the prompt: its rating carries the transaction id.
  const rating = {
    v: 1,
    deviceId: "kp-1",
    seq: 1,
    ts: ts + 20_000,
    windowId: "w1",
    clerkId: String(prompts[0]!.clerkId),
    txnId: "T-A023",
    outcome: "rated",
    scale: "four",
    key: 1,
    level: "very_satisfied",
  };
  await keypad.publishAsync("sv/v1/dev/kp-1/evt/rating", JSON.stringify(rating), { qos: 1 });
  await expect.poll(() => sink.readings.filter((r) => r.kind === "rating").length, { timeout: 10_000 }).toBe(1);
  expect(sink.readings.find((r) => r.kind === "rating")).toMatchObject({ txnId: "T-A023", clerkId: "p-1" });

  // The queue system resends the finished event (no PUBACK seen): stored once, no second prompt.
  await queue.publishAsync("sv/v1/dev/qs-1/evt/queue", finished, { qos: 1 });
  await queue.publishAsync(
    "sv/v1/dev/qs-1/evt/queue",
    JSON.stringify({ ...base, seq: 4, ts: ts + 30_000, type: "ticket", ticket: "A024", txnId: "T-A024" }),
    { qos: 1 },
  );
  await expect.poll(() => sink.readings.filter((r) => r.kind === "queue").length, { timeout: 10_000 }).toBe(4);
  expect(prompts).toHaveLength(1);
  await keypad.endAsync();
  await queue.endAsync();
});
