import { loadPrivateKey, type Reading, signBatch } from "@supervision/firmware-protocols";
import { startInfluxd, type TestInfluxd } from "@supervision/test-support";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ensureDatabase } from "../src/influx/setup.ts";
import { createIngestExtension } from "../src/ingest/index.ts";
import { dumpDatabase, rating, startMosquitto, TestGateway, testContext, testRegistry } from "./ingest-fixtures.ts";

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

const HOUR = 3_600_000;

/** A hub's ingest on `database`, with nothing in memory from any earlier one (a hub restart, or another hub copy). */
async function startIngest(fixture: ReturnType<typeof testRegistry>, database: string) {
  const ctx = testContext(fixture.registry, influx.url, database);
  await ensureDatabase(ctx.influx, database, ctx.logger);
  const ingest = createIngestExtension({ brokerUrl: broker.url, shareGroup: "", gapGraceMs: 60_000 });
  await ingest.start(ctx);
  let stopped = false;
  const stop = async () => {
    if (!stopped) await ingest.stop();
    stopped = true;
  };
  cleanups.push(stop);
  return { ctx, ingest, stop };
}

const values = async (database: string, q: string) => (await influx.query(q, database)).results[0]?.series?.[0]?.values ?? [];
const alertKinds = async (database: string) =>
  (await values(database, `SELECT "kind", "seq" FROM "integrity_alert"`)).map((v) => [v[1], v[2]]);

/** A batch signed with the gateway's real key, with whatever seq, predecessor and creation time the forger chooses. */
function forge(privateKeyPem: string, fields: { epoch: string; seq: number; prevHash: string; createdAt: number; readings: Reading[] }) {
  return signBatch({ v: 1, gatewayId: "gw1", ...fields }, loadPrivateKey(privateKeyPem));
}

describe("the hash chain by (epoch, seq), across hub restarts", () => {
  it("refuses a re-signed copy of a stored batch back-dated 7 hours after a restart, and a forged batch slipped into a gap", async () => {
    const fixture = testRegistry();
    const database = `chain_${++dbCounter}`;
    const first = await startIngest(fixture, database);
    const gateway = await TestGateway.connect(broker.url, "gw1", fixture.privateKeyPem);
    cleanups.push(() => gateway.close());
    const t = Date.now() - 10 * 60_000;
    const b1 = gateway.next([rating(1, t)], t + 1000);
    const b2 = gateway.next([rating(2, t + 2000, { level: "dissatisfied", key: 3 })], t + 3000);
    const b3 = gateway.next([rating(3, t + 4000)], t + 5000);
    const b4 = gateway.next([rating(4, t + 6000)], t + 7000);
    for (const b of [b1, b2, b4]) {
      await gateway.send(b.wire);
      await gateway.waitForAck((a) => a.seq === b.body.seq && a.status === "stored");
    }
    expect(b3.body.seq).toBe(3); // never sent: a gap before b4
    await first.stop();
    const before = await dumpDatabase(influx, database);

    // The hub restarts: nothing of the first process's memory is left.
    await startIngest(fixture, database);
    gateway.acks.length = 0;
    // b2 altered (its dissatisfied rating made satisfied, its device time moved), re-signed, back-dated 7 hours.
    const backDated = forge(fixture.privateKeyPem, {
      epoch: gateway.epoch,
      seq: 2,
      prevHash: b1.hash,
      createdAt: b2.body.createdAt - 7 * HOUR,
      readings: [rating(2, t + 2000 - 7 * HOUR, { level: "satisfied", key: 2 })],
    });
    await gateway.send(backDated.wire);
    const refused = await gateway.waitForAck((a) => a.seq === 2 && a.status === "rejected");
    expect(refused).toMatchObject({ code: "altered", epoch: gateway.epoch });
    expect(refused.reason).toContain(`was stored with hash ${b2.hash}`);

    // A forged seq 3 (the missing one) that chains to b1's successor but not to the stored b4.
    const intoGap = forge(fixture.privateKeyPem, {
      epoch: gateway.epoch,
      seq: 3,
      prevHash: b2.hash,
      createdAt: b4.body.createdAt - 7 * HOUR,
      readings: [rating(3, t + 4000 - 7 * HOUR, { level: "very_dissatisfied", key: 4 })],
    });
    await gateway.send(intoGap.wire);
    const gapRefused = await gateway.waitForAck((a) => a.seq === 3 && a.status === "rejected");
    expect(gapRefused).toMatchObject({ code: "altered" });
    expect(gapRefused.reason).toContain("stored 4 names");

    // Nothing of either is stored: the only new points are the two alerts.
    const alerts = await alertKinds(database);
    expect(alerts.sort()).toEqual([
      ["altered", 2],
      ["altered", 3],
    ]);
    await influx.query(`DELETE FROM "integrity_alert"`, database);
    expect(await dumpDatabase(influx, database)).toBe(before);
    const ratings = await values(database, `SELECT "level", "seq" FROM "rating"`);
    expect(ratings.map((v) => [v[2], v[1]])).toEqual([
      [1, "very_satisfied"],
      [2, "dissatisfied"],
      [4, "very_satisfied"],
    ]);

    // The genuine b2 sent again after the restart is a replay: acknowledged, nothing changes; the genuine b3 fills the gap.
    await gateway.send(b2.wire);
    await gateway.waitForAck((a) => a.seq === 2 && a.status === "stored");
    expect(await dumpDatabase(influx, database)).toBe(before);
    await gateway.send(b3.wire);
    await gateway.waitForAck((a) => a.seq === 3 && a.status === "stored");
    expect((await values(database, `SELECT "seq" FROM "rating"`)).length).toBe(4);
    expect(await alertKinds(database)).toEqual([]);
  }, 90_000);

  it("knows the chain from another hub copy's records: a second copy refuses an altered seq the first one stored", async () => {
    const fixture = testRegistry();
    const database = `chain_${++dbCounter}`;
    const first = await startIngest(fixture, database);
    const gateway = await TestGateway.connect(broker.url, "gw1", fixture.privateKeyPem);
    cleanups.push(() => gateway.close());
    const t = Date.now() - 60_000;
    const b1 = gateway.next([rating(1, t)], t);
    await gateway.send(b1.wire);
    await gateway.waitForAck((a) => a.seq === 1 && a.status === "stored");
    await first.stop();
    await startIngest(fixture, database);
    // Created 30 days before the original: still the same (epoch, seq).
    const later = forge(fixture.privateKeyPem, {
      epoch: gateway.epoch,
      seq: 1,
      prevHash: b1.body.prevHash,
      createdAt: t - 30 * 24 * HOUR,
      readings: [rating(1, t, { clerkId: undefined })],
    });
    await gateway.send(later.wire);
    expect(await gateway.waitForAck((a) => a.status === "rejected")).toMatchObject({ code: "altered", seq: 1 });
    expect((await values(database, `SELECT "clerk", "seq" FROM "rating"`)).map((v) => v.slice(1))).toEqual([["p1", 1]]);
  }, 90_000);
});

