import { generateGatewayKeys, hashSecret } from "@supervision/firmware-protocols";
import { startInfluxd, type TestInfluxd } from "@supervision/test-support";
import type { HubContext } from "../src/controller/extension.ts";
import { connectInflux } from "../src/influx/client.ts";
import { influxRegions } from "../src/influx/regions.ts";
import { ensureDatabase } from "../src/influx/setup.ts";
import type { Registry } from "../src/registry/schema.ts";
import { HubSettings } from "../src/settings/index.ts";
import { testContext, testRegistry } from "./ingest-fixtures.ts";

/** Three throw-away influxd: the central database and one for each of two regions. */
export interface ProvinceInfluxd {
  central: TestInfluxd;
  east: TestInfluxd;
  west: TestInfluxd;
  close(): Promise<void>;
}

export async function startProvinceInfluxd(): Promise<ProvinceInfluxd> {
  const [central, east, west] = await Promise.all([startInfluxd(), startInfluxd(), startInfluxd()]);
  return { central, east, west, close: async () => void (await Promise.all([central.close(), east.close(), west.close()])) };
}

/**
 * testRegistry's hall (`hall1`, gateway `gw1`, keypad `kp1`, region `r1`) moved to region `east`, and a second hall
 * `hall2` (gateway `gw2`, keypad `kp2`, window `w2`, clerk `p2`) in region `west`; region `north` has no InfluxDB of
 * its own (town `t3`, no site).
 */
export function provinceRegistry(): { registry: Registry; keys: Record<"gw1" | "gw2", string> } {
  const base = testRegistry();
  const registry = base.registry;
  const gw2 = generateGatewayKeys();
  registry.regions = new Map([
    ["east", { id: "east", name: "东区" }],
    ["west", { id: "west", name: "西区" }],
    ["north", { id: "north", name: "北区" }],
  ]);
  registry.towns = new Map([
    ["t1", { id: "t1", name: "东镇", region: "east" }],
    ["t2", { id: "t2", name: "西镇", region: "west" }],
    ["t3", { id: "t3", name: "北镇", region: "north" }],
  ]);
  registry.sites.set("hall2", { id: "hall2", kind: "hall", name: "西区大厅", town: "t2", tz: "Asia/Shanghai", gateway: "gw2" });
  registry.windows.set("w2", { id: "w2", site: "hall2", name: "Window 2", department: "tax", unattendedAfterMinutes: 30 });
  registry.people.set("p2", { id: "p2", name: "Clerk 2", role: "clerk", post: "", site: "hall2", window: "w2", roster: "day" });
  registry.gateways.set("gw2", { id: "gw2", site: "hall2", publicKey: gw2.publicKeyPem, secretHash: hashSecret("gw-secret-2") });
  registry.devices.set("kp2", { id: "kp2", kind: "keypad", site: "hall2", window: "w2", heartbeatS: 60, scale: "four" });
  return { registry, keys: { gw1: base.privateKeyPem, gw2: gw2.privateKeyPem } };
}

/** A hub context on the central influxd whose `regions` send east and west to their own influxd; every database made. */
export async function provinceContext(influxd: ProvinceInfluxd, registry: Registry, database: string): Promise<HubContext> {
  const ctx = testContext(registry, influxd.central.url, database);
  const settings = HubSettings.parse({
    influx: { url: influxd.central.url, database, regions: { east: { url: influxd.east.url }, west: { url: influxd.west.url } } },
  });
  ctx.regions = influxRegions(settings, connectInflux(influxd.central.url, database), () => ctx.registry.current());
  await ensureDatabase(ctx.regions.central.influx, database, ctx.logger);
  for (const [, connection] of ctx.regions.regions()) await ensureDatabase(connection.influx, database, ctx.logger);
  return ctx;
}

/** How many points a measurement has in a database (0 when it has none). */
export async function countPoints(influx: TestInfluxd, database: string, measurement: string, policy = "raw", where = ""): Promise<number> {
  const res = await influx.query(`SELECT count(*) FROM "${policy}"."${measurement}" ${where}`, database);
  const values = res.results[0]?.series?.[0]?.values?.[0] ?? [];
  return Math.max(0, ...values.slice(1).map(Number));
}
