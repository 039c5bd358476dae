import type { Reading } from "@supervision/firmware-protocols";
import { startInfluxd, type TestInfluxd } from "@supervision/test-support";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLineWriter } from "../src/influx/line-writer.ts";
import { writePointsIsolating } from "../src/influx/isolating-write.ts";
import { ensureDatabase } from "../src/influx/setup.ts";
import { createIngestExtension } from "../src/ingest/index.ts";
import { LineGroups, PointWriter } from "../src/ingest/writer.ts";
import { rating, startMosquitto, TestGateway, testContext, testRegistry, waitFor } from "./ingest-fixtures.ts";

let influx: TestInfluxd;
let broker: Awaited<ReturnType<typeof startMosquitto>>;

beforeAll(async () => {
  [influx, broker] = await Promise.all([startInfluxd(), startMosquitto()]);
}, 60_000);
afterAll(async () => {
  await Promise.all([influx?.close(), broker?.close()]);
});

const DAY = 86_400_000;

const heartbeat = (seq: number, ts: number, extra: Partial<Record<string, unknown>> = {}): Reading =>
  ({ kind: "heartbeat", v: 1, deviceId: "kp1", seq, ts, rxTs: ts + 5, intervalS: 60, uptimeS: seq * 60, ...extra }) as Reading;

async function rows(database: string, q: string): Promise<Array<Record<string, unknown>>> {
  const res = await influx.query(q, database);
  const series = res.results[0]?.series ?? [];
  return series.flatMap((s) => s.values.map((v) => ({ ...s.tags, ...Object.fromEntries(s.columns.map((c, i) => [c, v[i]])) })));
}

async function startHub(database: string) {
  const { registry, privateKeyPem } = testRegistry();
  const ctx = testContext(registry, influx.url, database);
  await ensureDatabase(ctx.influx, database, ctx.logger);
  const ingest = createIngestExtension({ brokerUrl: broker.url, shareGroup: "hub" });
  await ingest.start(ctx);
  const gateway = await TestGateway.connect(broker.url, "gw1", privateKeyPem);
  return { ctx, ingest, gateway, privateKeyPem };
}

