import { generateGatewayKeys } from "@supervision/firmware-protocols";
import { startInfluxd, type TestInfluxd } from "@supervision/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureDatabase } from "../src/influx/setup.ts";
import { createIngestExtension } from "../src/ingest/index.ts";
import { rating, startMosquitto, TestGateway, testContext, testRegistry, waitFor } from "./ingest-fixtures.ts";

let influx: TestInfluxd;
let broker: Awaited<ReturnType<typeof startMosquitto>>;

beforeAll(async () => {
  [influx, broker] = await Promise.all([startInfluxd(), startMosquitto()]);
}, 60_000);
afterAll(async () => {
  await Promise.all([influx?.close(), broker?.close()]);
});

const ratingCount = async (database: string) => {
  const res = await influx.query(`SELECT count("seq") FROM "rating"`, database);
  return Number(res.results[0]?.series?.[0]?.values?.[0]?.[1] ?? 0);
};

describe("ingest resilience", () => {
  it("stops acknowledging while InfluxDB is down and stores everything once it is back", async () => {
    const { registry, privateKeyPem } = testRegistry();
    const ctx = testContext(registry, influx.url, "outage");
    await ensureDatabase(ctx.influx, "outage", ctx.logger);
    const ingest = createIngestExtension({ brokerUrl: broker.url, shareGroup: "hub" });
    await ingest.start(ctx);
    const gateway = await TestGateway.connect(broker.url, "gw1", privateKeyPem);
    try {
      const t = Date.now() - 60_000;
      const b1 = gateway.next([rating(1, t)]);
      await gateway.send(b1.wire);
      await gateway.waitForAck((a) => a.seq === 1);

      await influx.server.kill();
      const later = [2, 3, 4].map((seq) => gateway.next([rating(seq * 10, t + seq), rating(seq * 10 + 1, t + seq)]));
      for (const b of later) await gateway.send(b.wire);
      await waitFor(() => (ingest.status().influx === "down" ? true : undefined), 15_000, "influx reported down");
      await new Promise((r) => setTimeout(r, 1500));
      expect(gateway.acks.map((a) => a.seq)).toEqual([1]);

      await influx.server.start();
      for (const b of later)
        expect(await gateway.waitForAck((a) => a.seq === b.body.seq, 30_000)).toMatchObject({ status: "stored", hash: b.hash });
      expect(await ratingCount("outage")).toBe(7);
      expect(ingest.status()).toMatchObject({ influx: "up", batchesStored: 4, readingsStored: 7 });
    } finally {
      await gateway.close();
      await ingest.stop();
    }
  }, 60_000);

  it("two hub copies on one mosquitto share the traffic ($share) with nothing lost or doubled", async () => {
    const { registry, privateKeyPem } = testRegistry();
    const extraKeys = ["gw2", "gw3"].map((id) => {
      const keys = generateGatewayKeys();
      registry.gateways.set(id, { id, site: "hall1", publicKey: keys.publicKeyPem });
      return { id, privateKeyPem: keys.privateKeyPem };
    });
    const database = "shared";
    const copies = [0, 1].map(() => ({ ctx: testContext(registry, influx.url, database) }));
    await ensureDatabase(copies[0]!.ctx.influx, database, copies[0]!.ctx.logger);
    await ensureDatabase(copies[1]!.ctx.influx, database, copies[1]!.ctx.logger); // a second copy starting runs setup again
    const hubs = copies.map((c, i) => ({
      ...c,
      ingest: createIngestExtension({ brokerUrl: broker.url, clientId: `hub-copy-${i}`, writeBatchPoints: 500 }),
    }));
    for (const h of hubs) await h.ingest.start(h.ctx);
    const gateways = await Promise.all(
      [{ id: "gw1", privateKeyPem }, ...extraKeys].map((g) => TestGateway.connect(broker.url, g.id, g.privateKeyPem)),
    );
    try {
      const t = Date.now() - 3_600_000;
      const BATCHES = 20;
      const PER_BATCH = 50;
      await Promise.all(
        gateways.map(async (gw, g) => {
          for (let b = 0; b < BATCHES; b++) {
            const readings = Array.from({ length: PER_BATCH }, (_, i) => {
              const seq = b * PER_BATCH + i;
              return rating(seq, t + seq * 10, { deviceId: `kp-${g}` });
            });
            await gw.send(gw.next(readings).wire);
          }
        }),
      );
      for (const gw of gateways) await waitFor(() => (gw.acks.length >= BATCHES ? true : undefined), 30_000, `acks of ${gw.gatewayId}`);
      await new Promise((r) => setTimeout(r, 500));
      for (const gw of gateways) {
        expect(gw.acks.map((a) => a.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: BATCHES }, (_, i) => i + 1));
        expect(gw.acks.every((a) => a.status === "stored")).toBe(true);
      }
      expect(await ratingCount(database)).toBe(gateways.length * BATCHES * PER_BATCH);
      const stored = hubs.map((h) => h.ingest.status() as { batchesStored: number; replaysAcknowledged: number });
      expect(stored.every((s) => s.batchesStored > 0)).toBe(true);
      expect(stored.reduce((n, s) => n + s.batchesStored, 0)).toBe(gateways.length * BATCHES);
      expect(stored.reduce((n, s) => n + s.replaysAcknowledged, 0)).toBe(0);
    } finally {
      await Promise.all(gateways.map((g) => g.close()));
      for (const h of hubs) await h.ingest.stop();
    }
  }, 60_000);
});
