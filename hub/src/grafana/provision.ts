/** Idempotent provisioning: data source, folder and the supervision dashboards; writes only what differs. */
import { allDashboards, DATASOURCE_UID, type Dashboard, type RegistryNames, withNames } from "@supervision/dashboards";
import type { Registry } from "../registry/schema.ts";
import type { DataSourceBody, GrafanaClient } from "./client.ts";
import type { GrafanaSettings } from "./settings.ts";

export const FOLDER_UID = "supervision";
export const DATASOURCE_NAME = "Supervision InfluxDB";

export interface ProvisionReport {
  grafanaVersion: string | undefined;
  datasource: "created" | "updated" | "unchanged";
  folder: "created" | "unchanged";
  dashboards: Record<string, "created" | "updated" | "unchanged">;
}

export function dataSourceBody(settings: GrafanaSettings): DataSourceBody {
  const { url, database, user, password } = settings.datasource;
  return {
    uid: DATASOURCE_UID,
    name: DATASOURCE_NAME,
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

export async function provision(
  client: GrafanaClient,
  settings: GrafanaSettings,
  dashboards: Dashboard[] = allDashboards(settings.locale, { hubUrl: settings.hubUrl }),
): Promise<ProvisionReport> {
  // A 503 here (Grafana's own database failing) throws and is retried like an unreachable Grafana.
  const health = await client.health();
  const report: ProvisionReport = { grafanaVersion: health.version, datasource: "unchanged", folder: "unchanged", dashboards: {} };

  const body = dataSourceBody(settings);
  const existingSource = await client.getDataSource(DATASOURCE_UID);
  if (existingSource === undefined) {
    await client.createDataSource(body);
    report.datasource = "created";
  } else {
    // The password is write-only in Grafana, so only the readable fields decide whether to update.
    const { secureJsonData: _password, ...readable } = body;
    if (!sameAs(readable, existingSource)) {
      await client.updateDataSource(DATASOURCE_UID, body);
      report.datasource = "updated";
    }
  }

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
