import { writeFileSync } from "node:fs";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BatchAck } from "@supervision/firmware-protocols";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { gatewaysCommand } from "../src/cli/gateways.ts";
import { regionSettingsProblems, unlistedRegions } from "../src/influx/regions.ts";
import { createIngestExtension } from "../src/ingest/index.ts";
import { runAudit } from "../src/audit/audit.ts";
import { createAuditExtension } from "../src/audit/extension.ts";
import { randomBytes } from "node:crypto";
import { siteDatabases } from "../src/influx/regions.ts";
import { HubSettings, loadSettings, SettingsError } from "../src/settings/index.ts";
import { rating, startMosquitto, TestGateway, waitFor } from "./ingest-fixtures.ts";
import { countPoints, provinceContext, provinceRegistry, type ProvinceInfluxd, startProvinceInfluxd } from "./regions-fixtures.ts";

let influxd: ProvinceInfluxd;
let broker: Awaited<ReturnType<typeof startMosquitto>>;

beforeAll(async () => {
  [influxd, broker] = await Promise.all([startProvinceInfluxd(), startMosquitto()]);
}, 90_000);
afterAll(async () => {
  await Promise.all([influxd?.close(), broker?.close()]);
});

const stored = (seq: number) => (a: BatchAck) => a.seq === seq && a.status === "stored";
const kp2Rating = (seq: number, ts: number) => rating(seq, ts, { deviceId: "kp2", windowId: "w2", clerkId: "p2" });

describe("settings: influx.regions", () => {
  it("is absent by default (one InfluxDB) and takes a URL, database and credentials per region", () => {
    expect(HubSettings.parse({}).influx.regions).toBeUndefined();
    const settings = HubSettings.parse({
      influx: { regions: { east: { url: "http://127.0.0.1:8186", database: "east", username: "hub", password: "pw" } } },
    });
    expect(settings.influx.regions).toEqual({ east: { url: "http://127.0.0.1:8186", database: "east", username: "hub", password: "pw" } });
  });

  it("refuses a bad URL, an unknown key or a region id that is not one, at its line", () => {
    const dir = mkdtempSync(join(tmpdir(), "regions-settings-"));
    const file = join(dir, "hub.yaml");
    writeFileSync(
      file,
      "influx:\n  regions:\n    east:\n      url: not a url\n    West!: {url: 'http://x:8086'}\n    west:\n      url: http://x:8086\n      db: w\n",
    );
    let error: unknown;
    try {
      loadSettings(file, {});
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SettingsError);
    const text = (error as SettingsError).problems.join("\n");
    expect(text).toContain(`${file}:4: influx.regions.east.url`);
    expect(text).toMatch(new RegExp(`${file}:5: .*West!`));
    expect(text).toContain(`${file}:8: influx.regions.west: unknown key(s) "db"`);
  });

  it("refuses a bad rollup zone or interval and a bad Grafana region data source, at its line", () => {
    const dir = mkdtempSync(join(tmpdir(), "regions-settings-"));
    const file = join(dir, "hub.yaml");
    writeFileSync(
      file,
      "rollup:\n  tz: Mars/Olympus\n  intervalMinutes: -1\ngrafana:\n  regions:\n    east: { url: 'not a url' }\n    East!: { url: 'http://x:8086' }\n",
    );
    let error: unknown;
    try {
      loadSettings(file, {});
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SettingsError);
    const text = (error as SettingsError).problems.join("\n");
    expect(text).toContain(`${file}:2: rollup.tz: an IANA time zone, e.g. Asia/Shanghai`);
    expect(text).toContain(`${file}:3: rollup.intervalMinutes`);
    expect(text).toContain(`${file}:6: grafana.regions.east.url`);
    expect(text).toMatch(new RegExp(`${file}:7: .*East!`));
    expect(HubSettings.parse({}).rollup).toEqual({ intervalMinutes: 60, days: 2, tz: "Asia/Shanghai" });
  });

  it("names a region the registry does not know at its settings line; registry regions not listed use the central database", () => {
    const dir = mkdtempSync(join(tmpdir(), "regions-settings-"));
    const file = join(dir, "hub.yaml");
    writeFileSync(file, "influx:\n  regions:\n    east:\n      url: http://a:8086\n    weast:\n      url: http://b:8086\n");
    const settings = loadSettings(file, {});
    const { registry } = provinceRegistry();
    expect(regionSettingsProblems(settings, registry, file)).toEqual([
      {
        code: "reference",
        file,
        line: 5,
        path: "influx.regions.weast",
        message:
          'influx.regions.weast: the registry has no region "weast" (its regions: east, west, north); use a registry region id or remove the entry',
      },
    ]);
    expect(unlistedRegions(settings, registry)).toEqual(["west", "north"]);
    expect(unlistedRegions(HubSettings.parse({}), registry)).toEqual([]);
  });
});

