import { createServer as createHttpServer } from "node:http";
import { createServer, type Server } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import { createWebSocketStream, WebSocketServer } from "ws";
import {
  type DeviceEvent,
  type DeviceStatus,
  deviceTopics,
  parseTopic,
  validateDeviceMessage,
  validateDeviceStatus,
  type ValidateOptions,
} from "@supervision/firmware-protocols";
import { Aedes, type AuthenticateError, type Client, type PublishPacket } from "aedes";
import type { Logger } from "pino";
import type { ReadingSink } from "../../buffer/types.ts";
import type { DeviceAccess } from "./access.ts";

const DEAD_LETTER_MAX_BYTES = 64 * 1024;
/** CONNACK return code 4: bad user name or password; 5: not authorized. */
const BAD_CREDENTIALS = 4;

export interface DeviceBrokerOptions {
  access: DeviceAccess;
  sink: ReadingSink;
  logger: Logger;
  host?: string;
  port: number;
  /** MQTT over TLS on its own port, for devices that can do it. */
  tls?: { port: number; cert: Buffer; key: Buffer; ca?: Buffer };
  /** MQTT over websocket (for browser-based terminals). */
  websocketPort?: number;
  /** The gateway clock, injectable for tests. */
  now?: () => number;
  /** Days the hub keeps each kind of reading (the config's retentionDays): older events are refused as beyond_retention. */
  retentionDays?: () => ValidateOptions["retentionDays"];
  /** Called after a valid event is durably committed (availability, sign-in → keypad display, ...). */
  onEvent?: (event: DeviceEvent, stored: "stored" | "duplicate") => void;
  /** Called after a refused payload was dead-lettered, e.g. to answer clock errors with a `time` command. */
  onRejected?: (deviceId: string, code: string) => void;
  onStatus?: (deviceId: string, status: DeviceStatus) => void;
  onConnection?: (deviceId: string, connected: boolean) => void;
}

export interface DeviceBroker {
  readonly port: number;
  /** Every listener's bound port by purpose: `mqtt`, and `mqtts` / `websocket` when configured. */
  readonly ports: Record<string, number>;
  /** Publishes a command (or any gateway message) to devices, bypassing the device ACL. */
  publish(topic: string, payload: string, qos?: 0 | 1): Promise<void>;
  connectedDevices(): string[];
  close(): Promise<void>;
}

/**
 * The hall's MQTT broker for devices. aedes sends PUBACK only after authorizePublish calls back, so a reading is
 * committed to the sink first: a PUBACK means "on disk". Invalid payloads are dead-lettered and still acknowledged
 * (a device must not resend a message that will never become valid); ACL violations disconnect the device.
 * Devices can subscribe only to their own command topics, so accepted events are not delivered to anyone.
 */
