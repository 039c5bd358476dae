/** Idempotent provisioning: data source, folder and the supervision dashboards; writes only what differs. */
import { allDashboards, DATASOURCE_NAME, DATASOURCE_UID, type Dashboard, type RegistryNames, withNames } from "@supervision/dashboards";
import type { Registry } from "../registry/schema.ts";
import type { DataSourceBody, GrafanaClient } from "./client.ts";
import type { GrafanaSettings } from "./settings.ts";

export const FOLDER_UID = "supervision";
export { DATASOURCE_NAME };

/** A region's InfluxDB as Grafana reaches it: its own data source, which the dashboards' data source variable offers. */
export interface RegionDataSource {
  region: string;
  /** The region's name in the registry (the data source's name shows it). */
  name: string;
  url: string;
  database: string;
}

/** The data source uid of a region (the central one is DATASOURCE_UID). */
export const regionDataSourceUid = (region: string): string => `${DATASOURCE_UID}-${region}`;

export interface ProvisionReport {
  grafanaVersion: string | undefined;
  datasource: "created" | "updated" | "unchanged";
  /** Each region's data source, by region id (absent without influx.regions). */
  regionDatasources?: Record<string, "created" | "updated" | "unchanged">;
  folder: "created" | "unchanged";
  dashboards: Record<string, "created" | "updated" | "unchanged">;
}

export function dataSourceBody(settings: GrafanaSettings, region?: RegionDataSource): DataSourceBody {
  const { user, password } = settings.datasource;
  const { url, database } = region ?? settings.datasource;
  return {
    uid: region ? regionDataSourceUid(region.region) : DATASOURCE_UID,
    name: region ? `${DATASOURCE_NAME} · ${region.name}` : DATASOURCE_NAME,
    type: "influxdb",
    access: "proxy",
    url,
    user,
    jsonData: { dbName: database, httpMode: "GET", version: "InfluxQL" },
    secureJsonData: { password },
  };
}

/** The registry's names by id, for the dashboards' tag columns (people, windows, departments, sites, approval items by name). */
export function registryNames(registry: Registry): RegistryNames {
  const names = (items: Map<string, { name: string }>) => Object.fromEntries([...items].map(([id, item]) => [id, item.name]));
  return {
    regions: names(registry.regions),
    towns: names(registry.towns),
    sites: names(registry.sites),
    departments: names(registry.departments),
    windows: names(registry.windows),
    people: names(registry.people),
    // An item is known by its code as well as its name: shown together.
    items: Object.fromEntries([...(registry.items ?? new Map())].map(([code, item]) => [code, `${code} ${item.name}`])),
  };
}

/** The dashboards in the settings' language, showing the registry's names where the data holds ids. */
export function namedDashboards(settings: GrafanaSettings, registry: Registry | undefined): Dashboard[] {
  const dashboards = allDashboards(settings.locale, { hubUrl: settings.hubUrl });
  return registry ? withNames(dashboards, registryNames(registry)) : dashboards;
}

/** True when every key we set is already there with the same value (Grafana adds id, version, meta). */
export function sameAs(wanted: unknown, existing: unknown): boolean {
  if (wanted === null || typeof wanted !== "object") return wanted === existing;
  if (existing === null || typeof existing !== "object") return false;
  if (Array.isArray(wanted)) {
    return Array.isArray(existing) && wanted.length === existing.length && wanted.every((item, i) => sameAs(item, existing[i]));
  }
  const other = existing as Record<string, unknown>;
  return Object.entries(wanted).every(([key, value]) => sameAs(value, other[key]));
}

/** Creates or updates one data source; only the readable fields decide (the password is write-only in Grafana). */
async function ensureDataSource(client: GrafanaClient, body: DataSourceBody): Promise<"created" | "updated" | "unchanged"> {
  const existing = await client.getDataSource(body.uid);
  if (existing === undefined) {
    await client.createDataSource(body);
    return "created";
  }
  const { secureJsonData: _password, ...readable } = body;
  if (sameAs(readable, existing)) return "unchanged";
  await client.updateDataSource(body.uid, body);
  return "updated";
}

export async function provision(
  client: GrafanaClient,
  settings: GrafanaSettings,
  dashboards: Dashboard[] = allDashboards(settings.locale, { hubUrl: settings.hubUrl }),
  regions: readonly RegionDataSource[] = [],
): Promise<ProvisionReport> {
  // A 503 here (Grafana's own database failing) throws and is retried like an unreachable Grafana.
  const health = await client.health();
  const report: ProvisionReport = { grafanaVersion: health.version, datasource: "unchanged", folder: "unchanged", dashboards: {} };

  report.datasource = await ensureDataSource(client, dataSourceBody(settings));
  // One per region with an InfluxDB of its own; a region dropped from the settings keeps its data source (not ours to delete blindly).
  if (regions.length > 0) report.regionDatasources = {};
  for (const region of regions) report.regionDatasources![region.region] = await ensureDataSource(client, dataSourceBody(settings, region));

  if ((await client.getFolder(FOLDER_UID)) === undefined) {
    await client.createFolder(FOLDER_UID, settings.folderTitle);
    report.folder = "created";
  }

  // Only our own uids are read or written, so users' copies and other folders are never touched.
  for (const dashboard of dashboards) {
    const existing = await client.getDashboard(dashboard.uid);
    if (existing !== undefined && existing.meta.folderUid === FOLDER_UID && sameAs(dashboard, existing.dashboard)) {
      report.dashboards[dashboard.uid] = "unchanged";
      continue;
    }
    await client.saveDashboard(dashboard, FOLDER_UID, "provisioned by the supervision hub");
    report.dashboards[dashboard.uid] = existing === undefined ? "created" : "updated";
  }
  return report;
}

/** The region data sources of the hub's influx.regions, at grafana.regions' URLs where given, named from the registry. */
export function regionDataSources(
  settings: GrafanaSettings,
  regions: ReadonlyArray<readonly [string, { url: URL; database: string }]>,
  registry: Registry | undefined,
): RegionDataSource[] {
  return regions.map(([region, connection]) => {
    const given = settings.regions?.[region];
    return {
      region,
      name: registry?.regions.get(region)?.name ?? region,
      url: given?.url ?? connection.url.href.replace(/\/$/, ""),
      database: given?.database ?? connection.database,
    };
  });
}
