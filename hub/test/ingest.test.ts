import { randomBytes } from "node:crypto";
import { type BatchAck, gatewayTopics, readingRow } from "@supervision/firmware-protocols";
import { startInfluxd, type TestInfluxd } from "@supervision/test-support";
import mqtt from "mqtt";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { HubContext, HubExtension } from "../src/controller/extension.ts";
import { ensureDatabase } from "../src/influx/setup.ts";
import { createIngestExtension, type IngestOptions } from "../src/ingest/index.ts";
import { dumpDatabase, rating, startMosquitto, TestGateway, testContext, testRegistry, waitFor } from "./ingest-fixtures.ts";

let influx: TestInfluxd;
let broker: Awaited<ReturnType<typeof startMosquitto>>;
const cleanups: Array<() => Promise<void>> = [];
let dbCounter = 0;

beforeAll(async () => {
  [influx, broker] = await Promise.all([startInfluxd(), startMosquitto()]);
}, 60_000);
afterAll(async () => {
  await Promise.all([influx?.close(), broker?.close()]);
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function startHub(extra: Partial<IngestOptions> = {}) {
  const fixture = testRegistry();
  const database = `ingest_${++dbCounter}`;
  const ctx = testContext(fixture.registry, influx.url, database);
  await ensureDatabase(ctx.influx, database, ctx.logger);
  const ingest = createIngestExtension({ brokerUrl: broker.url, shareGroup: "", ...extra });
  await ingest.start(ctx);
  cleanups.push(() => ingest.stop());
  const gateway = await TestGateway.connect(broker.url, "gw1", fixture.privateKeyPem);
  cleanups.push(() => gateway.close());
  return { ...fixture, ctx, database, ingest, gateway };
}

/** Points of a measurement ("raw" policy unless `policy` says otherwise). */
const count = async (database: string, measurement: string, where = "", policy = "raw") => {
  const res = await influx.query(`SELECT count(*) FROM "${policy}"."${measurement}" ${where}`, database);
  const values = res.results[0]?.series?.[0]?.values?.[0] ?? [];
  return Math.max(0, ...values.slice(1).map(Number));
};
const alerts = async (database: string) => {
  const res = await influx.query(`SELECT "kind", "seq", "detail" FROM "integrity_alert"`, database);
  return (res.results[0]?.series?.[0]?.values ?? []).map(([, kind, seq, detail]) => ({ kind, seq, detail }));
};
const storedAck = (seq: number) => (a: BatchAck) => a.seq === seq && a.status === "stored";

describe("ingest: signed batches into InfluxDB", () => {
  it("acks only stored batches; replayed, reordered and duplicated batches leave InfluxDB exactly as before", async () => {
    const { gateway, database, ingest, ctx } = await startHub();
    const stored: Array<{ gatewayId: string; count: number }> = [];
    ctx.events.on("stored", (e) => stored.push(e));
    const t = Date.now() - 60_000;
    // Two readings of one device in the same millisecond, then more.
    const b1 = gateway.next([rating(1, t), rating(2, t)]);
    const b2 = gateway.next([rating(3, t + 1000), rating(4, t + 2000, { level: "dissatisfied", key: 4 })]);
    const b3 = gateway.next([rating(5, t + 3000)]);
    for (const b of [b1, b2, b3]) {
      await gateway.send(b.wire);
      const ack = await gateway.waitForAck(storedAck(b.body.seq));
      expect(ack.hash).toBe(b.hash);
      // The ack comes after the write: the readings are queryable the moment it arrives.
      expect(await count(database, "rating", `WHERE time <= ${b.body.readings.at(-1)?.ts}ms + 1s`)).toBeGreaterThanOrEqual(
        b.body.readings.at(-1)?.seq as number,
      );
    }
    expect(await count(database, "rating")).toBe(5);
    expect(await count(database, "uplink_batch")).toBe(3);
    expect(stored.reduce((n, e) => n + e.count, 0)).toBe(5);
    const before = await dumpDatabase(influx, database);

    gateway.acks.length = 0;
    for (const b of [b3, b1, b2, b2, b1]) await gateway.send(b.wire);
    await waitFor(() => (gateway.acks.filter((a) => a.status === "stored").length === 5 ? true : undefined), 20_000, "five replay acks");
    expect(gateway.acks.every((a) => a.status === "stored")).toBe(true);
    expect(await dumpDatabase(influx, database)).toBe(before);
    expect(await alerts(database)).toEqual([]);
    expect(ingest.status()).toMatchObject({ batchesStored: 3, readingsStored: 5, replaysAcknowledged: 5, rejected: {}, influx: "up" });
    expect(await ctx.metrics.getSingleMetricAsString("hub_ingest_readings_total")).toContain("hub_ingest_readings_total 5");
  }, 60_000);

  it("refuses and flags a tampered batch, an altered copy of a stored seq, and an unknown gateway", async () => {
    const { gateway, database, privateKeyPem } = await startHub();
    const t = Date.now() - 60_000;
    const good = gateway.next([rating(1, t)]);
    const tampered = Buffer.from(good.wire.toString("utf8").replace('"key":1', '"key":2'), "utf8");
    await gateway.send(tampered);
    const bad = await gateway.waitForAck((a) => a.status === "rejected");
    expect(bad).toMatchObject({ status: "rejected", code: "bad_signature", seq: 1, epoch: gateway.epoch });
    expect(await count(database, "rating")).toBe(0);

    await gateway.send(good.wire);
    await gateway.waitForAck(storedAck(1));
    // Same seq, validly signed, different content: the chain says altered.
    const twin = await TestGateway.connect(broker.url, "gw1", privateKeyPem);
    cleanups.push(() => twin.close());
    Object.assign(twin, { epoch: gateway.epoch });
    const altered = twin.next([rating(1, t, { key: 2, level: "satisfied" })]);
    await twin.send(altered.wire);
    expect(await twin.waitForAck((a) => a.status === "rejected")).toMatchObject({ code: "altered", seq: 1 });

    const stranger = await TestGateway.connect(broker.url, "gwx", privateKeyPem);
    cleanups.push(() => stranger.close());
    await stranger.send(stranger.next([rating(1, t)]).wire);
    expect(await stranger.waitForAck((a) => a.status === "rejected")).toMatchObject({ code: "unknown_gateway" });

    const kinds = (await alerts(database)).map((a) => a.kind).sort();
    expect(kinds).toEqual(["altered", "bad_signature", "unknown_gateway"]);
    expect(await count(database, "rating")).toBe(1);
    const res = await influx.query(`SELECT "key", "level" FROM "rating"`, database);
    expect(res.results[0]?.series?.[0]?.values?.[0]?.slice(1)).toEqual([1, "very_satisfied"]);
  }, 60_000);

  it("survives hostile input: garbage, oversized, wrong topic gateway, bad topics, malformed readings and status", async () => {
    const { gateway, database, registry, ingest } = await startHub();
    const gw1 = registry.gateways.get("gw1");
    registry.gateways.set("gw2", { id: "gw2", site: "hall1", publicKey: gw1?.publicKey as string, secret: "x" });
    const t = Date.now() - 60_000;
    const raw = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
    cleanups.push(() => raw.endAsync());
    await raw.subscribeAsync(gatewayTopics.ack("gw2"), { qos: 1 });
    const gw2Acks: BatchAck[] = [];
    raw.on("message", (_t, p) => gw2Acks.push(JSON.parse(p.toString())));

    await gateway.send(randomBytes(2000));
    await gateway.send(Buffer.from("{}\nnot-a-signature"));
    await gateway.send(Buffer.alloc(5 * 1024 * 1024, 0x41));
    await raw.publishAsync(gatewayTopics.batch("gw2"), gateway.next([rating(1, t)]).wire, { qos: 1 }); // gw1's body on gw2's topic
    await raw.publishAsync("sv/v1/gw/BAD!!/batch", Buffer.from("x"), { qos: 1 });
    await raw.publishAsync("sv/v1/gw/gw1/status", Buffer.from("{not json"), { qos: 1 });
    await raw.publishAsync("sv/v1/gw/gw1/status", Buffer.from(JSON.stringify({ v: 1, gatewayId: "gw2", state: "online" })), { qos: 1 });

    await waitFor(() => (gateway.acks.length >= 3 && gw2Acks.length >= 1 ? true : undefined), 20_000, "rejections");
    expect(gateway.acks.map((a) => a.code)).toEqual(["malformed", "malformed", "malformed"]);
    expect(gw2Acks[0]).toMatchObject({ status: "rejected", code: "malformed" });
    expect(gw2Acks[0]?.reason).toContain("gw1");

    // A batch with one malformed reading among good ones: the good ones are stored, the bad one flagged.
    const mixed = gateway.next([rating(2, t), rating(3, t, { level: "ecstatic" }), rating(4, t, { deviceId: "ghost" })]);
    await gateway.send(mixed.wire);
    await gateway.waitForAck(storedAck(mixed.body.seq));
    expect(await count(database, "rating")).toBe(2);
    const kinds = (await alerts(database)).map((a) => a.kind).sort();
    expect(kinds).toEqual(["malformed", "malformed", "malformed", "malformed", "malformed", "unknown_device"]);

    // A valid status still becomes a gateway_health point.
    await raw.publishAsync(
      "sv/v1/gw/gw1/status",
      Buffer.from(
        JSON.stringify({
          v: 1,
          gatewayId: "gw1",
          state: "online",
          ts: t,
          buffer: { depth: 3, bytes: 10, capacityBytes: 100, oldestTs: t - 5000, deadLetters: 0 },
        }),
      ),
      { qos: 1 },
    );
    await waitFor(async () => ((await count(database, "gateway_health", "", "health")) === 1 ? true : undefined), 10_000, "gateway_health");
    const health = await influx.query(`SELECT "buffer_depth", "oldest_age_s", "site" FROM "health"."gateway_health"`, database);
    expect(health.results[0]?.series?.[0]?.values?.[0]?.slice(1)).toEqual([3, 5, "hall1"]);
    expect(ingest.status()).toMatchObject({ rejected: { malformed: 4, status: 2 } });
  }, 60_000);

  it("hostile gateway: another site's readings, a malformed one, an oversized field and a future time are each refused alone with their reason", async () => {
    const { gateway, database, registry, ingest } = await startHub();
    // A second hall served by another gateway: gw1's key must not speak for it.
    registry.sites.set("hall2", { id: "hall2", kind: "hall", name: "Hall 2", town: "t1", tz: "Asia/Shanghai", gateway: "gw2" });
    registry.windows.set("w9", { id: "w9", site: "hall2", name: "Window 9", department: "tax", unattendedAfterMinutes: 30 });
    registry.devices.set("kp9", { id: "kp9", kind: "keypad", site: "hall2", window: "w9", heartbeatS: 60, scale: "four" });
    const t = Date.now() - 60_000;
    const batch = gateway.next([
      rating(1, t),
      rating(2, t, { deviceId: "kp9", windowId: "w9" }), // another hall's keypad
      rating(3, t, { windowId: "w9" }), // its own keypad crediting another hall's window
      rating(4, t, { outcome: "rated", key: undefined }), // malformed: a rated press without its key
      rating(5, t, { txnId: "x".repeat(100_000) }), // an oversized string field
      rating(6, Date.now() + 3_600_000), // an hour ahead of the hub's clock
      rating(7, t + 1),
    ]);
    await gateway.send(batch.wire);
    const ack = await gateway.waitForAck(storedAck(batch.body.seq));
    expect(ack).toMatchObject({ status: "stored", hash: batch.hash });

    const stored = await influx.query(`SELECT "seq" FROM "rating"`, database);
    expect((stored.results[0]?.series?.[0]?.values ?? []).map((v) => v[1]).sort()).toEqual([1, 7]);
    const byKind = Object.fromEntries((await alerts(database)).map((a) => [a.kind, String(a.detail)]));
    expect(Object.keys(byKind).sort()).toEqual(["device_time", "malformed", "outside_slice"]);
    expect(byKind.outside_slice).toContain("2 of 7 readings refused");
    expect(byKind.outside_slice).toMatch(/"kp9" seq 2: device kp9 belongs to site hall2, not to this gateway's site hall1/);
    expect(byKind.outside_slice).toMatch(/"kp1" seq 3: window w9 belongs to site hall2/);
    expect(byKind.malformed).toContain("2 of 7 readings refused");
    expect(byKind.malformed).toMatch(/seq 4: missing_field: key is required/);
    expect(byKind.malformed).toMatch(/seq 5: invalid_field: txnId: /);
    expect(byKind.device_time).toMatch(
      /1 of 7 readings refused: rating reading "kp1" seq 6: future_timestamp: device time .* ahead of the receiver/,
    );
    expect(ingest.status()).toMatchObject({ batchesStored: 1, readingsStored: 2, rejected: {} });
  }, 60_000);

  it("v2 and v3 rows (PROTOCOL.md 4.2, 4.3): one chain with v1 batches, the same points, and each hostile row refused alone with its code", async () => {
    const { gateway, database, registry, ingest } = await startHub();
    registry.sites.set("hall2", { id: "hall2", kind: "hall", name: "Hall 2", town: "t1", tz: "Asia/Shanghai", gateway: "gw2" });
    registry.windows.set("w9", { id: "w9", site: "hall2", name: "Window 9", department: "tax", unattendedAfterMinutes: 30 });
    registry.devices.set("kp9", { id: "kp9", kind: "keypad", site: "hall2", window: "w9", heartbeatS: 60, scale: "four" });
    const t = Date.now() - 60_000;
    const first = [rating(1, t), rating(2, t + 1, { clerkId: undefined, txnId: "T-1" })];
    const b1 = gateway.next(first);
    await gateway.send(b1.wire);
    await gateway.waitForAck(storedAck(b1.body.seq));
    const ratings = async () => JSON.stringify((await influx.query(`SELECT * FROM "rating"`, database)).results);
    const afterV1 = await ratings();
    // The same readings again, as rows: a replay by identity, so InfluxDB holds exactly what it held.
    const b2 = gateway.nextV2({ readings: first });
    await gateway.send(b2.wire);
    expect(await gateway.waitForAck(storedAck(b2.body.seq))).toMatchObject({ status: "stored", hash: b2.hash });
    expect(await ratings()).toBe(afterV1);

    const row = (seq: number, ts = t, extra: Record<string, unknown> = {}) => readingRow(rating(seq, ts, extra))!;
    const good = row(3);
    const b3 = gateway.nextV2({
      rows: [
        good,
        row(4, t, { deviceId: "kp9", windowId: "w9" }), // another hall's keypad
        good.slice(0, 6), // truncated: outcome and scale left off
        [...row(6), null, "extra"], // one column more than a rating has
        row(7).map((v, i) => (i === 2 ? "7" : v)), // seq as text
        row(8, t, { txnId: "x".repeat(100_000) }), // an oversized string column
        ["alarm", "kp1", 9, t, t], // an unknown kind
        { ...rating(10, t) }, // an object where a row belongs
        row(11, Date.now() + 3_600_000), // an hour ahead of the hub's clock
        row(12, t + 2),
      ],
    });
    await gateway.send(b3.wire);
    expect(await gateway.waitForAck(storedAck(b3.body.seq))).toMatchObject({ status: "stored", hash: b3.hash });
    const stored = await influx.query(`SELECT "seq" FROM "rating"`, database);
    expect((stored.results[0]?.series?.[0]?.values ?? []).map((v) => v[1]).sort((a, b) => Number(a) - Number(b))).toEqual([1, 2, 3, 12]);
    const byKind = Object.fromEntries((await alerts(database)).map((a) => [a.kind, String(a.detail)]));
    expect(Object.keys(byKind).sort()).toEqual(["device_time", "malformed", "outside_slice"]);
    expect(byKind.outside_slice).toMatch(/^1 of 10 readings refused: rating reading "kp9" seq 4: device kp9 belongs to site hall2/);
    expect(byKind.malformed).toContain("6 of 10 readings refused");
    expect(byKind.malformed).toMatch(/rating reading "kp1" seq 3: missing_field: outcome is required/);
    expect(byKind.malformed).toMatch(
      /rating reading "kp1" seq 6: unknown_field: a rating row of layout 1 has at most 12 columns; this one has 13/,
    );
    expect(byKind.malformed).toMatch(/rating reading "kp1" seq 7: invalid_field: seq: Invalid input: expected number, received string/);
    expect(byKind.malformed).toMatch(/rating reading "kp1" seq 8: invalid_field: txnId: /);
    expect(byKind.malformed).toMatch(/alarm reading "kp1" seq 9: invalid_field: unknown reading kind "alarm" in layout 1/);
    expect(byKind.malformed).toMatch(/rating reading "kp1" seq 10: invalid_field: a v2 reading must be a JSON array/);
    expect(byKind.device_time).toMatch(/^1 of 10 readings refused: rating reading "kp1" seq 11: future_timestamp: /);

    // v3 (4.3): the same rows, signed over the body's SHA-256 instead of its bytes, on the same chain.
    const bv3 = gateway.nextV2({ readings: [rating(15, t + 5)] }, Date.now(), { v: 3 });
    await gateway.send(bv3.wire);
    expect(await gateway.waitForAck(storedAck(bv3.body.seq))).toMatchObject({ status: "stored", hash: bv3.hash });
    const v3Row = await influx.query(`SELECT "seq", "clerk", "window", "level" FROM "rating" WHERE "seq" = 15`, database);
    expect(v3Row.results[0]?.series?.[0]?.values?.map((v) => v.slice(1))).toEqual([[15, "p1", "w1", "very_satisfied"]]);

    // An unknown version or layout cannot be read at all: refused whole, with the reason in the ack.
    const b4 = gateway.nextV2({ readings: [rating(13, t + 3)] }, Date.now(), { v: 4 });
    await gateway.send(b4.wire);
    expect(await gateway.waitForAck((a) => a.seq === b4.body.seq)).toMatchObject({
      status: "rejected",
      code: "malformed",
      reason: expect.stringMatching(/^unsupported_version: uplink envelope version 4 is not supported/) as unknown,
    });
    const b5 = gateway.nextV2({ readings: [rating(14, t + 4)] }, Date.now(), { layout: 7 });
    await gateway.send(b5.wire);
    expect(await gateway.waitForAck((a) => a.seq === b5.body.seq)).toMatchObject({
      status: "rejected",
      code: "malformed",
      reason: expect.stringMatching(/^invalid_field: layout/) as unknown,
    });
    expect(ingest.status()).toMatchObject({ batchesStored: 4, batchesByEnvelope: { v1: 1, v2: 2, v3: 1 }, rejected: { malformed: 2 } });
  }, 60_000);

  it("flags a gap only when the predecessor stays missing, and a new epoch as a chain restart", async () => {
    const { gateway, database, privateKeyPem } = await startHub({ gapGraceMs: 500 });
    const t = Date.now() - 60_000;
    const [b1, b2, b3, b4, b5] = [1, 2, 3, 4, 5].map((i) => gateway.next([rating(i, t + i)], t + i));
    await gateway.send(b1!.wire);
    await gateway.waitForAck(storedAck(1));
    await gateway.send(b3!.wire); // b2 never arrives
    await gateway.waitForAck(storedAck(3));
    await gateway.send(b5!.wire); // b4 arrives late, within the grace period
    await gateway.waitForAck(storedAck(5));
    await gateway.send(b4!.wire);
    await gateway.waitForAck(storedAck(4));
    expect(b2!.body.seq).toBe(2);
    await waitFor(async () => ((await alerts(database)).length > 0 ? true : undefined), 10_000, "gap alert");
    await new Promise((r) => setTimeout(r, 1000));
    expect(await alerts(database)).toEqual([{ kind: "gap", seq: 3, detail: expect.stringContaining("batch 2 of chain") }]);

    const restarted = await TestGateway.connect(broker.url, "gw1", privateKeyPem);
    cleanups.push(() => restarted.close());
    await restarted.send(restarted.next([rating(10, t + 100)], t + 100).wire);
    await restarted.waitForAck(storedAck(1));
    expect((await alerts(database)).map((a) => a.kind).sort()).toEqual(["chain_restart", "gap"]);
    expect(await count(database, "rating")).toBe(5);
  }, 60_000);
});

export type { HubContext, HubExtension };

describe("ensureDatabase", () => {
  it("creates policies and continuous queries idempotently, from several copies at once, and repairs a changed policy", async () => {
    const { registry } = testRegistry();
    const ctx = testContext(registry, influx.url, "setup_db");
    await Promise.all([ensureDatabase(ctx.influx, "setup_db", ctx.logger), ensureDatabase(ctx.influx, "setup_db", ctx.logger)]);
    await influx.query(`ALTER RETENTION POLICY "health" ON "setup_db" DURATION 2d`);
    await ensureDatabase(ctx.influx, "setup_db", ctx.logger);
    const rps = await influx.query(`SHOW RETENTION POLICIES ON "setup_db"`);
    const rows = (rps.results[0]?.series?.[0]?.values ?? []).map(([name, duration, , , def]) => [name, duration, def]);
    expect(rows).toEqual(
      expect.arrayContaining([
        ["raw", "26280h0m0s", true],
        ["health", "720h0m0s", false],
        ["rollup", "0s", false],
      ]),
    );
    const cqs = await influx.query(`SHOW CONTINUOUS QUERIES`);
    const series = cqs.results.flatMap((r) => r.series ?? []);
    const ours = series.find((s) => s.name === "setup_db")?.values?.map((v) => v[0]);
    expect(ours?.sort()).toEqual(["cq_motion_1h", "cq_rating_1h", "cq_signin_1d"]);
  });
});
