import type { DeviceCommand, DeviceEvent, GatewayDevice } from "@supervision/firmware-protocols";
import { SerialDeviceSimulator } from "@supervision/firmware-protocols/sim";
import { startSocatPair } from "@supervision/test-support";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { MemorySink } from "../testing/memory-sink.ts";
import { SerialAdapter } from "./serial-adapter.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function waitFor(what: string, check: () => boolean, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const devices = (port: string): GatewayDevice[] => [
  { id: "kp-w01", kind: "keypad", windowId: "w01", serial: { port, address: 3 }, heartbeatS: 60 },
  { id: "term-1", kind: "terminal", serial: { port, address: 5 }, heartbeatS: 60 },
  { id: "kp-w09", kind: "keypad", windowId: "w09", serial: { port, address: 9 }, heartbeatS: 60 },
];
const rating = (seq: number, ts = Date.now()): DeviceEvent => ({
  kind: "rating",
  v: 1,
  deviceId: "kp-w01",
  seq,
  ts,
  windowId: "w01",
  outcome: "rated",
  scale: "four",
  key: 1,
  level: "very_satisfied",
});

async function setup(opts: { replyTimeoutMs?: number } = {}) {
  const line = await startSocatPair();
  const sim = new SerialDeviceSimulator(line.a, [3, 5]);
  await sim.open();
  const sink = new MemorySink();
  const adapter = new SerialAdapter({ devices: devices(line.b), logger: pino({ level: "silent" }), ...opts });
  await adapter.start(sink);
  cleanups.push(
    () => line.close(),
    () => sim.close(),
    () => adapter.stop(),
  );
  return { sim, sink, adapter };
}

describe("serial adapter over a socat line", () => {
  it("polls devices, commits their events before the ACK, and dead-letters what fails validation", async () => {
    const { sim, sink, adapter } = await setup();
    for (let seq = 1; seq <= 20; seq++) sim.enqueue(3, rating(seq));
    sim.enqueue(5, {
      kind: "signin",
      v: 1,
      deviceId: "term-1",
      seq: 1,
      ts: Date.now(),
      personId: "clerk-01",
      method: "card",
      direction: "in",
    });
    sim.enqueue(3, rating(21, Date.now() + 3_600_000)); // device clock an hour ahead
    await waitFor("every event acknowledged", () => sim.pending(3) === 0 && sim.pending(5) === 0);
    expect(sink.readings.filter((r) => r.deviceId === "term-1")).toMatchObject([{ kind: "signin", personId: "clerk-01", direction: "in" }]);
    expect(sink.readings.filter((r) => r.deviceId === "kp-w01").map((r) => r.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(sink.readings.every((r) => r.rxTs > 0)).toBe(true);
    expect(sink.deadLetters).toHaveLength(1);
    expect(sink.deadLetters[0]).toMatchObject({
      deviceId: "kp-w01",
      code: "future_timestamp",
      source: expect.stringMatching(/^serial:.*@3$/),
    });
    // kp-w09 (no device at address 9) goes offline after 3 unanswered polls, however slow the machine is.
    await waitFor("kp-w09 offline", () => adapter.online().sort().join() === "kp-w01,term-1");
    expect(adapter.online().sort()).toEqual(["kp-w01", "term-1"]);
    expect(adapter.handles("kp-w09")).toBe(true);
    expect(adapter.handles("kp-w02")).toBe(false);
  });

  it("finds its way through line noise and retransmits until acknowledged", async () => {
    const { sim, sink } = await setup();
    const noise = setInterval(() => sim.writeRaw(Uint8Array.from({ length: 7 }, () => Math.floor(Math.random() * 256))), 15);
    cleanups.push(async () => clearInterval(noise));
    for (let seq = 1; seq <= 30; seq++) sim.enqueue(3, rating(seq));
    await waitFor("every event acknowledged", () => sim.pending(3) === 0, 30_000);
    clearInterval(noise);
    expect(sink.readings.map((r) => r.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
  });

  it("delivers commands to the right device and reports an unreachable one", async () => {
    // A generous reply time: on a busy machine the simulator's ACK can take longer than the 50 ms of the protocol.
    const { sim, adapter } = await setup({ replyTimeoutMs: 1000 });
    await adapter.send("kp-w01", {
      name: "display",
      payload: { v: 1, cmdId: "c-1", ts: Date.now(), windowId: "w01", clerk: { id: "clerk-01", name: "Li Na", post: "Tax clerk" } },
    });
    await adapter.send("kp-w01", {
      name: "prompt",
      payload: { v: 1, cmdId: "c-2", ts: Date.now(), windowId: "w01", txnId: "T-1", timeoutS: 30 },
    });
    // On a busy machine an ACK can come after the reply timeout, and the command is sent again with the same cmdId:
    // what counts is which commands the device received, each once, in order.
    const distinct = (commands: DeviceCommand[]) => [...new Map(commands.map((c) => [c.payload.cmdId, c])).values()];
    expect(distinct(sim.received.get(3)!).map((c) => c.name)).toEqual(["display", "prompt"]);
    expect(sim.received.get(5)).toEqual([]);
    await expect(adapter.send("kp-w09", { name: "time", payload: { v: 1, cmdId: "c-3", ts: Date.now(), tz: "UTC" } })).rejects.toThrow(
      /did not acknowledge/,
    );
    await expect(adapter.send("kp-w77", { name: "time", payload: { v: 1, cmdId: "c-4", ts: Date.now(), tz: "UTC" } })).rejects.toThrow(
      /not on a serial bus/,
    );
  });

  it("names the fix when a port cannot be opened", async () => {
    const adapter = new SerialAdapter({ devices: devices("/dev/does-not-exist"), logger: pino({ level: "silent" }) });
    await expect(adapter.start(new MemorySink())).rejects.toThrow(/cannot open serial port \/dev\/does-not-exist.*dialout/);
  });
});
