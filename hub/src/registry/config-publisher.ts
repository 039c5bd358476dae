import { gatewayTopics } from "@supervision/firmware-protocols";
import mqtt, { type MqttClient } from "mqtt";
import type { HubContext, HubExtension } from "../controller/extension.ts";
import type { Registry } from "./schema.ts";
import { sliceFor } from "./slice.ts";

export interface ConfigPublisherOptions {
  brokerUrl: string;
  username?: string;
  password?: string;
}

/**
 * Publishes every gateway's registry slice retained on sv/v1/gw/{id}/config (QoS 1), on start and after every
 * registry reload, so a gateway that connects later still gets its current config.
 */
export function createConfigPublisher(options: ConfigPublisherOptions): HubExtension {
  let client: MqttClient | undefined;
  let unsubscribe: (() => void) | undefined;
  let published = 0;
  let lastVersion: number | undefined;
  let lastError: string | undefined;

  async function publishAll(ctx: HubContext, registry: Registry): Promise<void> {
    const mqttClient = client;
    if (!mqttClient) return;
    for (const gatewayId of registry.gateways.keys()) {
      try {
        const slice = sliceFor(registry, gatewayId);
        await mqttClient.publishAsync(gatewayTopics.config(gatewayId), JSON.stringify(slice), { qos: 1, retain: true });
        published++;
      } catch (err) {
        lastError = (err as Error).message;
        ctx.logger.error({ err, gatewayId }, "publishing gateway config failed");
      }
    }
    lastVersion = registry.version;
    ctx.logger.info({ version: registry.version, gateways: registry.gateways.size }, "gateway configs published");
  }

  return {
    name: "config-publisher",
    async start(ctx) {
      client = await mqtt.connectAsync(options.brokerUrl, {
        username: options.username,
        password: options.password,
        clientId: `hub-config-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
        reconnectPeriod: 2000,
      });
      await publishAll(ctx, ctx.registry.current());
      unsubscribe = ctx.registry.onChange((registry) => void publishAll(ctx, registry));
    },
    async stop() {
      unsubscribe?.();
      await client?.endAsync();
      client = undefined;
    },
    status() {
      return { connected: client?.connected ?? false, published, lastVersion, ...(lastError ? { lastError } : {}) };
    },
  };
}
