import { createHash, timingSafeEqual } from "node:crypto";
import { gatewayTopics, verifySecret } from "@supervision/firmware-protocols";
import type { Registry } from "../registry/schema.ts";

/** Who a broker connection is: the hub's own service client, or one gateway. */
export type Principal = { role: "hub" } | { role: "gateway"; gatewayId: string };

export const HUB_USERNAME = "hub";

const sameSecret = (a: string, b: string) =>
  timingSafeEqual(createHash("sha256").update(a).digest(), createHash("sha256").update(b).digest());

/** A gateway logs in as its id with its secret (scrypt hash in the registry, or `secret` in clear in a lab). */
export async function authenticate(
  registry: Registry,
  serviceSecret: string | undefined,
  username: string | undefined,
  password: string,
): Promise<Principal | undefined> {
  if (username === undefined) return undefined;
  if (username === HUB_USERNAME) return serviceSecret !== undefined && sameSecret(password, serviceSecret) ? { role: "hub" } : undefined;
  const gateway = registry.gateways.get(username);
  if (!gateway) return undefined;
  if (gateway.secretHash !== undefined)
    return (await verifySecret(password, gateway.secretHash)) ? { role: "gateway", gatewayId: gateway.id } : undefined;
  if (gateway.secret !== undefined) return sameSecret(password, gateway.secret) ? { role: "gateway", gatewayId: gateway.id } : undefined;
  return undefined;
}

/** One gateway's topic for the hub: a gateway id segment (no wildcard, no level separator) and one of `kinds`. */
function gatewayTopicOf(topic: string, kinds: readonly string[]): boolean {
  const parts = topic.split("/");
  const example = gatewayTopics.ack("ID").split("/"); // sv, v1, gw, ID, ack
  return (
    parts.length === example.length &&
    parts.slice(0, 3).join("/") === example.slice(0, 3).join("/") &&
    /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(parts[3]!) &&
    kinds.includes(parts[4]!)
  );
}

/** The topic kinds the hub sends to gateways, and those it reads from them. */
const HUB_PUBLISHES = ["ack", "config", "cmd", "camera"] as const;
const HUB_READS = ["batch", "status", "camera-reply"] as const;

/**
 * A gateway publishes only its own batches and status. The hub's service identity only what the hub sends a gateway
 * (acks, configs, commands): it cannot forge a batch or a gateway's status.
 */
export function mayPublish(who: Principal, topic: string): boolean {
  if (who.role === "hub") return gatewayTopicOf(topic, HUB_PUBLISHES);
  return (
    topic === gatewayTopics.batch(who.gatewayId) ||
    topic === gatewayTopics.status(who.gatewayId) ||
    topic === gatewayTopics.cameraReply(who.gatewayId)
  );
}

/**
 * A gateway subscribes only to its own acks, config and commands (exact topics, no wildcards). The hub's service
 * identity only to the gateways' batches and status (all gateways' `+` filters, or one gateway's), never to the
 * configs or acks it sends: those are for their gateway alone.
 */
export function maySubscribe(who: Principal, filter: string): boolean {
  if (who.role === "hub")
    return (
      filter === gatewayTopics.allBatches ||
      filter === gatewayTopics.allStatus ||
      filter === gatewayTopics.allCameraReplies ||
      gatewayTopicOf(filter, HUB_READS)
    );
  const id = who.gatewayId;
  return (
    filter === gatewayTopics.ack(id) ||
    filter === gatewayTopics.config(id) ||
    filter === gatewayTopics.command(id) ||
    filter === gatewayTopics.camera(id)
  );
}
