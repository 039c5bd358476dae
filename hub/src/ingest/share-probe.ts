import { randomBytes } from "node:crypto";
import mqtt from "mqtt";

export type ShareProbeResult =
  /** The probe came through the shared subscription: the broker shares traffic between hub copies. */
  | "delivered"
  /** It came through a plain subscription and not through the shared one: this broker takes `$share` as a literal topic. */
  | "not_delivered"
  /** It came through neither (the broker refused the publish, or is too slow): nothing is known. */
  | "unknown";

export interface ShareProbeOptions {
  brokerUrl: string;
  username?: string;
  password?: string;
  tls?: { ca?: string; cert?: string; key?: string; rejectUnauthorized?: boolean };
  shareGroup: string;
  /** How long to wait for the probe (default 5 s). */
  timeoutMs?: number;
}

/**
 * Whether the broker delivers shared subscriptions: one message to a probe topic of its own, subscribed to plainly
 * and through `$share/<group>/`. RabbitMQ and NATS grant `$share/...` and deliver nothing to it, so a hub relying on
 * it would sit connected and empty; the ingest refuses to start then.
 */
export async function probeSharedSubscriptions(opts: ShareProbeOptions): Promise<ShareProbeResult> {
  const topic = `sv/v1/probe/${randomBytes(6).toString("hex")}`;
  // Two clients: a broker may deliver a message once to a client whose subscriptions overlap (Mosquitto does).
  const connect = (role: string) =>
    mqtt.connectAsync(opts.brokerUrl, {
      username: opts.username,
      password: opts.password,
      clientId: `hub-probe-${role}-${process.pid}-${randomBytes(3).toString("hex")}`,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      ...opts.tls,
    });
  const plain = await connect("plain");
  const shared = await connect("shared").catch(async (error: unknown) => {
    await plain.endAsync(true);
    throw error;
  });
  try {
    let plainArrived = false;
    let sharedArrived = false;
    plain.on("message", (t) => (plainArrived ||= t === topic));
    shared.on("message", (t) => (sharedArrived ||= t === topic));
    const granted = [
      ...(await plain.subscribeAsync(topic, { qos: 1 })),
      ...(await shared.subscribeAsync(`$share/${opts.shareGroup}/${topic}`, { qos: 1 })),
    ];
    if (granted.some((g) => g.qos === 128)) return "unknown";
    await plain.publishAsync(topic, "probe", { qos: 1 });
    const deadline = Date.now() + (opts.timeoutMs ?? 5_000);
    while (Date.now() < deadline && !(plainArrived && sharedArrived)) await new Promise((r) => setTimeout(r, 50));
    return sharedArrived ? "delivered" : plainArrived ? "not_delivered" : "unknown";
  } finally {
    await Promise.all([plain.endAsync(true).catch(() => undefined), shared.endAsync(true).catch(() => undefined)]);
  }
}
