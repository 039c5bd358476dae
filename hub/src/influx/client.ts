import { InfluxDB } from "influx";
import type { HubSettings } from "../settings/index.ts";
import { createLineWriter, type LineWriter } from "./line-writer.ts";

/** The InfluxDB of the hub's settings: `influx.url`, or the managed influxd on its port. */
export function influxClient(
  settings: HubSettings,
  url = settings.influx.url ?? `http://127.0.0.1:${settings.influx.managedPort}`,
): { influx: InfluxDB; writeLines: LineWriter; url: URL } {
  const parsed = new URL(url);
  const { database, username, password } = settings.influx;
  return {
    url: parsed,
    writeLines: createLineWriter({ url, database, username, password }),
    influx: new InfluxDB({
      host: parsed.hostname,
      port: Number(parsed.port || 8086),
      protocol: parsed.protocol === "https:" ? "https" : "http",
      database: settings.influx.database,
      username: settings.influx.username,
      password: settings.influx.password,
    }),
  };
}
