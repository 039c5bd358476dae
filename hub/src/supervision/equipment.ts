import { escape, type InfluxDB, type IPoint } from "influx";
import type { WarningEvent } from "../controller/extension.ts";
import type { Registry, Site } from "../registry/schema.ts";

/** A gateway reports every 10 s; silence this long means it is offline. */
const GATEWAY_SILENCE_MS = 3 * 60_000;
const BACKLOG_WARN_READINGS = 10_000;
const BACKLOG_WARN_AGE_S = 15 * 60;

type Row = Record<string, unknown> & { time: { getTime(): number } };
const q = (s: string) => escape.stringLit(s);

/**
 * Warnings for field engineers, apart from warnings about people: a gateway or a device gone quiet, a backlog
 * piling up in a gateway, integrity alerts from the hub. Each is timestamped at the fact it rests on (last
 * contact, the alert), so re-evaluation rewrites the same point; one that no longer holds is written inactive.
 */
export async function equipmentWarnings(
  influx: InfluxDB,
  registry: Registry,
  site: Site,
  now: number,
): Promise<{ warnings: WarningEvent[]; points: IPoint[] }> {
  const town = registry.towns.get(site.town);
  const where = { region: town?.region ?? "", town: site.town, site: site.id };
  const warnings: WarningEvent[] = [];
  const add = (subjectKind: "gateway" | "device", subject: string, rule: string, ts: number, message: string) =>
    warnings.push({ ts, site: site.id, category: "equipment", subjectKind, subject, rule, severity: "warning", active: true, message });

  const gateway = site.gateway;
  const since = now - 2 * 86_400_000;
  const [health, heartbeats, alerts, open] = await Promise.all([
    // Not two last() selectors: with more than one, InfluxQL reports the range's start instead of the point's time.
    influx.query<Row>(
      `SELECT "buffer_depth" AS depth, "oldest_age_s" AS age FROM "health"."gateway_health" WHERE "gateway" = ${q(gateway)} AND time > ${since}ms ORDER BY time DESC LIMIT 1`,
    ),
    influx.query<Row>(
      `SELECT last("interval_s") AS interval FROM "health"."heartbeat" WHERE "site" = ${q(site.id)} AND time > ${since}ms GROUP BY "device"`,
    ),
    influx.query<Row>(
      `SELECT "detail", "seq" FROM "raw"."integrity_alert" WHERE "gateway" = ${q(gateway)} AND time > ${now - 86_400_000}ms`,
    ),
    influx.query<Row>(
      `SELECT "message", "active" FROM "raw"."warning" WHERE "site" = ${q(site.id)} AND "category" = 'equipment' AND time > ${since}ms GROUP BY "subject_kind", "subject", "rule", "severity"`,
    ),
  ]);
  const last = health[0];
  if (last && now - last.time.getTime() > GATEWAY_SILENCE_MS)
    add(
      "gateway",
      gateway,
      "offline",
      last.time.getTime(),
      `gateway ${gateway} silent since ${last.time.getTime() ? new Date(last.time.getTime()).toISOString() : "?"}`,
    );
  if (last && (Number(last.depth) > BACKLOG_WARN_READINGS || Number(last.age) > BACKLOG_WARN_AGE_S))
    add(
      "gateway",
      gateway,
      "backlog",
      last.time.getTime(),
      `gateway ${gateway} holds ${Number(last.depth)} unsent readings, the oldest ${Math.round(Number(last.age))} s old`,
    );
  for (const hb of heartbeats) {
    const device = String((hb as { device?: string }).device ?? "");
    if (!registry.devices.has(device)) continue;
    const silentMs = now - hb.time.getTime();
    if (silentMs > 2.5 * Number(hb.interval) * 1000)
      add("device", device, "offline", hb.time.getTime(), `device ${device} silent for ${Math.round(silentMs / 60_000)} min`);
  }
  for (const a of alerts)
    add("gateway", gateway, "integrity", a.time.getTime(), `integrity alert from ${gateway} (batch ${Number(a.seq)}): ${String(a.detail)}`);

  const point = (w: WarningEvent, active: 0 | 1): IPoint => ({
    measurement: "warning",
    timestamp: `${w.ts}000000`,
    tags: { ...where, category: "equipment", subject_kind: w.subjectKind, subject: w.subject, rule: w.rule, severity: w.severity },
    fields: { active, message: w.message },
  });
  const points = warnings.map((w) => point(w, 1));
  // Earlier warnings that no longer hold are closed.
  for (const o of open) {
    const tags = o as unknown as { subject_kind: string; subject: string; rule: string };
    if (Number(o.active) !== 1) continue;
    const still = warnings.some((w) => w.subject === tags.subject && w.rule === tags.rule && w.ts === o.time.getTime());
    if (!still)
      points.push(
        point(
          {
            ts: o.time.getTime(),
            site: site.id,
            category: "equipment",
            subjectKind: tags.subject_kind as "gateway",
            subject: tags.subject,
            rule: tags.rule,
            severity: "warning",
            active: false,
            message: String(o.message),
          },
          0,
        ),
      );
  }
  return { warnings, points };
}
