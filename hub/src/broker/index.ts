import { readFileSync } from "node:fs";
import { createServer as createTcpServer, type Server } from "node:net";
import { createServer as createTlsServer, TLSSocket } from "node:tls";
import { Aedes, type AuthenticateError, type Client } from "aedes";
import type { Logger } from "pino";
import { Counter, type Registry as MetricsRegistry } from "prom-client";
import type { RegistryView } from "../controller/extension.ts";
import { authenticate, mayPublish, maySubscribe, type Principal } from "./acl.ts";

export interface HubBrokerOptions {
  port: number;
  host?: string;
  /**
   * PEM files: the listener on `port` speaks MQTTS (the hub's own clients then use a loopback listener of their own).
   * `clientCa`: every client of that listener must present a certificate signed by this CA, whose common name is
   * the identity it logs in as (its gateway id).
   */
  tls?: { cert: string; key: string; clientCa?: string };
  registry: RegistryView;
  logger: Logger;
  /** Password of the hub's own service client (username "hub"); without it nobody may log in as the hub. */
  serviceSecret?: string;
  /** Where `hub_broker_refusals_total{code}` is registered (the hub's /metrics). */
  metrics?: MetricsRegistry;
}

export interface HubBroker {
  /** Where the hub's own clients connect: the listener itself, or a plain loopback one when the listener speaks TLS. */
  readonly internalUrl: string;
  close(): Promise<void>;
}

/** Stable codes of what the broker refuses: in its log lines (`code`) and in `hub_broker_refusals_total{code}`. */
export const BROKER_REFUSALS = {
  login: "broker_login_refused",
  publish: "broker_publish_refused",
  subscribe: "broker_subscribe_refused",
} as const;

/** MQTT CONNACK return code 4: bad user name or password. */
const BAD_CREDENTIALS = 4;
/** MQTT CONNACK return code 5: not authorized. */
const NOT_AUTHORIZED = 5;

/**
 * On a listener that requires client certificates (the TLS handshake already checked the CA): the certificate must
 * name the identity that logs in, so one gateway's certificate does not open another gateway's account. Connections
 * of the hub's own loopback listener are not TLS and need no certificate.
 */
function clientCertificateProblem(client: Client, username: string | undefined): string | undefined {
  const socket = client.conn as unknown;
  if (!(socket instanceof TLSSocket)) return undefined;
  if (!socket.authorized) return `no valid client certificate (${String(socket.authorizationError ?? "none presented")})`;
  const commonName = socket.getPeerCertificate().subject?.CN;
  const name = Array.isArray(commonName) ? commonName.join(",") : commonName;
  if (name !== username) return `client certificate is for "${String(name).slice(0, 64)}", not "${String(username).slice(0, 64)}"`;
  return undefined;
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      const address = server.address();
      resolve(typeof address === "object" && address ? address.port : port);
    });
  });
}