describe("ingest: each site's points to its region's InfluxDB", () => {
  it("stores each gateway's readings in its region only, the chain centrally, and acks after both", async () => {
    const { registry, keys } = provinceRegistry();
    const database = "province_ingest";
    const ctx = await provinceContext(influxd, registry, database);
    const auditKey = randomBytes(32);
    const ingest = createIngestExtension({ brokerUrl: broker.url, shareGroup: "", auditKey });
    await ingest.start(ctx);
    const east = await TestGateway.connect(broker.url, "gw1", keys.gw1);
    const west = await TestGateway.connect(broker.url, "gw2", keys.gw2);
    try {
      const t = Date.now() - 60_000;
      const e1 = east.next([rating(1, t), rating(2, t + 1), rating(3, t + 2)]);
      const w1 = west.next([kp2Rating(1, t), kp2Rating(2, t + 1)]);
      await Promise.all([east.send(e1.wire), west.send(w1.wire)]);
      await east.waitForAck(stored(1));
      await west.waitForAck(stored(1));

      // Readings and the batches' own records in their region; nothing of them elsewhere.
      expect(await countPoints(influxd.east, database, "rating")).toBe(3);
      expect(await countPoints(influxd.west, database, "rating")).toBe(2);
      expect(await countPoints(influxd.central, database, "rating")).toBe(0);
      expect(await countPoints(influxd.east, database, "rating", "raw", `WHERE "device" = 'kp2'`)).toBe(0);
      expect(await countPoints(influxd.west, database, "rating", "raw", `WHERE "device" = 'kp1'`)).toBe(0);
      expect(await countPoints(influxd.east, database, "uplink_batch")).toBe(1);
      expect(await countPoints(influxd.east, database, "batch_manifest")).toBe(1);
      // The hash chain centrally: any hub copy judges a replay there.
      expect(await countPoints(influxd.central, database, "batch_chain", "chain")).toBe(2);
      expect(await countPoints(influxd.east, database, "batch_chain", "chain")).toBe(0);
      expect(await countPoints(influxd.west, database, "batch_chain", "chain")).toBe(0);
      const tags = await influxd.west.query(`SELECT "seq", "clerk", "region", "site" FROM "rating"`, database);
      expect(tags.results[0]?.series?.[0]?.values?.map((v) => v.slice(2))).toEqual([
        ["p2", "west", "hall2"],
        ["p2", "west", "hall2"],
      ]);

      // A region down: its gateway's batch is not acknowledged; the other region's goes on.
      await influxd.west.server.kill();
      const w2 = west.next([kp2Rating(3, t + 10), kp2Rating(4, t + 11)]);
      await west.send(w2.wire);
      await waitFor(() => (ingest.status().influx === "down" ? true : undefined), 20_000, "the west InfluxDB reported down");
      expect(ingest.status().influxByRegion).toEqual({ central: "up", east: "up", west: "down" });
      const e2 = east.next([rating(4, t + 10)]);
      await east.send(e2.wire);
      await east.waitForAck(stored(2));
      expect(west.acks.filter((a) => a.seq === 2)).toEqual([]);
      expect(await countPoints(influxd.east, database, "rating")).toBe(4);

      // Back: the waiting batch is stored and acknowledged; the gateway's resend is a harmless replay.
      await influxd.west.server.start();
      await west.waitForAck(stored(2), 40_000);
      await west.send(w2.wire);
      await waitFor(() => (west.acks.filter((a) => a.seq === 2).length === 2 ? true : undefined), 20_000, "the resend acknowledged");
      expect(await countPoints(influxd.west, database, "rating")).toBe(4);
      expect(await countPoints(influxd.central, database, "batch_chain", "chain")).toBe(4);
      expect(await countPoints(influxd.central, database, "rating")).toBe(0);

      // The central database down (the chain, which every batch is judged against and ends with): no ack.
      await influxd.central.server.kill();
      const e3 = east.next([rating(5, t + 20)]);
      await east.send(e3.wire);
      await waitFor(() => (ingest.status().influx === "down" ? true : undefined), 20_000, "the central InfluxDB reported down");
      expect(east.acks.filter((a) => a.seq === 3)).toEqual([]);
      await influxd.central.server.start();
      await east.waitForAck(stored(3), 40_000);
      expect(await countPoints(influxd.central, database, "batch_chain", "chain")).toBe(5);
      expect(await countPoints(influxd.east, database, "rating")).toBe(5);
      expect(ingest.status().influxByRegion).toEqual({ central: "up", east: "up", west: "up" });
      expect(ingest.status()).toMatchObject({ influx: "up", batchesStored: 5, replaysAcknowledged: 1, readingsStored: 9 });

      // The audit reads each region's readings against the manifests stored beside them, and the chains centrally.
      const audit = () =>
        runAudit({ influx: ctx.influx, database, fromMs: t - 86_400_000, toMs: Date.now(), key: auditKey, sites: siteDatabases(ctx) });
      const clean = await audit();
      expect(clean).toMatchObject({ readings: 9, stored: 9, findings: [] });
      expect(clean.chains.map((c) => [c.gateway, c.batches]).sort()).toEqual([
        ["gw1", 3],
        ["gw2", 2],
      ]);
      await influxd.west.query(
        `DELETE FROM "rating" WHERE "device" = 'kp2' AND time >= ${t + 1}000000 AND time < ${t + 2}000000`,
        database,
      );
      expect((await audit()).findings).toMatchObject([{ kind: "deleted", device: "kp2", seq: 2 }]);
      // The scheduled audit raises its alert on the gateway where the gateway's site keeps its points (west).
      const scheduled = createAuditExtension({ intervalMinutes: 60, days: 2, key: auditKey, locale: "en", intervalMs: 100 });
      await scheduled.start(ctx);
      try {
        const alerts = () => countPoints(influxd.west, database, "integrity_alert", "raw", `WHERE "kind" = 'audit' AND "gateway" = 'gw2'`);
        await waitFor(async () => ((await alerts()) > 0 ? true : undefined), 20_000, "the audit alert in west");
        expect(await alerts()).toBe(1);
      } finally {
        await scheduled.stop();
      }
      expect(await countPoints(influxd.central, database, "integrity_alert", "raw", `WHERE "kind" = 'audit'`)).toBe(0);
      expect(await countPoints(influxd.east, database, "integrity_alert", "raw", `WHERE "kind" = 'audit'`)).toBe(0);
    } finally {
      await Promise.all([east.close(), west.close()]);
      await ingest.stop();
    }
  }, 180_000);
});

