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

describe("replays change nothing", () => {
  it("a reading arriving again keeps its first receive time; a replayed batch is acknowledged without a write", async () => {
    const { registry, privateKeyPem } = testRegistry();
    const ctx = testContext(registry, influx.url, "replay");
    await ensureDatabase(ctx.influx, "replay", ctx.logger);
    const ingest = createIngestExtension({ brokerUrl: broker.url, shareGroup: "hub" });
    await ingest.start(ctx);
    const gateway = await TestGateway.connect(broker.url, "gw1", privateKeyPem);
    try {
      const t = Date.now() - 600_000;
      const first = rating(1, t); // rxTs t + 5
      const b1 = gateway.next([first]);
      await gateway.send(b1.wire);
      await gateway.waitForAck((a) => a.seq === 1);
      // The device sends it again after its gateway forgot it: a new batch, a later receive time.
      const b2 = gateway.next([{ ...first, rxTs: t + 300_000 }, rating(2, t + 1000)]);
      await gateway.send(b2.wire);
      await gateway.waitForAck((a) => a.seq === 2);
      const rows = await influx.query(`SELECT "seq", "rx_ts", "rated" FROM "rating" ORDER BY time`, "replay");
      expect(rows.results[0]?.series?.[0]?.values.map((v) => [v[1], v[2], v[3]])).toEqual([
        [1, t + 5, 1],
        [2, t + 1005, 1],
      ]);

      const writes = (ingest.status() as { writes: number }).writes;
      gateway.acks.length = 0;
      await gateway.send(b1.wire);
      await gateway.send(b2.wire);
      await waitFor(() => (gateway.acks.length === 2 ? true : undefined), 20_000, "two replay acks");
      expect(gateway.acks.map((a) => [a.seq, a.status, a.hash])).toEqual([
        [1, "stored", b1.hash],
        [2, "stored", b2.hash],
      ]);
      expect(ingest.status()).toMatchObject({ writes, replaysAcknowledged: 2, batchesStored: 2 });
    } finally {
      await gateway.close();
      await ingest.stop();
    }
  }, 60_000);
});
