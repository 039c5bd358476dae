import mqtt, { type MqttClient } from "mqtt";
import { COMMAND_SCHEMAS, type DeviceCommand } from "../commands.ts";
import { deviceTopics, type EventKind, parseTopic } from "../topics.ts";
import type { Scenario } from "./scenario.ts";

export type SimDeviceSpec = Scenario["devices"][number];

/** How long a closing device waits for the gateway to acknowledge its goodbye. */
const CLOSE_WAIT_MS = 1000;

/**
 * One simulated device with its own MQTT connection, as firmware would do it: client id and username = device id,
 * a persistent session (clean false), QoS 1, a retained "online" status and an "offline" last will.
 */
export class SimDevice {
  /** Commands the device received, newest last (what a keypad would show). */
  readonly received: DeviceCommand[] = [];
  private client: MqttClient | undefined;

  constructor(
    readonly spec: SimDeviceSpec,
    private readonly brokerUrl: string,
    private readonly onCommand?: (device: SimDevice, command: DeviceCommand) => void,
  ) {}

  async connect(): Promise<void> {
    const id = this.spec.id;
    const client = await mqtt.connectAsync(this.brokerUrl, {
      clientId: id,
      username: id,
      password: this.spec.secret,
      clean: false,
      protocolVersion: 4,
      keepalive: 30,
      reconnectPeriod: 2000,
      // The gateway checks each device's scrypt password when it connects; a hall's devices connecting at once on a
      // busy machine wait longer than 10 s for their CONNACK, and a simulator that gives up leaves the hall silent.
      connectTimeout: 60_000,
      will: {
        topic: deviceTopics.status(id),
        payload: Buffer.from(JSON.stringify({ v: 1, deviceId: id, state: "offline" })),
        qos: 1,
        retain: true,
      },
    });
    this.client = client;
    client.on("message", (topic, payload) => {
      const parsed = parseTopic(topic);
      if (!parsed.ok || parsed.value.scope !== "dev" || parsed.value.type !== "cmd") return;
      const name = parsed.value.name;
      let json: unknown;
      try {
        json = JSON.parse(payload.toString("utf8"));
      } catch {
        return;
      }
      const command = COMMAND_SCHEMAS[name].safeParse(json);
      if (!command.success) return;
      const received = { name, payload: command.data } as DeviceCommand;
      this.received.push(received);
      if (this.received.length > 100) this.received.shift();
      this.onCommand?.(this, received);
    });
    await client.subscribeAsync(deviceTopics.commandFilter(id), { qos: 1 });
    await client.publishAsync(
      deviceTopics.status(id),
      JSON.stringify({ v: 1, deviceId: id, state: "online", ts: Date.now(), fw: "sim-1.0" }),
      { qos: 1, retain: true },
    );
  }

  /** Publishes one event at QoS 1; resolves on the gateway's PUBACK. */
  async publish(kind: EventKind, event: Record<string, unknown>): Promise<void> {
    if (!this.client) throw new Error(`${this.spec.id} is not connected`);
    await this.client.publishAsync(deviceTopics.event(this.spec.id, kind), JSON.stringify(event), { qos: 1 });
  }

  /**
   * Says goodbye (offline status) and disconnects. A gateway that is itself stopping never acknowledges the
   * goodbye, so after CLOSE_WAIT_MS the connection is dropped anyway (the gateway has the last will).
   */
  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    let timer: NodeJS.Timeout | undefined;
    const goodbye = client
      .publishAsync(deviceTopics.status(this.spec.id), JSON.stringify({ v: 1, deviceId: this.spec.id, state: "offline", ts: Date.now() }), {
        qos: 1,
        retain: true,
      })
      .then(() => client.endAsync())
      .catch(() => undefined);
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, CLOSE_WAIT_MS);
    });
    await Promise.race([goodbye, late]);
    clearTimeout(timer);
    if (!client.disconnecting) await client.endAsync(true);
  }
}
