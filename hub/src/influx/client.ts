import { InfluxDB } from "influx";
import { influxCredentials } from "../secrets/hub-secrets.ts";
import type { HubSettings } from "../settings/index.ts";
import { createLineWriter, type LineWriter } from "./line-writer.ts";

/** One InfluxDB database: the query client, the line-protocol write path and where it is. */
export interface InfluxConnection {
  influx: InfluxDB;
  writeLines: LineWriter;
  url: URL;
  database: string;
}

/** A connection to `database` at `url` (http or https; a port-less URL means 8086). */
export function connectInflux(url: string, database: string, credentials: { username?: string; password?: string } = {}): InfluxConnection {
  const parsed = new URL(url);
  const { username, password } = credentials;
  return {
    url: parsed,
    database,
    writeLines: createLineWriter({ url, database, username, password }),
    influx: new InfluxDB({
      host: parsed.hostname,
      port: Number(parsed.port || 8086),
      protocol: parsed.protocol === "https:" ? "https" : "http",
      database,
      username,
      password,
    }),
  };
}

/**
 * The InfluxDB of the hub's settings: `influx.url`, or the managed influxd on its port, with the credentials of
 * `influxCredentials` (the managed influxd's generated admin password unless the settings give them). With
 * `influx.regions` this is the central database (`regions.ts`).
 */
export function influxClient(
  settings: HubSettings,
  url = settings.influx.url ?? `http://127.0.0.1:${settings.influx.managedPort}`,
  credentials: { username?: string; password?: string } = influxCredentials(settings, { generate: false }),
): InfluxConnection {
  return connectInflux(url, settings.influx.database, credentials);
}
