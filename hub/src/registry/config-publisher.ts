import { gatewayTopics } from "@supervision/firmware-protocols";
import mqtt, { type MqttClient } from "mqtt";
import type { AmqpLink } from "../broker/amqp.ts";
import type { HubContext, HubExtension } from "../controller/extension.ts";
import type { Registry } from "./schema.ts";
import { sliceFor } from "./slice.ts";

export interface ConfigPublisherOptions {
  brokerUrl: string;
  username?: string;
  password?: string;
  /** A RabbitMQ cluster: configs go through the AMQP exchange (the ingest's link), not retained. */
  amqp?: AmqpLink;
  /** A gateway still reporting an older version gets its config again at most this often (default 30 s). */
  resendEveryMs?: number;
}

/**
 * Publishes every gateway's registry slice on sv/v1/gw/{id}/config (QoS 1), on start and after every registry
 * reload: retained over MQTT, so a gateway that connects later still gets it. Retained messages do not cross a
 * RabbitMQ cluster (they stay on the node they were published to), so the config also goes again, to that gateway
 * alone, whenever a gateway's status says it is online with an older version than the registry's (or none): a
 * gateway announces itself when it connects, to whichever node. Gateways ignore a version older than theirs.
 */
export function createConfigPublisher(options: ConfigPublisherOptions): HubExtension {
  let client: MqttClient | undefined;
  const unsubscribers: (() => void)[] = [];
  let published = 0;
  let resent = 0;
  let lastVersion: number | undefined;
  let lastError: string | undefined;
  const lastResend = new Map<string, number>();
  const resendEveryMs = options.resendEveryMs ?? 30_000;

  async function publishOne(ctx: HubContext, registry: Registry, gatewayId: string): Promise<boolean> {
    try {
      const payload = JSON.stringify(sliceFor(registry, gatewayId));
      const topic = gatewayTopics.config(gatewayId);
      if (options.amqp) {
        if (!options.amqp.publish(topic, payload)) throw new Error("no AMQP node connected");
      } else {
        if (!client) return false;
        await client.publishAsync(topic, payload, { qos: 1, retain: true });
      }
      published++;
      return true;
    } catch (err) {
      lastError = (err as Error).message;
      ctx.logger.error({ err, gatewayId }, "publishing gateway config failed");
      return false;
    }
  }

  async function publishAll(ctx: HubContext, registry: Registry): Promise<void> {
    for (const gatewayId of registry.gateways.keys()) await publishOne(ctx, registry, gatewayId);
    lastVersion = registry.version;
    ctx.logger.info({ version: registry.version, gateways: registry.gateways.size }, "gateway configs published");
  }

  function onStatus(ctx: HubContext, status: { gatewayId: string; state: string; configVersion?: number }): void {
    if (status.state !== "online") return;
    const registry = ctx.registry.current();
    if (!registry.gateways.has(status.gatewayId)) return;
    if (status.configVersion !== undefined && status.configVersion >= registry.version) return;
    const now = Date.now();
    if (now - (lastResend.get(status.gatewayId) ?? -Infinity) < resendEveryMs) return;
    lastResend.set(status.gatewayId, now);
    void publishOne(ctx, registry, status.gatewayId).then((ok) => {
      if (!ok) return;
      resent++;
      ctx.logger.info(
        { gatewayId: status.gatewayId, has: status.configVersion ?? null, version: registry.version },
        "gateway online with an older config: sent it the current one",
      );
    });
  }

  return {
    name: "config-publisher",
    async start(ctx) {
      if (!options.amqp)
        client = await mqtt.connectAsync(options.brokerUrl, {
          username: options.username,
          password: options.password,
          clientId: `hub-config-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
          reconnectPeriod: 2000,
        });
      const listener = (status: { gatewayId: string; state: string; configVersion?: number }) => onStatus(ctx, status);
      ctx.events.on("gatewayStatus", listener);
      unsubscribers.push(() => ctx.events.off("gatewayStatus", listener));
      await publishAll(ctx, ctx.registry.current());
      unsubscribers.push(ctx.registry.onChange((registry) => void publishAll(ctx, registry)));
    },
    async stop() {
      while (unsubscribers.length > 0) unsubscribers.pop()!();
      await client?.endAsync();
      client = undefined;
    },
    status() {
      return {
        connected: options.amqp ? options.amqp.connected() : (client?.connected ?? false),
        published,
        resentToGatewaysOnline: resent,
        lastVersion,
        ...(lastError ? { lastError } : {}),
      };
    },
  };
}
