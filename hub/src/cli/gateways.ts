import type { InfluxDB } from "influx";
import { influxClient } from "../influx/client.ts";
import { influxRegions } from "../influx/regions.ts";
import { SecretFileError } from "../secrets/file.ts";
import { type CliCommand, helpOrSettings } from "./command.ts";

const HELP = `Usage: hub gateways [--settings config/hub.yaml]

One line per gateway from InfluxDB: last contact, online, backlog (buffered readings, oldest age) and
integrity state (alerts in the last 24 h). Uses the InfluxDB of the settings file (the managed one by default),
and each region's of influx.regions.`;

export interface GatewayRow {
  gateway: string;
  site: string;
  lastContact: string;
  online: boolean;
  backlog: number;
  oldestAgeS: number;
  integrityAlerts24h: number;
}

/** Reads each gateway's latest gateway_health point and its integrity alerts of the last day. */
export async function gatewayRows(influx: InfluxDB): Promise<GatewayRow[]> {
  const health = await influx.query<{
    time: Date;
    gateway: string;
    site: string;
    online: number;
    buffer_depth: number;
    oldest_age_s: number;
  }>(
    // One row per gateway: its newest point (several last() in one query would lose the point's time).
    'SELECT "online", "buffer_depth", "oldest_age_s" FROM "health"."gateway_health" GROUP BY "gateway", "site" ORDER BY time DESC LIMIT 1',
  );
  const alerts = await influx.query<{ gateway: string; count: number }>(
    'SELECT count("seq") AS count FROM "integrity_alert" WHERE time > now() - 24h GROUP BY "gateway"',
  );
  const alertsOf = new Map(alerts.map((a) => [a.gateway, a.count]));
  return health
    .map((h) => ({
      gateway: h.gateway,
      site: h.site,
      lastContact: h.time.toISOString(),
      online: h.online === 1,
      backlog: h.buffer_depth ?? 0,
      oldestAgeS: h.oldest_age_s ?? 0,
      integrityAlerts24h: alertsOf.get(h.gateway) ?? 0,
    }))
    .sort((a, b) => a.gateway.localeCompare(b.gateway));
}

/** Listing every database needs no site's region: the registry is not read. */
const noSiteLookup = (): never => {
  throw new Error("hub gateways reads every database and looks up no site");
};

export const gatewaysCommand: CliCommand = {
  name: "gateways",
  summary: "each gateway's last contact, backlog and integrity state",
  async run(args) {
    const loaded = helpOrSettings("gateways", args, HELP);
    if ("exitCode" in loaded) return loaded.exitCode;
    const { settings } = loaded;
    let client: ReturnType<typeof influxClient>;
    try {
      client = influxClient(settings);
    } catch (err) {
      if (!(err instanceof SecretFileError)) throw err;
      console.error(`hub gateways: ${err.message}`);
      return 1;
    }
    // The central InfluxDB, and each region's with influx.regions (a gateway's health is where its site's points are).
    const databases = [
      client,
      ...influxRegions(settings, client, noSiteLookup)
        .regions()
        .map(([, c]) => c),
    ];
    const rows: GatewayRow[] = [];
    for (const { influx, url } of databases)
      try {
        rows.push(...(await gatewayRows(influx)));
      } catch (err) {
        console.error(
          `hub gateways: cannot query InfluxDB at ${url.origin} (${(err as Error).message}); is the hub running ("hub start")?`,
        );
        return 1;
      }
    rows.sort((a, b) => a.gateway.localeCompare(b.gateway));
    if (rows.length === 0) console.log("no gateway has reported yet");
    for (const r of rows) {
      console.log(
        `${r.gateway.padEnd(16)} ${r.site.padEnd(12)} ${r.online ? "online " : "OFFLINE"} last ${r.lastContact}  backlog ${r.backlog} (oldest ${Math.round(r.oldestAgeS)} s)  integrity ${r.integrityAlerts24h === 0 ? "ok" : `${r.integrityAlerts24h} alert(s) in 24 h`}`,
      );
    }
    return 0;
  },
};
