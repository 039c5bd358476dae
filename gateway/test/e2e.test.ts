/**
 * The gateway as deployed: a real `gateway start` process, real MQTT clients (mosquitto_pub and MQTT.js), a
 * stand-in hub that verifies and acknowledges signed batches. What a device got a PUBACK for must reach the hub
 * exactly once, through kill -9 and hub outages.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { deviceTopics, type GatewayConfig, type Reading } from "@supervision/firmware-protocols";
import { SerialDeviceSimulator } from "@supervision/firmware-protocols/sim";
import { startSocatPair } from "@supervision/test-support";
import mqtt from "mqtt";
import { afterEach, describe, expect, it } from "vitest";
import { loadOrCreateKeys } from "../src/identity/keys.ts";
import { type StandInHub, startStandInHub } from "../src/uplink/testing/stand-in-hub.ts";
import { type GatewayUnderTest, gatewayProcess, hallConfig, ratingPayload, waitFor } from "./fixtures.ts";

const run = promisify(execFile);
/** Upper bound per test: each starts gateway processes through tsx and moves thousands of readings; a busy machine is slow. */
const E2E_TIMEOUT_MS = 300_000;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** A gateway process and a stand-in hub that trusts its key. */
async function setup(keypads = 2, extraDevices: GatewayConfig["devices"] = []): Promise<{ gateway: GatewayUnderTest; hub: StandInHub }> {
  const base = hallConfig(keypads);
  const config = { ...base, devices: [...base.devices, ...extraDevices] };
  const gateway = await gatewayProcess({ config });
  // The key is created in the gateway's data dir before the hub starts, as `gateway keys` does on a new box.
  const { publicKeyPem } = loadOrCreateKeys(gateway.dataDir);
  const hub = await startStandInHub({ publicKeyPem, gatewayId: config.gatewayId });
  gateway.settings.hub = { url: hub.url, password: "the stand-in hub takes any password" };
  cleanups.push(
    () => hub.close(),
    () => gateway.cleanup(),
  );
  return { gateway, hub };
}

const keyOf = (r: Pick<Reading, "deviceId" | "seq">) => `${r.deviceId}#${r.seq}`;

function mosquittoPub(gateway: GatewayUnderTest, deviceId: string, topic: string, lines: string[]) {
  return new Promise<void>((resolve, reject) => {
    const child = execFile(
      "mosquitto_pub",
      [
        "-h",
        "127.0.0.1",
        "-p",
        String(gateway.devicePort),
        "-i",
        deviceId,
        "-u",
        deviceId,
        "-P",
        `secret-${deviceId}`,
        "-q",
        "1",
        "-V",
        "mqttv311",
        "-t",
        topic,
        "-l",
      ],
      (error) => (error ? reject(error) : resolve()),
    );
    child.stdin?.end(`${lines.join("\n")}\n`);
  });
}