describe("hub gateways with influx.regions", () => {
  it("lists each gateway from the database of its region", async () => {
    const { registry } = provinceRegistry();
    const database = "province_gateways";
    const ctx = await provinceContext(influxd, registry, database);
    const now = Date.now();
    const health = (gateway: string, site: string, depth: number) => ({
      measurement: "gateway_health",
      tags: { gateway, site },
      fields: { online: 1, buffer_depth: depth, oldest_age_s: 0 },
      timestamp: new Date(now - 1000),
    });
    await ctx.regions!.forRegion("east").influx.writePoints([health("gw1", "hall1", 5)], { retentionPolicy: "health" });
    await ctx.regions!.forRegion("west").influx.writePoints([health("gw2", "hall2", 7)], { retentionPolicy: "health" });
    const dir = mkdtempSync(join(tmpdir(), "regions-gateways-"));
    const file = join(dir, "hub.yaml");
    writeFileSync(
      file,
      `influx:\n  url: ${influxd.central.url}\n  database: ${database}\n  regions:\n    east: { url: ${influxd.east.url} }\n    west: { url: ${influxd.west.url} }\n`,
    );
    const out: string[] = [];
    const log = vi.spyOn(console, "log").mockImplementation((...a: unknown[]) => void out.push(a.join(" ")));
    try {
      expect(await gatewaysCommand.run(["--settings", file])).toBe(0);
    } finally {
      log.mockRestore();
    }
    expect(out.map((line) => line.split(/\s+/).slice(0, 3).join(" "))).toEqual(["gw1 hall1 online", "gw2 hall2 online"]);
    expect(out[0]).toContain("backlog 5");
    expect(out[1]).toContain("backlog 7");
  });
});