describe("ingest: points InfluxDB can never store", () => {
  it("stores a signed batch's ordinary readings, dead-letters the one beyond retention, and acknowledges", async () => {
    const database = "retention";
    const { ctx, ingest, gateway } = await startHub(database);
    try {
      const now = Date.now();
      const staleRating = rating(2, now - 1200 * DAY); // raw keeps 1095 days
      const staleHeartbeat = heartbeat(11, now - 40 * DAY); // health keeps 30 days
      const b1 = gateway.next([rating(1, now - 60_000), staleRating, rating(3, now - 50_000), heartbeat(10, now - 40_000), staleHeartbeat]);
      await gateway.send(b1.wire);
      expect(await gateway.waitForAck((a) => a.seq === 1)).toMatchObject({ status: "stored", hash: b1.hash });

      expect((await rows(database, `SELECT "seq" FROM "raw"."rating"`)).map((r) => r.seq)).toEqual([1, 3]);
      expect((await rows(database, `SELECT "seq" FROM "health"."heartbeat"`)).map((r) => r.seq)).toEqual([10]);
      const letters = await rows(database, `SELECT * FROM "raw"."dead_letter" GROUP BY *`);
      expect(letters).toHaveLength(2);
      for (const letter of letters)
        expect(letter).toMatchObject({ gateway: "gw1", reason: "beyond_retention", source: "batch", epoch: b1.body.epoch, batch_seq: 1 });
      expect(letters.map((l) => [l.measurement, l.policy]).sort()).toEqual([
        ["heartbeat", "health"],
        ["rating", "raw"],
      ]);
      expect(letters.find((l) => l.measurement === "rating")?.line).toMatch(new RegExp(` seq=2,.* ${staleRating.ts}000002$`));

      const alerts = await rows(database, `SELECT "detail" FROM "raw"."integrity_alert" WHERE "kind" = 'dead_letter' GROUP BY *`);
      expect(alerts).toHaveLength(1);
      expect(alerts[0]?.detail).toContain("2 point(s)");
      expect(alerts[0]?.detail).toContain("2 beyond_retention");
      expect(ingest.status()).toMatchObject({ batchesStored: 1, readingsStored: 3, deadLetters: { beyond_retention: 2 }, influx: "up" });
      const metric = await ctx.metrics.getSingleMetricAsString("hub_ingest_dead_letters_total");
      expect(metric).toContain('hub_ingest_dead_letters_total{reason="beyond_retention",source="batch"} 2');
      expect(await ctx.metrics.getSingleMetricAsString("hub_ingest_integrity_alerts_total")).toContain(
        'hub_ingest_integrity_alerts_total{kind="dead_letter"} 1',
      );

      // Nothing is held back: the next batch flows at once, and a replay of the first rewrites the same points.
      const b2 = gateway.next([rating(4, now - 30_000)]);
      await gateway.send(b2.wire);
      expect(await gateway.waitForAck((a) => a.seq === 2)).toMatchObject({ status: "stored" });
      await gateway.send(b1.wire);
      await waitFor(() => (gateway.acks.filter((a) => a.seq === 1).length === 2 ? true : undefined), 20_000, "replay ack");
      expect(await rows(database, `SELECT * FROM "raw"."dead_letter" GROUP BY *`)).toHaveLength(2);
      expect((await rows(database, `SELECT "seq" FROM "raw"."rating"`)).map((r) => r.seq)).toEqual([1, 3, 4]);
    } finally {
      await gateway.close();
      await ingest.stop();
    }
  }, 60_000);

  it("isolates a point whose field type conflicts with the stored one and stores the rest of the batch", async () => {
    const database = "conflict";
    const { ctx, ingest, gateway } = await startHub(database);
    try {
      const now = Date.now();
      // Someone wrote fw as a number before: a heartbeat's fw (a string) can never be stored in this database.
      await ctx.writeLines(`heartbeat,device=old fw=3 ${now - 100_000}000000`, "health", 5_000);
      const readings = [
        heartbeat(1, now - 60_000),
        heartbeat(2, now - 59_000, { fw: "1.2.0" }),
        rating(3, now - 58_000),
        heartbeat(4, now - 57_000),
      ];
      const b1 = gateway.next(readings);
      await gateway.send(b1.wire);
      expect(await gateway.waitForAck((a) => a.seq === 1)).toMatchObject({ status: "stored" });
      expect((await rows(database, `SELECT "seq" FROM "health"."heartbeat" WHERE "device" = 'kp1'`)).map((r) => r.seq)).toEqual([1, 4]);
      expect(await rows(database, `SELECT "seq" FROM "raw"."rating"`)).toHaveLength(1);
      const letters = await rows(database, `SELECT * FROM "raw"."dead_letter" GROUP BY *`);
      expect(letters).toHaveLength(1);
      expect(letters[0]).toMatchObject({ reason: "field_type_conflict", measurement: "heartbeat", policy: "health", batch_seq: 1 });
      expect(String(letters[0]?.detail)).toMatch(/field type conflict/);
      expect(ingest.status()).toMatchObject({ readingsStored: 3, deadLetters: { field_type_conflict: 1 } });
    } finally {
      await gateway.close();
      await ingest.stop();
    }
  }, 60_000);
});

describe("PointWriter against a real influxd", () => {
  it("finds the points influxd refuses by its own answer when it is not told the retention (partial writes)", async () => {
    const database = "bisect";
    const ctx = testContext(testRegistry().registry, influx.url, database);
    await ensureDatabase(ctx.influx, database, ctx.logger);
    const letters: string[] = [];
    const writer = new PointWriter({
      write: createLineWriter({ url: influx.url, database }),
      logger: pino({ level: "silent" }),
      batchPoints: 1000,
      onDeadLetter: (l) => letters.push(`${l.reason}:${l.line.split(" ")[1]}`),
    });
    try {
      const now = Date.now();
      const units = [0, 1, 2].map((u) => {
        const groups = new LineGroups({ source: "rules" });
        for (let i = 0; i < 20; i++) {
          const stale = u === 1 && (i === 3 || i === 17);
          groups.add("health", `probe,unit=${u} n=${i} ${stale ? now - 31 * DAY : now - i * 1000}000000`);
        }
        groups.add("raw", `probe,unit=${u} bad=${u === 2 ? '"text"' : 1} ${now}000000`);
        return writer.write(groups);
      });
      const outcomes = await Promise.all(units);
      expect(outcomes.map((o) => o.deadLetters.map((l) => l.reason))).toEqual([
        [],
        ["beyond_retention", "beyond_retention"],
        ["field_type_conflict"],
      ]);
      expect(letters.sort()).toEqual(["beyond_retention:n=17", "beyond_retention:n=3", 'field_type_conflict:bad="text"']);
      const stored = await rows(database, `SELECT count("n") FROM "health"."probe"`);
      expect(stored[0]?.count).toBe(58);
      expect(await rows(database, `SELECT * FROM "raw"."dead_letter" GROUP BY *`)).toHaveLength(3);
    } finally {
      await writer.stop();
    }
  }, 60_000);
});

