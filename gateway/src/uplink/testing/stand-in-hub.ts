import { createServer, type Server } from "node:net";
import {
  type BatchAck,
  GENESIS_HASH,
  type GatewayConfig,
  gatewayTopics,
  loadPublicKey,
  openBatch,
  Reading,
  readingFromRow,
} from "@supervision/firmware-protocols";
import { freePort } from "@supervision/test-support";
import { Aedes } from "aedes";

export interface StandInHub {
  readonly url: string;
  readonly port: number;
  /** Distinct readings received, in arrival order. */
  readings(): Reading[];
  /** Readings that arrived again in a batch with a new sequence number: a real duplicate, not a replay. */
  duplicates(): number;
  batches(): number;
  /** When each sending of batch `seq` arrived (ms since the epoch), resends included. */
  arrivals(seq: number): number[];
  /** The envelope version of each distinct batch, by seq. */
  versions(): Map<number, number>;
  /** Chain breaks seen: a batch whose prevHash is not the hash of the batch before it. */
  chainBreaks(): number;
  publishConfig(config: GatewayConfig): Promise<void>;
  setAcking(on: boolean): void;
  /** Closes the broker (an outage); restart() listens on the same port again. */
  stop(): Promise<void>;
  restart(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A hub for gateway tests: an aedes broker on a free port that verifies each batch's signature and chain and
 * acknowledges it as stored, as the real hub does once InfluxDB has the points.
 */
export async function startStandInHub(opts: { publicKeyPem: string; gatewayId: string }): Promise<StandInHub> {
  const key = loadPublicKey(opts.publicKeyPem);
  const port = await freePort();
  const byIdentity = new Map<string, Reading>();
  const hashes = new Map<number, string>();
  const versions = new Map<number, number>();
  const arrivals = new Map<number, number[]>();
  let duplicates = 0;
  let chainBreaks = 0;
  let acking = true;
  let broker: Aedes;
  let server: Server | undefined;

  const onBatch = (wire: Buffer) => {
    const opened = openBatch(opts.gatewayId, wire, () => key);
    if (!opened.ok) return;
    const { body, hash } = opened.value;
    arrivals.set(body.seq, [...(arrivals.get(body.seq) ?? []), Date.now()]);
    if (!hashes.has(body.seq)) {
      const expected = body.seq === 1 ? GENESIS_HASH : hashes.get(body.seq - 1);
      if (expected !== undefined && expected !== body.prevHash) chainBreaks++;
      hashes.set(body.seq, hash);
      versions.set(body.seq, body.v);
      for (const sent of body.readings) {
        // A v2 row stands for its reading (PROTOCOL.md 4.2).
        const raw = body.v === 1 ? { ok: true as const, value: sent } : readingFromRow(sent, body.layout);
        // A reading without its identity cannot be counted; the uplink tests send none.
        const parsed = Reading.safeParse(raw.ok ? raw.value : undefined);
        if (!parsed.success) continue;
        const r = parsed.data;
        const id = `${r.deviceId}#${r.seq}#${r.ts}`;
        if (byIdentity.has(id)) duplicates++;
        else byIdentity.set(id, r);
      }
    }
    if (!acking) return;
    const ack: BatchAck = { v: 1, gatewayId: body.gatewayId, epoch: body.epoch, seq: body.seq, hash, status: "stored" };
    broker.publish(
      {
        cmd: "publish",
        topic: gatewayTopics.ack(opts.gatewayId),
        payload: Buffer.from(JSON.stringify(ack)),
        qos: 1,
        retain: false,
        dup: false,
      },
      () => undefined,
    );
  };

  const listen = async () => {
    broker = await Aedes.createBroker();
    broker.on("publish", (packet, client) => {
      if (client && packet.topic === gatewayTopics.batch(opts.gatewayId)) onBatch(packet.payload as Buffer);
    });
    server = createServer(broker.handle);
    await new Promise<void>((resolve, reject) => {
      server!.once("error", reject);
      server!.listen(port, "127.0.0.1", () => resolve());
    });
  };
  const stop = async () => {
    if (!server) return;
    const s = server;
    server = undefined;
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  await listen();

  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    readings: () => [...byIdentity.values()],
    duplicates: () => duplicates,
    batches: () => hashes.size,
    arrivals: (seq) => [...(arrivals.get(seq) ?? [])],
    versions: () => new Map(versions),
    chainBreaks: () => chainBreaks,
    publishConfig: (config) =>
      new Promise((resolve, reject) =>
        broker.publish(
          {
            cmd: "publish",
            topic: gatewayTopics.config(opts.gatewayId),
            payload: Buffer.from(JSON.stringify(config)),
            qos: 1,
            retain: true,
            dup: false,
          },
          (error?: Error | null) => (error ? reject(error) : resolve()),
        ),
      ),
    setAcking(on) {
      acking = on;
    },
    stop,
    restart: listen,
    close: stop,
  };
}
