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

/** A gateway publishes only its own batches and status. */
export function mayPublish(who: Principal, topic: string): boolean {
  if (who.role === "hub") return true;
  return topic === gatewayTopics.batch(who.gatewayId) || topic === gatewayTopics.status(who.gatewayId);
}

/** A gateway subscribes only to its own acks, config and commands (exact topics, no wildcards). */
export function maySubscribe(who: Principal, filter: string): boolean {
  if (who.role === "hub") return true;
  const id = who.gatewayId;
  return filter === gatewayTopics.ack(id) || filter === gatewayTopics.config(id) || filter === gatewayTopics.command(id);
}
