import { localDate, startOfLocalDay } from "@supervision/firmware-protocols";
import type { InfluxDB } from "influx";
import type { HubContext, HubExtension, Registry, Site } from "@supervision/hub";

/** One line of the live summary: what the supervision centre wants to see per hall or site at a glance. */
export interface SiteSummary {
  site: string;
  kind: "hall" | "site";
  devicesOnline: number | null;
  devicesTotal: number;
  /** The site's local day counted: today, or before the first rating or sign-in of today that of the latest one (24 h back). */
  day: string;
  ratingsToday: number;
  /** Share of rated transactions rated very satisfied or satisfied; null before the first rating. */
  satisfaction: number | null;
  signedIn: number;
  people: number;
  /** Readings waiting in the site's gateway; null when the gateway has not reported. */
  backlog: number | null;
}

const quote = (id: string) => `'${id.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;

/**
 * Reads the figures of each site's working day from InfluxDB (several hub copies see the same numbers): today's,
 * or, before a site's first rating or sign-in of the day (at night, say, when the demo plays the last working day),
 * those of the day of its latest one in the last 24 h, with that day shown. A construction site has only sign-ins.
 */
export async function summarize(influx: InfluxDB, registry: Registry, now: number): Promise<SiteSummary[]> {
  const health = await influx.query<{ gateway: string; online: number; total: number; depth: number }>(
    `SELECT last(devices_online) AS online, last(devices_total) AS total, last(buffer_depth) AS depth FROM health.gateway_health WHERE time > ${now - 120_000}ms GROUP BY gateway`,
  );
  const byGateway = new Map(health.map((h) => [h.gateway, h]));
  return Promise.all(
    [...registry.sites.values()].map(async (site: Site): Promise<SiteSummary> => {
      const latest = await influx.query<{ time: { getTime(): number } }>(
        `SELECT last(seq) FROM raw.rating, raw.signin WHERE time > ${now - 86_400_000}ms AND time <= ${now}ms AND site = ${quote(site.id)}`,
      );
      const dayOf = latest.length === 0 ? now : Math.max(...latest.map((row) => row.time.getTime()));
      const since = `time >= ${startOfLocalDay(dayOf, site.tz)}ms AND site = ${quote(site.id)}`;
      const [ratings, signins] = await Promise.all([
        influx.query<{ rated: number; positive: number }>(
          `SELECT sum(rated) AS rated, sum(positive) AS positive FROM raw.rating WHERE ${since}`,
        ),
        influx.query<{ person: string; direction: string; time: { getTime(): number } }>(
          `SELECT last(seq) FROM raw.signin WHERE ${since} GROUP BY person, direction`,
        ),
      ]);
      const lastIn = new Map<string, number>();
      const lastOut = new Map<string, number>();
      for (const s of signins) (s.direction === "in" ? lastIn : lastOut).set(s.person, s.time.getTime());
      const signedIn = [...lastIn].filter(([person, t]) => t > (lastOut.get(person) ?? -1)).length;
      const gateway = byGateway.get(site.gateway);
      const rated = ratings[0]?.rated ?? 0;
      return {
        site: site.id,
        kind: site.kind,
        devicesOnline: gateway?.online ?? null,
        devicesTotal: [...registry.devices.values()].filter((d) => d.site === site.id).length,
        day: localDate(dayOf, site.tz),
        ratingsToday: rated,
        satisfaction: rated > 0 ? (ratings[0]?.positive ?? 0) / rated : null,
        signedIn,
        people: [...registry.people.values()].filter((p) => p.site === site.id).length,
        backlog: gateway?.depth ?? null,
      };
    }),
  );
}

export function formatSummary(rows: SiteSummary[], now: number): string {
  // Fits an 80-column terminal for site ids up to 13 characters ("online": devices online of the site's devices).
  const header = ["site", "kind", "online", "day", "ratings", "satisfied", "signed in", "backlog"];
  const cells = rows.map((r) => [
    r.site,
    r.kind,
    `${r.devicesOnline ?? "?"}/${r.devicesTotal}`,
    r.day,
    String(r.ratingsToday),
    r.satisfaction === null ? "-" : `${(r.satisfaction * 100).toFixed(1)}%`,
    `${r.signedIn}/${r.people}`,
    r.backlog === null ? "?" : String(r.backlog),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) =>
    c
      .map((v, i) => v.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  return [`Live summary at ${new Date(now).toISOString()} (every 5 s; Ctrl-C stops everything)`, line(header), ...cells.map(line)].join(
    "\n",
  );
}

/** Prints the summary on an interval while the hub runs; `npm start` adds it. */
export function createLiveSummary(print: (screen: string) => void, intervalMs = 5000): HubExtension {
  let timer: NodeJS.Timeout | undefined;
  let last = "";
  return {
    name: "live-summary",
    async start(ctx: HubContext) {
      const tick = () => {
        const now = ctx.now();
        summarize(ctx.influx, ctx.registry.current(), now).then(
          (rows) => {
            last = formatSummary(rows, now);
            print(last);
          },
          (error: Error) => ctx.logger.warn({ err: error }, "live summary query failed"),
        );
      };
      timer = setInterval(tick, intervalMs);
      tick();
    },
    async stop() {
      clearInterval(timer);
    },
    status: () => ({ last }),
  };
}
