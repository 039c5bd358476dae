import { type ConfigProblem, readConfigFile } from "@supervision/firmware-protocols";
import type { Registry } from "../registry/schema.ts";
import type { HubSettings } from "../settings/index.ts";
import { connectInflux, type InfluxConnection } from "./client.ts";

/**
 * Which InfluxDB holds a site's points: the one place every writer and reader of per-site data asks.
 *
 * A site's region is its town's (registry). With `influx.regions` in the hub's settings, a region listed there has
 * its own InfluxDB: the site's readings, health, integrity alerts and dead letters of its gateway's batches, the
 * rules' derived series and the people's records about the site go there. The central database (`influx.url` or
 * the managed influxd) keeps what is the hub's, not a site's: each gateway's hash chain (`batch_chain`, which every
 * hub copy reads to judge a replay), the hub's trail (`hub_trail`), notifications, and the province rollups
 * (`hub rollup`). A region not listed, and every site when no region is listed, use the central database: one
 * InfluxDB stays the default.
 */
export class InfluxRegions {
  constructor(
    readonly central: InfluxConnection,
    private readonly regional: ReadonlyMap<string, InfluxConnection>,
    private readonly registry: () => Registry,
  ) {}

  /** Whether any region has an InfluxDB of its own. */
  get split(): boolean {
    return this.regional.size > 0;
  }

  /** The regions with an InfluxDB of their own, in the settings' order. */
  regions(): Array<[region: string, connection: InfluxConnection]> {
    return [...this.regional];
  }

  /** The region of a site (its town's), undefined for a site or town the registry does not know. */
  regionOfSite(siteId: string): string | undefined {
    const registry = this.registry();
    const site = registry.sites.get(siteId);
    return site ? registry.towns.get(site.town)?.region : undefined;
  }

  forRegion(region: string | undefined): InfluxConnection {
    return (region !== undefined && this.regional.get(region)) || this.central;
  }

  forSite(siteId: string | undefined): InfluxConnection {
    return this.split && siteId !== undefined ? this.forRegion(this.regionOfSite(siteId)) : this.central;
  }

  /** The database of a gateway's site (its batches, status and alerts); the central one for a gateway the registry does not know. */
  forGateway(gatewayId: string | undefined): InfluxConnection {
    if (!this.split || gatewayId === undefined) return this.central;
    return this.forSite(this.registry().gateways.get(gatewayId)?.site);
  }
}

/** Every region's InfluxDB of the settings, beside the central connection. */
export function influxRegions(settings: HubSettings, central: InfluxConnection, registry: () => Registry): InfluxRegions {
  const regional = new Map<string, InfluxConnection>();
  for (const [region, target] of Object.entries(settings.influx.regions ?? {}))
    regional.set(
      region,
      connectInflux(target.url, target.database ?? settings.influx.database, { username: target.username, password: target.password }),
    );
  return new InfluxRegions(central, regional, registry);
}

/**
 * What `influx.regions` says that the registry contradicts: a region the registry does not know (a typo would send
 * nothing there, silently), named at its line of the settings file when the file is given. Registry regions without
 * an entry are not problems: their sites use the central database (`unlistedRegions`).
 */
export function regionSettingsProblems(settings: HubSettings, registry: Registry, settingsFile?: string): ConfigProblem[] {
  const listed = Object.keys(settings.influx.regions ?? {});
  const unknown = listed.filter((region) => !registry.regions.has(region));
  if (unknown.length === 0) return [];
  const doc = settingsFile ? readConfigFile(settingsFile, []) : undefined;
  const known = [...registry.regions.keys()].slice(0, 20).join(", ") || "none";
  return unknown.map((region) => ({
    code: "reference",
    file: settingsFile ?? "<hub settings>",
    line: doc?.lineOf(["influx", "regions", region]) ?? 0,
    path: `influx.regions.${region}`,
    message: `influx.regions.${region}: the registry has no region "${region}" (its regions: ${known}); use a registry region id or remove the entry`,
  }));
}

/** Registry regions without an InfluxDB of their own while others have one: their sites' points go to the central database. */
export function unlistedRegions(settings: HubSettings, registry: Registry): string[] {
  const listed = settings.influx.regions;
  if (!listed || Object.keys(listed).length === 0) return [];
  return [...registry.regions.keys()].filter((region) => !(region in listed));
}

/** What reads and writes a site's points: the hub's context, or a part of it (`influx`, and the regions when split). */
interface SiteInfluxHolder {
  influx: InfluxConnection["influx"];
  regions?: InfluxRegions;
}

/**
 * `ctx` with `influx` (and `writeLines`, `database` when it has them) of the database that holds `siteId`'s points:
 * the same object when that is the central one. What the supervision rules of a site read and write through.
 */
export function siteInflux<T extends SiteInfluxHolder>(ctx: T, siteId: string): T {
  const connection = ctx.regions?.forSite(siteId);
  if (!connection || !ctx.regions || connection === ctx.regions.central) return ctx;
  const swapped: T = { ...ctx, influx: connection.influx };
  if ("writeLines" in ctx) Object.assign(swapped, { writeLines: connection.writeLines });
  if ("database" in ctx) Object.assign(swapped, { database: connection.database });
  return swapped;
}

/** Every database that holds sites' points: the central one and each region's (one, the central, when not split). */
export function siteDatabases<T extends SiteInfluxHolder & { database: string }>(ctx: T): Array<{ influx: T["influx"]; database: string }> {
  if (!ctx.regions?.split) return [{ influx: ctx.influx, database: ctx.database }];
  return [ctx.regions.central, ...ctx.regions.regions().map(([, c]) => c)].map((c) => ({ influx: c.influx, database: c.database }));
}
