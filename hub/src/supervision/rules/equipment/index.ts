import type { WarningEvent } from "../../../controller/extension.ts";
import { ns } from "../../../influx/query.ts";
import { schemaPoint, type SchemaPoint } from "../../../schema/index.ts";
import { availability, offlineMs } from "../../availability.ts";
import type { SiteRule, WarningFinding } from "../rule.ts";

/** A gateway reports every 10 s; silence this long means it is offline. */
const GATEWAY_SILENCE_MS = 3 * 60_000;
const BACKLOG_WARN_READINGS = 10_000;
const BACKLOG_WARN_AGE_S = 15 * 60;

/**
 * Warnings for field engineers, apart from warnings about people: a gateway or a device gone quiet, a backlog
 * piling up in a gateway, integrity alerts from the hub. Each is timestamped at the fact it rests on (last
 * contact, the alert), so re-evaluation rewrites the same point; one that no longer holds is written inactive.
 * See README.md.
 */
export const equipment: SiteRule = {
  scope: "site",
  name: "equipment",
  async judge({ registry, site, place, now, readings, text }) {
    const warnings: WarningEvent[] = [];
    const add = (subjectKind: "gateway" | "device", subject: string, rule: string, ts: number, message: string) =>
      warnings.push({ ts, site: site.id, category: "equipment", subjectKind, subject, rule, severity: "warning", active: true, message });

    const gateway = site.gateway;
    const [health, histories, alerts, open] = await Promise.all([
      readings.lastGatewayHealth(),
      readings.deviceHistories(),
      readings.integrityAlerts(),
      readings.equipmentWarnings(),
    ]);
    const last = health[0];
    if (last && now - last.time.getTime() > GATEWAY_SILENCE_MS)
      add("gateway", gateway, "offline", last.time.getTime(), text.gatewaySilent({ gateway, since: last.time.getTime() }));
    if (last && (Number(last.depth) > BACKLOG_WARN_READINGS || Number(last.age) > BACKLOG_WARN_AGE_S))
      add(
        "gateway",
        gateway,
        "backlog",
        last.time.getTime(),
        text.gatewayBacklog({ gateway, depth: Number(last.depth), ageS: Math.round(Number(last.age)) }),
      );
    // A device is offline when silent past 2.5 of its heartbeat intervals: judged here from its heartbeats, or reported
    // by its gateway at that moment (presence); either way the warning is stamped at its last heartbeat.
    const records: SchemaPoint[] = [];
    const hour = Math.floor(now / 3_600_000) * 3_600_000;
    for (const [device, history] of histories) {
      const known = registry.devices.get(device);
      if (!known) continue;
      if (history.state === "offline" && history.lastSeen !== undefined)
        add(
          "device",
          device,
          "offline",
          history.lastSeen,
          text.deviceSilent({ device, minutes: Math.round((now - history.lastSeen) / 60_000) }),
        );
      for (const from of [hour - 3_600_000, hour]) {
        const to = Math.min(from + 3_600_000, now);
        const share = availability(history, from, to);
        if (share === undefined) continue;
        const start = Math.max(from, history.knownFrom ?? from);
        records.push(
          schemaPoint(
            "device_availability",
            ns(from),
            { ...place, device, device_kind: known.kind },
            {
              availability: share,
              offline_s: Math.round(offlineMs(history, start, to) / 1000),
              span_s: Math.round((to - start) / 1000),
            },
          ),
        );
      }
    }
    for (const a of alerts)
      add(
        "gateway",
        gateway,
        "integrity",
        a.time.getTime(),
        text.integrityAlert({ gateway, seq: Number(a.seq), detail: String(a.detail) }),
      );

    const found: WarningFinding[] = warnings.map((event) => ({ event, active: 1 }));
    // Earlier warnings that no longer hold are closed.
    for (const o of open) {
      const tags = o as unknown as { subject_kind: string; subject: string; rule: string };
      if (Number(o.active) !== 1) continue;
      const still = warnings.some((w) => w.subject === tags.subject && w.rule === tags.rule && w.ts === o.time.getTime());
      if (!still)
        found.push({
          event: {
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
          active: 0,
        });
    }
    return { warnings: found, records };
  },
};
