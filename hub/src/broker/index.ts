import { readFileSync } from "node:fs";
import { createServer as createTcpServer, type Server } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import { Aedes, type AuthenticateError, type Client } from "aedes";
import type { Logger } from "pino";
import type { RegistryView } from "../controller/extension.ts";
import { authenticate, mayPublish, maySubscribe, type Principal } from "./acl.ts";

export interface HubBrokerOptions {
  port: number;
  host?: string;
  /** An MQTTS listener as well, with PEM files. */
  tls?: { port: number; cert: string; key: string };
  registry: RegistryView;
  logger: Logger;
  /** Password of the hub's own service client (username "hub"); without it nobody may log in as the hub. */
  serviceSecret?: string;
}

export interface HubBroker {
  close(): Promise<void>;
}

/** MQTT CONNACK return code 4: bad user name or password. */
const BAD_CREDENTIALS = 4;

/** The embedded broker gateways connect to; authenticates gateways against the registry and confines each to its topics. */
export async function startHubBroker(opts: HubBrokerOptions): Promise<HubBroker> {
  const host = opts.host ?? "127.0.0.1";
  const log = opts.logger.child({ component: "hub-broker" });
  const principals = new WeakMap<Client, Principal>();
  const broker = await Aedes.createBroker({
    // A gateway that stops reading must not stall delivery to everyone else.
    drainTimeout: 10_000,
    authenticate(client, username, password, done) {
      void authenticate(opts.registry.current(), opts.serviceSecret, username, password?.toString("utf8") ?? "").then((who) => {
        if (!who) {
          log.warn({ clientId: client.id, username }, "broker login refused: unknown gateway or wrong secret");
          const error = Object.assign(new Error("bad user name or password"), { returnCode: BAD_CREDENTIALS }) as AuthenticateError;
          return done(error, false);
        }
        principals.set(client, who);
        done(null, true);
      });
    },
    authorizePublish(client, packet, callback) {
      const who = client ? principals.get(client) : { role: "hub" as const }; // null client: the broker itself
      if (who && mayPublish(who, packet.topic)) return callback(null);
      log.warn({ clientId: client?.id, topic: packet.topic.slice(0, 256) }, "broker publish refused by ACL");
      callback(new Error(`not allowed to publish to ${packet.topic.slice(0, 256)}`));
    },
    authorizeSubscribe(client, subscription, callback) {
      const who = principals.get(client);
      if (who && maySubscribe(who, subscription.topic)) return callback(null, subscription);
      log.warn({ clientId: client.id, topic: subscription.topic.slice(0, 256) }, "broker subscription refused by ACL");
      callback(null, null);
    },
  });
  const servers: Server[] = [createTcpServer(broker.handle)];
  if (opts.tls) servers.push(createTlsServer({ cert: readFileSync(opts.tls.cert), key: readFileSync(opts.tls.key) }, broker.handle));
  const ports = [opts.port, ...(opts.tls ? [opts.tls.port] : [])];
  try {
    await Promise.all(
      servers.map(
        (server, i) =>
          new Promise<void>((resolve, reject) => {
            server.once("error", reject);
            server.listen(ports[i], host, () => resolve());
          }),
      ),
    );
  } catch (e) {
    for (const s of servers) s.close();
    await new Promise<void>((r) => broker.close(() => r()));
    throw new Error(`hub broker could not listen on ${host}:${ports.join("/")}: ${(e as Error).message}; choose a free port`);
  }
  log.info({ host, ports }, "hub broker listening");
  return {
    async close() {
      // The broker first: it disconnects clients, which lets the listeners finish closing.
      await new Promise<void>((r) => broker.close(() => r()));
      await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    },
  };
}
