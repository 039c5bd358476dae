import { randomUUID } from "node:crypto";
import { CameraReply, type CameraRequest, gatewayTopics, MAX_CAMERA_REPLY_BYTES, parseJsonObject } from "@supervision/firmware-protocols";
import mqtt, { type MqttClient } from "mqtt";
import type { Logger } from "pino";

/** A camera request without its envelope: the requester adds `v` and a fresh `reqId`. */
export type CameraAsk = CameraRequest extends infer R ? (R extends CameraRequest ? Omit<R, "v" | "reqId"> : never) : never;

export interface CameraRequesterOptions {
  brokerUrl: string;
  username?: string | undefined;
  password?: string | undefined;
  logger: Logger;
}

/** Why a request got no answer: the gateway is offline, or slower than the timeout. */
export class CameraTimeout extends Error {}

/**
 * Camera requests down to gateways and their replies back, over the hub's broker: the MQTT uplink is the one path
 * that always reaches a gateway behind the hall's NAT (the gateway's HTTP API is not reachable from the hub).
 * Each request goes on sv/v1/gw/{id}/camera with a fresh id; the reply on .../camera-reply settles it.
 */
export class CameraRequester {
  private client: MqttClient | undefined;
  private readonly pending = new Map<string, { gatewayId: string; resolve: (reply: CameraReply) => void; timer: NodeJS.Timeout }>();
  sent = 0;
  answered = 0;
  timedOut = 0;

  constructor(private readonly opts: CameraRequesterOptions) {}

  async start(): Promise<void> {
    const client = await mqtt.connectAsync(this.opts.brokerUrl, {
      username: this.opts.username,
      password: this.opts.password,
      clientId: `hub-cameras-${process.pid}-${randomUUID().slice(0, 8)}`,
      reconnectPeriod: 2000,
    });
    client.on("message", (topic, payload) => this.onReply(topic, payload));
    // The filter is (re)made on every connect: the session is clean.
    const subscribe = () => client.subscribe(gatewayTopics.allCameraReplies, { qos: 1 });
    client.on("connect", subscribe);
    await client.subscribeAsync(gatewayTopics.allCameraReplies, { qos: 1 });
    this.client = client;
  }

  async stop(): Promise<void> {
    for (const [reqId, p] of this.pending) {
      clearTimeout(p.timer);
      p.resolve({ v: 1, reqId, ok: false, code: "camera_error", error: "the hub is stopping" });
    }
    this.pending.clear();
    await this.client?.endAsync();
    this.client = undefined;
  }

  connected(): boolean {
    return this.client?.connected ?? false;
  }

  /** Sends one request to a gateway; resolves with its reply, rejects with CameraTimeout when none comes in time. */
  request(gatewayId: string, ask: CameraAsk, timeoutMs: number): Promise<CameraReply> {
    const client = this.client;
    if (!client) return Promise.reject(new Error("the hub's camera requests are not connected to its broker"));
    const reqId = randomUUID();
    const request = { v: 1, reqId, ...ask } as CameraRequest;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(reqId);
        this.timedOut++;
        reject(
          new CameraTimeout(
            `gateway ${gatewayId} did not answer within ${Math.round(timeoutMs / 1000)} s: it may be offline (hub gateways)`,
          ),
        );
      }, timeoutMs);
      this.pending.set(reqId, { gatewayId, resolve, timer });
      this.sent++;
      client.publish(gatewayTopics.camera(gatewayId), JSON.stringify(request), { qos: 1 }, (error) => {
        if (!error) return;
        clearTimeout(timer);
        this.pending.delete(reqId);
        reject(new Error(`the camera request to ${gatewayId} could not be sent: ${error.message}`));
      });
    });
  }

  private onReply(topic: string, payload: Buffer): void {
    const gatewayId = /^sv\/v1\/gw\/([^/]+)\/camera-reply$/.exec(topic)?.[1];
    if (!gatewayId) return;
    const json = parseJsonObject(payload, MAX_CAMERA_REPLY_BYTES + 4096);
    const reply = json.ok ? CameraReply.safeParse(json.value) : undefined;
    if (!reply?.success) {
      this.opts.logger.warn(
        { gatewayId, error: json.ok ? reply?.error.issues[0]?.message : json.error.message },
        "ignoring an invalid camera reply",
      );
      return;
    }
    const waiting = this.pending.get(reply.data.reqId);
    // A reply for another gateway's request (or one already timed out) settles nothing.
    if (!waiting || waiting.gatewayId !== gatewayId) return;
    clearTimeout(waiting.timer);
    this.pending.delete(reply.data.reqId);
    this.answered++;
    waiting.resolve(reply.data);
  }
}