describe("gateway end to end", () => {
  it(
    "delivers what mosquitto_pub publishes to the hub exactly once, and dead-letters what is refused",
    async () => {
      const { gateway, hub } = await setup();
      await gateway.start();
      const t0 = Date.now();
      const good = Array.from({ length: 50 }, (_, i) => ratingPayload("kp-w1", i + 1, "w1", t0 + i));
      // the same readings again (a device that did not see its PUBACKs resends them), a malformed one, an oversized one
      await mosquittoPub(gateway, "kp-w1", deviceTopics.event("kp-w1", "rating"), [
        ...good,
        ...good.slice(0, 10),
        "{not json",
        `{"v":1,"pad":"${"x".repeat(5000)}"}`,
      ]);
      // a rating for another keypad's window: refused by the access rules, and the device is disconnected
      const intruder = await mqtt.connectAsync(`mqtt://127.0.0.1:${gateway.devicePort}`, {
        clientId: "kp-w2",
        username: "kp-w2",
        password: "secret-kp-w2",
        reconnectPeriod: 0,
      });
      const closed = new Promise<void>((r) => intruder.once("close", () => r()));
      intruder.publish(deviceTopics.event("kp-w2", "rating"), ratingPayload("kp-w2", 1, "w1", t0), { qos: 1 });
      await closed;
      intruder.end(true);
      await waitFor("50 readings at the hub", () => hub.readings().length >= 50);
      await new Promise((r) => setTimeout(r, 500));
      const keys = hub.readings().map(keyOf);
      expect(new Set(keys).size).toBe(keys.length);
      expect(keys.sort()).toEqual(good.map((_, i) => `kp-w1#${i + 1}`).sort());

      const { stdout } = await run(process.execPath, [
        "--import",
        "tsx",
        "gateway/src/cli/main.ts",
        "dead-letters",
        "--settings",
        gateway.settingsFile,
      ]);
      expect(stdout).toMatch(/malformed_json/);
      expect(stdout).toMatch(/oversized/);
      expect(stdout).toMatch(/acl_denied|kp-w2/);

      // refused at connect: a wrong password, an unknown device
      await expect(
        mqtt.connectAsync(`mqtt://127.0.0.1:${gateway.devicePort}`, {
          clientId: "kp-w1",
          username: "kp-w1",
          password: "wrong",
          reconnectPeriod: 0,
        }),
      ).rejects.toThrow();
      await expect(
        mqtt.connectAsync(`mqtt://127.0.0.1:${gateway.devicePort}`, {
          clientId: "kp-x",
          username: "kp-x",
          password: "x",
          reconnectPeriod: 0,
        }),
      ).rejects.toThrow();
    },
    E2E_TIMEOUT_MS,
  );

  it(
    "loses nothing it acknowledged when killed with -9 in the middle of 10,000 QoS 1 readings",
    async () => {
      const { gateway, hub } = await setup(1);
      await gateway.start();
      const TOTAL = 10_000;
      const t0 = Date.now();
      const acked = new Set<number>();
      let next = 1;

      /** Publishes from `next` with a window of 100 until done or the connection drops. */
      async function stream(): Promise<void> {
        const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${gateway.devicePort}`, {
          clientId: "kp-w1",
          username: "kp-w1",
          password: "secret-kp-w1",
          reconnectPeriod: 0,
          protocolVersion: 4,
        });
        await new Promise<void>((resolve) => {
          let inFlight = 0;
          let closed = false;
          client.on("close", () => {
            closed = true;
            resolve();
          });
          const pump = () => {
            while (!closed && inFlight < 100 && next <= TOTAL) {
              const seq = next++;
              inFlight++;
              client.publish(deviceTopics.event("kp-w1", "rating"), ratingPayload("kp-w1", seq, "w1", t0 + seq), { qos: 1 }, (error) => {
                inFlight--;
                if (!error) acked.add(seq);
                if (acked.size === TOTAL) client.end(false, () => resolve());
                else pump();
              });
            }
          };
          pump();
        });
        client.removeAllListeners();
        client.end(true);
      }

      const first = stream();
      await waitFor("3,000 PUBACKs", () => acked.size >= 3000);
      await gateway.kill9();
      await first;
      const ackedBeforeKill = new Set(acked);
      expect(ackedBeforeKill.size).toBeLessThan(TOTAL);

      await gateway.start();
      // A real device resends whatever got no PUBACK, with the same sequence numbers.
      next = 1;
      while (next <= TOTAL && acked.has(next)) next++;
      const resend = stream();
      await resend;
      expect(acked.size).toBe(TOTAL);

      await waitFor("10,000 readings at the hub", () => hub.readings().length >= TOTAL, 60_000);
      const seqs = hub.readings().map((r) => r.seq);
      expect(new Set(seqs).size).toBe(seqs.length);
      for (const seq of ackedBeforeKill) expect(seqs.includes(seq)).toBe(true);
      expect(seqs.length).toBe(TOTAL);
    },
    E2E_TIMEOUT_MS,
  );

  it(
    "keeps buffering while the hub is unreachable and drains the backlog in order when it returns",
    async () => {
      const { gateway, hub } = await setup(1);
      await gateway.start();
      const t0 = Date.now();
      await hub.stop();
      const lines = Array.from({ length: 2000 }, (_, i) => ratingPayload("kp-w1", i + 1, "w1", t0 + i));
      await mosquittoPub(gateway, "kp-w1", deviceTopics.event("kp-w1", "rating"), lines);
      const status = (await (await fetch(`http://127.0.0.1:${gateway.httpPort}/api/status`)).json()) as { buffer: { depth: number } };
      expect(status.buffer.depth).toBe(2000);
      expect(hub.readings()).toHaveLength(0);
      const { stdout } = await run(process.execPath, [
        "--import",
        "tsx",
        "gateway/src/cli/main.ts",
        "status",
        "--settings",
        gateway.settingsFile,
      ]);
      expect(stdout).toMatch(/gateway +gw-test +healthy/);
      expect(stdout).toMatch(/devices +\d+ of 2 online/);
      expect(stdout).toMatch(/buffer +2000 readings waiting, \d+% of \d+ MiB, oldest unsent \d+ s old/);
      expect(stdout).toMatch(/uplink +(offline|connecting), 0 batches in flight/);

      await hub.restart();
      await waitFor("the backlog at the hub", () => hub.readings().length >= 2000, 60_000);
      expect(hub.readings().map((r) => r.seq)).toEqual(lines.map((_, i) => i + 1));
      await waitFor("an empty buffer", async () => {
        const s = (await (await fetch(`http://127.0.0.1:${gateway.httpPort}/api/status`)).json()) as { buffer: { depth: number } };
        return s.buffer.depth === 0;
      });
    },
    E2E_TIMEOUT_MS,
  );

  it(
    "takes a sign-in from a serial terminal to the hub and shows the clerk on the window's MQTT keypad",
    async () => {
      const line = await startSocatPair();
      const terminal = new SerialDeviceSimulator(line.a, [5]);
      await terminal.open();
      cleanups.push(
        () => line.close(),
        () => terminal.close(),
      );
      const { gateway, hub } = await setup(1, [{ id: "term-s", kind: "terminal", serial: { port: line.b, address: 5 }, heartbeatS: 60 }]);
      await gateway.start();
      const keypad = await mqtt.connectAsync(`mqtt://127.0.0.1:${gateway.devicePort}`, {
        clientId: "kp-w1",
        username: "kp-w1",
        password: "secret-kp-w1",
        reconnectPeriod: 0,
      });
      cleanups.push(() => keypad.endAsync());
      const shown: string[] = [];
      keypad.on("message", (_t, payload) => shown.push(payload.toString()));
      await keypad.subscribeAsync(deviceTopics.commandFilter("kp-w1"), { qos: 1 });
      terminal.enqueue(5, {
        kind: "signin",
        v: 1,
        deviceId: "term-s",
        seq: 1,
        ts: Date.now(),
        personId: "c1",
        method: "card",
        direction: "in",
      });
      await waitFor("the sign-in at the hub", () => hub.readings().some((r) => r.deviceId === "term-s"));
      expect(terminal.pending(5)).toBe(0);
      await waitFor("the clerk on the keypad", () => shown.some((p) => p.includes("Li Na")));
      expect(JSON.parse(shown.find((p) => p.includes("Li Na"))!)).toMatchObject({
        windowId: "w1",
        clerk: { id: "c1", name: "Li Na", post: "Tax clerk" },
      });
    },
    E2E_TIMEOUT_MS,
  );
});