describe("the chain while another hub copy is still writing it", () => {
  it("a chain point seen half written (its seq without its hash) is not stored yet: its neighbour and the batch itself are stored, not refused as altered", async () => {
    const fixture = testRegistry();
    const database = `chain_${++dbCounter}`;
    await startIngest(fixture, database);
    const gateway = await TestGateway.connect(broker.url, "gw1", fixture.privateKeyPem);
    cleanups.push(() => gateway.close());
    const t = Date.now() - 60_000;
    const b1 = gateway.next([rating(1, t)], t);
    const b2 = gateway.next([rating(2, t + 1000)], t + 1000);
    // What a query sees while another copy's write of b1's chain point is half done: influxd stores a point's
    // fields one by one, so seq and prev_hash can be visible before hash.
    const line = `batch_chain,epoch=${gateway.epoch},gateway=gw1 seq=1,prev_hash="${b1.body.prevHash}" 1`;
    const written = await fetch(`${influx.url}/write?db=${database}&rp=chain&precision=ns`, { method: "POST", body: line });
    expect(written.status).toBe(204);
    expect(await values(database, `SELECT "seq", "hash" FROM "chain"."batch_chain"`)).toEqual([[0, 1, null]]);

    await gateway.send(b2.wire);
    await gateway.waitForAck((a) => a.seq === 2);
    await gateway.send(b1.wire);
    await gateway.waitForAck((a) => a.seq === 1);
    expect(gateway.acks.map((a) => [a.seq, a.status]).sort()).toEqual([
      [1, "stored"],
      [2, "stored"],
    ]);
    expect(await values(database, `SELECT "seq", "hash", "prev_hash" FROM "chain"."batch_chain"`)).toEqual([
      [0, 1, b1.hash, b1.body.prevHash],
      [0, 2, b2.hash, b1.hash],
    ]);
    expect((await values(database, `SELECT "seq" FROM "rating"`)).map((v) => v[1])).toEqual([1, 2]);
    expect(await alertKinds(database)).toEqual([]);
  }, 90_000);
});

