import { InfluxDB } from "influx";
import { influxCredentials } from "../secrets/hub-secrets.ts";
import type { HubSettings } from "../settings/index.ts";
import { createLineWriter, type LineWriter } from "./line-writer.ts";

/**
 * The InfluxDB of the hub's settings: `influx.url`, or the managed influxd on its port, with the credentials of
 * `influxCredentials` (the managed influxd's generated admin password unless the settings give them).
 */
export function influxClient(
  settings: HubSettings,
  url = settings.influx.url ?? `http://127.0.0.1:${settings.influx.managedPort}`,
  credentials: { username?: string; password?: string } = influxCredentials(settings, { generate: false }),
): { influx: InfluxDB; writeLines: LineWriter; url: URL } {
  const parsed = new URL(url);
  const { database } = settings.influx;
  const { username, password } = credentials;
  return {
    url: parsed,
    writeLines: createLineWriter({ url, database, username, password }),
    influx: new InfluxDB({
      host: parsed.hostname,
      port: Number(parsed.port || 8086),
      protocol: parsed.protocol === "https:" ? "https" : "http",
      database: settings.influx.database,
      username,
      password,
    }),
  };
}