/** The embedded broker gateways connect to; authenticates gateways against the registry and confines each to its topics. */
export async function startHubBroker(opts: HubBrokerOptions): Promise<HubBroker> {
  const host = opts.host ?? "127.0.0.1";
  const log = opts.logger.child({ component: "hub-broker" });
  const refusals = new Counter({
    name: "hub_broker_refusals_total",
    help: "Logins, publishes and subscriptions the hub broker refused, by code",
    labelNames: ["code"] as const,
    registers: opts.metrics ? [opts.metrics] : [],
  });
  const principals = new WeakMap<Client, Principal>();
  const who = (p: Principal | undefined) => (p === undefined ? undefined : p.role === "hub" ? "hub" : p.gatewayId);
  // The files first: a missing one is named as such (not as a port problem), before anything runs.
  let tlsOptions: { cert: Buffer; key: Buffer; ca?: Buffer; requestCert?: boolean; rejectUnauthorized?: boolean } | undefined;
  if (opts.tls) {
    try {
      tlsOptions = { cert: readFileSync(opts.tls.cert), key: readFileSync(opts.tls.key) };
    } catch (e) {
      throw new Error(`cannot read broker.tls.certFile/keyFile (${(e as Error).message}); give readable PEM files`);
    }
    if (opts.tls.clientCa) {
      try {
        tlsOptions = { ...tlsOptions, ca: readFileSync(opts.tls.clientCa), requestCert: true, rejectUnauthorized: true };
      } catch (e) {
        throw new Error(
          `cannot read broker.tls.clientCaFile (${(e as Error).message}); give the readable PEM file of the CA that signs the gateways' certificates`,
        );
      }
    }
  }
  const broker = await Aedes.createBroker({
    // A gateway that stops reading must not stall delivery to everyone else.
    drainTimeout: 10_000,
    authenticate(client, username, password, done) {
      const certificateProblem = opts.tls?.clientCa ? clientCertificateProblem(client, username) : undefined;
      if (certificateProblem) {
        refusals.inc({ code: BROKER_REFUSALS.login });
        log.warn(
          { code: BROKER_REFUSALS.login, clientId: client.id, username: username?.slice(0, 64) },
          `broker login refused: ${certificateProblem}`,
        );
        return done(Object.assign(new Error("not authorized"), { returnCode: NOT_AUTHORIZED }) as AuthenticateError, false);
      }
      void authenticate(opts.registry.current(), opts.serviceSecret, username, password?.toString("utf8") ?? "").then((principal) => {
        if (!principal) {
          refusals.inc({ code: BROKER_REFUSALS.login });
          log.warn(
            { code: BROKER_REFUSALS.login, clientId: client.id, username: username?.slice(0, 64) },
            "broker login refused: unknown gateway or wrong secret",
          );
          const error = Object.assign(new Error("bad user name or password"), { returnCode: BAD_CREDENTIALS }) as AuthenticateError;
          return done(error, false);
        }
        principals.set(client, principal);
        done(null, true);
      });
    },
    authorizePublish(client, packet, callback) {
      if (!client) return callback(null); // the broker itself ($SYS)
      const principal = principals.get(client);
      if (principal && mayPublish(principal, packet.topic)) return callback(null);
      refusals.inc({ code: BROKER_REFUSALS.publish });
      log.warn(
        { code: BROKER_REFUSALS.publish, clientId: client.id, who: who(principal), topic: packet.topic.slice(0, 256) },
        "broker publish refused by ACL: not this identity's topic",
      );
      callback(new Error(`not allowed to publish to ${packet.topic.slice(0, 256)}`));
    },
    authorizeSubscribe(client, subscription, callback) {
      const principal = principals.get(client);
      if (principal && maySubscribe(principal, subscription.topic)) return callback(null, subscription);
      refusals.inc({ code: BROKER_REFUSALS.subscribe });
      log.warn(
        { code: BROKER_REFUSALS.subscribe, clientId: client.id, who: who(principal), topic: subscription.topic.slice(0, 256) },
        "broker subscription refused by ACL: not this identity's topic",
      );
      callback(null, null);
    },
  });
  // One listener on `port`: plain, or TLS (not both on one port). With TLS the hub's own clients get a plain
  // listener on a free loopback port, so they need neither the certificate nor a name it is valid for.
  const servers: Server[] = [];
  let internalUrl: string;
  try {
    if (tlsOptions) {
      servers.push(createTlsServer(tlsOptions, broker.handle));
      await listen(servers[0]!, opts.port, host);
      servers.push(createTcpServer(broker.handle));
      internalUrl = `mqtt://127.0.0.1:${await listen(servers[1]!, 0, "127.0.0.1")}`;
    } else {
      servers.push(createTcpServer(broker.handle));
      const port = await listen(servers[0]!, opts.port, host);
      internalUrl = `mqtt://${host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host}:${port}`;
    }
  } catch (e) {
    for (const s of servers) s.close();
    await new Promise<void>((r) => broker.close(() => r()));
    throw new Error(`hub broker could not listen on ${host}:${opts.port}: ${(e as Error).message}; choose a free port (broker.port)`);
  }
  log.info(
    { host, port: opts.port, tls: opts.tls !== undefined, clientCertificates: opts.tls?.clientCa !== undefined },
    "hub broker listening",
  );
  return {
    internalUrl,
    async close() {
      // The broker first: it disconnects clients, which lets the listeners finish closing.
      await new Promise<void>((r) => broker.close(() => r()));
      await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    },
  };
}