describe("a gateway speaks only for its own devices, windows and clerks", () => {
  it("refuses another hall's device, another window's clerk and a keypad speaking for another window, each with an alert", async () => {
    const fixture = testRegistry();
    const { registry } = fixture;
    registry.windows.set("w2", { id: "w2", site: "hall1", name: "Window 2", department: "tax", unattendedAfterMinutes: 30 });
    registry.people.set("p2", { id: "p2", name: "Clerk 2", role: "clerk", post: "", site: "hall1", window: "w2", roster: "day" });
    registry.sites.set("hall2", { id: "hall2", kind: "hall", name: "Hall 2", town: "t1", tz: "Asia/Shanghai", gateway: "gw2" });
    registry.windows.set("w9", { id: "w9", site: "hall2", name: "Window 9", department: "tax", unattendedAfterMinutes: 30 });
    registry.devices.set("kp9", { id: "kp9", kind: "keypad", site: "hall2", window: "w9", heartbeatS: 60, scale: "four" });
    const database = `slice_${++dbCounter}`;
    const { ingest, ctx } = await startIngest(fixture, database);
    const gateway = await TestGateway.connect(broker.url, "gw1", fixture.privateKeyPem);
    cleanups.push(() => gateway.close());
    const t = Date.now() - 60_000;
    const batch = gateway.next([
      rating(1, t),
      rating(2, t, { deviceId: "kp9", windowId: "w9", clerkId: undefined }), // another hall's keypad
      rating(3, t, { clerkId: "p2" }), // window w1's keypad crediting window w2's clerk
      rating(4, t, { windowId: "w2", clerkId: "p2" }), // window w1's keypad speaking for window w2
      rating(5, t, { windowId: "nowhere", clerkId: undefined }), // a window the registry does not know
      rating(6, t, { clerkId: "ghost" }), // a clerk the registry does not know
      rating(7, t, { clerkId: undefined }), // nobody signed in: stored without a clerk
    ]);
    await gateway.send(batch.wire);
    await gateway.waitForAck((a) => a.seq === 1 && a.status === "stored");
    const stored = await values(database, `SELECT "seq", "clerk", "window" FROM "rating"`);
    expect(stored.map((v) => v.slice(1))).toEqual([
      [1, "p1", "w1"],
      [7, null, "w1"],
    ]);
    const details = Object.fromEntries((await values(database, `SELECT "kind", "detail" FROM "integrity_alert"`)).map((v) => [v[1], v[2]]));
    expect(Object.keys(details).sort()).toEqual(["clerk_mismatch", "outside_slice"]);
    expect(details.outside_slice).toContain("3 of 7 readings refused");
    expect(details.outside_slice).toMatch(/"kp9" seq 2: device kp9 belongs to site hall2, not to this gateway's site hall1/);
    expect(details.outside_slice).toMatch(/"kp1" seq 4: device kp1 serves window w1, not window w2/);
    expect(details.outside_slice).toMatch(/"kp1" seq 5: window nowhere is not in the registry/);
    expect(details.clerk_mismatch).toContain("2 of 7 readings refused");
    expect(details.clerk_mismatch).toMatch(/"kp1" seq 3: clerk p2 works at window w2, not at window w1/);
    expect(details.clerk_mismatch).toMatch(/"kp1" seq 6: clerk ghost is not in the registry/);
    expect(ingest.status()).toMatchObject({ readingsStored: 2, deadLetters: { outside_slice: 3, clerk_mismatch: 2 } });
    // Each refused reading is kept for review as a dead letter with its reason, never as a rating.
    const letters = await values(database, `SELECT "line", "reason", "batch_seq" FROM "dead_letter"`);
    expect(letters.map((v) => [v[2], v[3], String(v[1]).match(/ seq=(\d+),/)?.[1]]).sort()).toEqual([
      ["clerk_mismatch", 1, "3"],
      ["clerk_mismatch", 1, "6"],
      ["outside_slice", 1, "2"],
      ["outside_slice", 1, "4"],
      ["outside_slice", 1, "5"],
    ]);
    expect(await ctx.metrics.getSingleMetricAsString("hub_ingest_dead_letters_total")).toContain(
      'hub_ingest_dead_letters_total{reason="clerk_mismatch",source="batch"} 2',
    );
    const metric = await ctx.metrics.getSingleMetricAsString("hub_ingest_integrity_alerts_total");
    expect(metric).toContain('hub_ingest_integrity_alerts_total{kind="clerk_mismatch"} 1');
    expect(metric).toContain('hub_ingest_integrity_alerts_total{kind="outside_slice"} 1');
  }, 60_000);
});