describe("the rules' own writes", () => {
  it("keep a point InfluxDB refuses as a dead letter and store the rest of the run's points", async () => {
    const database = "rules";
    const ctx = testContext(testRegistry().registry, influx.url, database);
    await ensureDatabase(ctx.influx, database, ctx.logger);
    const now = Date.now();
    await ctx.influx.writePoints(
      [{ measurement: "deduction", tags: { site: "hall1" }, fields: { reason: "old" }, timestamp: `${now - 5000}000000` }],
      {
        precision: "n",
      },
    );
    const points = [1, 2, 3, 4].map((i) => ({
      measurement: "deduction",
      tags: { site: "hall1", rule: `r${i}` },
      fields: { points: -i, reason: i === 3 ? 42 : "late" }, // reason 42: a number where a string is stored
      timestamp: `${now - i * 1000}000000`,
    }));
    points.push({
      measurement: "deduction",
      tags: { site: "hall1", rule: "ancient" },
      fields: { points: -1, reason: "x" },
      timestamp: `${now - 1200 * DAY}000000`,
    });
    const letters = await writePointsIsolating(ctx.influx, points, {
      retentionPolicy: "raw",
      context: { source: "rules" },
      logger: ctx.logger,
      metrics: ctx.metrics,
    });
    expect(letters.map((l) => l.reason).sort()).toEqual(["beyond_retention", "field_type_conflict"]);
    expect((await rows(database, `SELECT "points" FROM "raw"."deduction" WHERE "rule" =~ /^r/`)).map((r) => r.points)).toEqual([
      -4, -2, -1,
    ]);
    const stored = await rows(database, `SELECT * FROM "raw"."dead_letter" GROUP BY *`);
    expect(stored.map((l) => [l.source, l.reason, l.measurement]).sort()).toEqual([
      ["rules", "beyond_retention", "deduction"],
      ["rules", "field_type_conflict", "deduction"],
    ]);
    expect(await ctx.metrics.getSingleMetricAsString("hub_ingest_dead_letters_total")).toContain(
      'hub_ingest_dead_letters_total{reason="field_type_conflict",source="rules"} 1',
    );
  }, 60_000);
});

describe("ingest metrics", () => {
  it("report InfluxDB up from the start and count every integrity alert kind, once (not on replays)", async () => {
    const database = "counters";
    const { ctx, ingest, gateway, privateKeyPem } = await startHub(database);
    const again = await TestGateway.connect(broker.url, "gw1", privateKeyPem);
    try {
      expect(await ctx.metrics.getSingleMetricAsString("hub_ingest_influx_up")).toMatch(/^hub_ingest_influx_up 1$/m);
      const now = Date.now();
      const b1 = gateway.next([
        rating(1, now - 5000),
        { ...rating(2, now - 4000), deviceId: "stranger" },
        { ...rating(3, now - 3000), level: "delighted" },
      ]);
      await gateway.send(b1.wire);
      await gateway.waitForAck((a) => a.seq === 1);
      await gateway.send(b1.wire); // a replay raises nothing new
      await waitFor(() => (gateway.acks.filter((a) => a.seq === 1).length === 2 ? true : undefined), 20_000, "replay ack");
      // The same gateway on a new chain (a reinstalled gateway): chain_restart.
      const b2 = again.next([rating(10, now - 2000)]);
      await again.send(b2.wire);
      await again.waitForAck((a) => a.seq === 1 && a.epoch === again.epoch);
      const text = await ctx.metrics.getSingleMetricAsString("hub_ingest_integrity_alerts_total");
      expect(text).toContain('hub_ingest_integrity_alerts_total{kind="malformed"} 1');
      expect(text).toContain('hub_ingest_integrity_alerts_total{kind="unknown_device"} 1');
      expect(text).toContain('hub_ingest_integrity_alerts_total{kind="chain_restart"} 1');
      expect(ingest.status()).toMatchObject({ readingsStored: 3, replaysAcknowledged: 1 });
    } finally {
      await again.close();
      await gateway.close();
      await ingest.stop();
    }
  }, 60_000);
});