export async function startDeviceBroker(opts: DeviceBrokerOptions): Promise<DeviceBroker> {
  const { access, sink, logger } = opts;
  const now = opts.now ?? Date.now;
  const broker = await Aedes.createBroker();
  const connected = new Set<string>();

  broker.authenticate = (client: Client, username: string | undefined, password: Buffer | undefined, done) => {
    void access.authenticate(username, password).then((decision) => {
      if (decision.ok && client.id === username) return done(null, true);
      const reason = decision.ok ? `client id "${client.id}" must equal the device id "${username}"` : decision.reason;
      logger.warn({ clientId: client.id, username, reason }, "device refused at connect");
      // Recorded like any refusal, so a device with a wrong secret shows in `gateway dead-letters` and the metrics.
      void deadLetter(
        (username || client.id || "(anonymous)").slice(0, 64),
        "mqtt:connect",
        now(),
        "login_refused",
        reason,
        Buffer.alloc(0),
      ).catch((e: Error) => logger.error({ err: e.message }, "could not record a refused login"));
      const error = new Error(reason) as AuthenticateError;
      error.returnCode = BAD_CREDENTIALS;
      done(error, false);
    });
  };

  broker.authorizeSubscribe = (client, sub, done) => {
    const decision = client ? access.authorizeSubscribe(client.id, sub.topic) : { ok: false as const, reason: "no client" };
    if (decision.ok) return done(null, sub);
    logger.warn({ deviceId: client?.id, topic: sub.topic, reason: decision.reason }, "subscription refused");
    done(new Error(decision.reason), null);
  };

  broker.authorizePublish = (client, packet, done) => {
    // client is null for a will published after the device is gone; the will is the device's own status topic.
    const deviceId = client?.id ?? packet.topic.split("/")[3] ?? "";
    handlePublish(deviceId, packet).then(
      (error) => done(error),
      (error: Error) => {
        logger.error({ err: error, deviceId, topic: packet.topic }, "could not commit a device message; no PUBACK sent");
        done(error);
      },
    );
  };

  async function handlePublish(deviceId: string, packet: PublishPacket): Promise<Error | null> {
    const topicDecision = access.authorizePublishTopic(deviceId, packet.topic);
    if (!topicDecision.ok) {
      logger.warn({ deviceId, topic: packet.topic, reason: topicDecision.reason }, "publish refused (acl)");
      // Outside the v1 tree: bad_topic / unknown_kind; a valid topic this device may not use: acl_denied.
      const parsedTopic = parseTopic(packet.topic);
      const code = parsedTopic.ok ? "acl_denied" : parsedTopic.error.code;
      const bytes = typeof packet.payload === "string" ? Buffer.from(packet.payload) : packet.payload;
      await deadLetter(deviceId, packet.topic.slice(0, 256), now(), code, topicDecision.reason, bytes);
      return new Error(topicDecision.reason);
    }
    const rxTs = now();
    const payload = typeof packet.payload === "string" ? Buffer.from(packet.payload) : packet.payload;
    if (packet.topic === deviceTopics.status(deviceId)) {
      const status = validateDeviceStatus(payload);
      if (status.ok) opts.onStatus?.(deviceId, status.value);
      else await deadLetter(deviceId, packet.topic, rxTs, status.error.code, status.error.message, payload);
      return null;
    }
    packet.retain = false; // events are never retained
    const result = validateDeviceMessage(packet.topic, payload, { now: rxTs, retentionDays: opts.retentionDays?.() });
    if (!result.ok) {
      await deadLetter(deviceId, packet.topic, rxTs, result.error.code, result.error.message, payload);
      opts.onRejected?.(deviceId, result.error.code);
      return null;
    }
    const eventDecision = access.authorizeEvent(deviceId, result.value);
    if (!eventDecision.ok) {
      logger.warn({ deviceId, topic: packet.topic, reason: eventDecision.reason }, "publish refused (acl)");
      await deadLetter(deviceId, packet.topic, rxTs, "acl_denied", eventDecision.reason, payload);
      return new Error(eventDecision.reason);
    }
    const { v: _version, ...event } = result.value;
    const stored = await sink.append({ ...event, rxTs });
    opts.onEvent?.(result.value, stored);
    return null;
  }

  async function deadLetter(deviceId: string, source: string, rxTs: number, code: string, message: string, payload: Buffer) {
    logger.info({ deviceId, topic: source, code, reason: message }, "device message dead-lettered");
    await sink.deadLetter({ rxTs, source, deviceId, code, message, payload: payload.subarray(0, DEAD_LETTER_MAX_BYTES) });
  }

  broker.on("client", (client) => {
    connected.add(client.id);
    opts.onConnection?.(client.id, true);
  });
  broker.on("clientDisconnect", (client) => {
    connected.delete(client.id);
    opts.onConnection?.(client.id, false);
  });
  broker.on("clientError", (client, error) => logger.debug({ deviceId: client.id, err: error.message }, "device client error"));

  const host = opts.host ?? "0.0.0.0";
  const servers: Server[] = [];
  const ports: Record<string, number> = {};
  const serve = async (purpose: string, server: Server, port: number) => {
    servers.push(await listen(server, port, host));
    const address = server.address();
    ports[purpose] = typeof address === "object" && address ? address.port : port;
  };
  try {
    await serve("mqtt", createServer(broker.handle), opts.port);
    if (opts.tls) {
      const { port: tlsPort, ...credentials } = opts.tls;
      await serve("mqtts", createTlsServer(credentials, broker.handle), tlsPort);
    }
    if (opts.websocketPort !== undefined) {
      const http = createHttpServer();
      new WebSocketServer({ server: http }).on("connection", (socket) => broker.handle(createWebSocketStream(socket)));
      await serve("websocket", http, opts.websocketPort);
    }
  } catch (error) {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    throw error;
  }
  const port = ports.mqtt ?? opts.port;
  logger.info({ port, tlsPort: opts.tls?.port, websocketPort: opts.websocketPort }, "device broker listening");

  return {
    port,
    ports,
    publish: (topic, payload, qos = 1) =>
      new Promise((resolve, reject) =>
        broker.publish({ cmd: "publish", topic, payload: Buffer.from(payload), qos, retain: false, dup: false }, (error?: Error | null) =>
          error ? reject(error) : resolve(),
        ),
      ),
    connectedDevices: () => [...connected],
    close: () =>
      new Promise<void>((resolve) => {
        broker.close(() => Promise.all(servers.map((s) => new Promise((r) => s.close(r)))).then(() => resolve()));
      }),
  };
}

function listen<T extends Server>(server: T, port: number, host: string): Promise<T> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}
