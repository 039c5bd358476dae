import { Counter, Gauge } from "prom-client";
import { siteDatabases, siteInflux } from "../influx/regions.ts";
import type { LineWriter } from "../influx/line-writer.ts";
import type { HubContext, HubExtension } from "../controller/extension.ts";
import { LineGroups } from "../ingest/writer.ts";
import { lineDigest } from "../ingest/manifest.ts";
import { integrityAlertPoint, retentionPolicyFor } from "../ingest/points.ts";
import { encodePoint } from "../influx/line-protocol.ts";
import { type AuditReport, DAY_MS, type Finding, runAudit } from "./audit.ts";
import { auditTexts } from "./messages.ts";
import type { Locale } from "@supervision/dashboards";

export interface ScheduledAuditOptions {
  /** Minutes between audits (0: none). */
  intervalMinutes: number;
  /** Whole UTC days back from today each audit covers. */
  days: number;
  key: Buffer;
  locale: Locale;
  /** Tests shorten the interval. */
  intervalMs?: number;
}

/**
 * The scheduled audit: every `intervalMinutes` the last `days` UTC days are audited (hub/src/audit/audit.ts), and each
 * finding becomes an `integrity_alert` of kind `audit` on the gateway it concerns (the supervision rules turn those
 * into warnings). An alert's time is the reading's, so the next audit finding the same thing rewrites the same point.
 */
export function createAuditExtension(opts: ScheduledAuditOptions): HubExtension {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let last: { at: string; findings: number; readings: number; error?: string } | undefined;

  async function auditOnce(ctx: HubContext, metrics: ReturnType<typeof auditMetrics>): Promise<void> {
    const now = ctx.now();
    const report = await runAudit({
      influx: ctx.influx,
      database: ctx.database,
      // With influx.regions: each region's readings and manifests, and the recorded points where their sites are.
      sites: siteDatabases(ctx),
      siteDatabase: (site) => siteInflux(ctx, site),
      fromMs: Math.floor(now / DAY_MS) * DAY_MS - (opts.days - 1) * DAY_MS,
      toMs: now,
      key: opts.key,
    });
    await storeFindings(ctx, report);
    metrics.runs.inc();
    for (const kind of ["deleted", "altered", "added", "unverified"] as const)
      metrics.findings.set({ kind }, report.findings.filter((f) => f.kind === kind).length);
    last = { at: new Date(now).toISOString(), findings: report.findings.length, readings: report.readings };
    if (report.findings.length > 0)
      ctx.logger.warn({ findings: report.findings.length, first: report.findings[0] }, "audit found changed readings");
  }

  async function storeFindings(ctx: HubContext, report: AuditReport): Promise<void> {
    const trailProblems = report.trails.filter((t) => t.problems.length > 0);
    if (report.findings.length === 0 && trailProblems.length === 0) return;
    const texts = auditTexts(opts.locale);
    const registry = ctx.registry.current();
    // Each alert where its gateway's site keeps its points (influx.regions; the equipment rule reads it there), the
    // trail's (gateway "hub") in the central database.
    const byDatabase = new Map<LineWriter, LineGroups>();
    const groupsOf = (gatewayId: string): LineGroups => {
      const write = ctx.regions?.split ? ctx.regions.forGateway(gatewayId).writeLines : ctx.writeLines;
      let groups = byDatabase.get(write);
      if (!groups) byDatabase.set(write, (groups = new LineGroups({ source: "alert" })));
      return groups;
    };
    for (const finding of report.findings) {
      const gatewayId = finding.gateway ?? gatewayOfDevice(registry, finding) ?? "unknown";
      const point = integrityAlertPoint({
        gatewayId,
        kind: "audit",
        epoch: finding.epoch ?? "",
        seq: finding.batchSeq ?? 0,
        detail: texts.finding(finding),
        atMs: Date.parse(finding.time),
        discriminator:
          Number.parseInt(lineDigest(`${finding.kind}/${finding.measurement}/${finding.device}/${finding.seq}`), 16) % 1_000_000,
      });
      groupsOf(gatewayId).add(retentionPolicyFor(point.measurement), encodePoint(point));
    }
    for (const trail of trailProblems) {
      const point = integrityAlertPoint({
        gatewayId: "hub",
        kind: "audit",
        epoch: "",
        seq: 0,
        detail: texts.trail(trail),
        atMs: Math.floor(ctx.now() / 60_000) * 60_000,
        discriminator: Number.parseInt(lineDigest(trail.book), 16) % 1_000_000,
      });
      const central = ctx.regions?.split ? ctx.regions.central.writeLines : ctx.writeLines;
      let groups = byDatabase.get(central);
      if (!groups) byDatabase.set(central, (groups = new LineGroups({ source: "alert" })));
      groups.add(retentionPolicyFor(point.measurement), encodePoint(point));
    }
    for (const [write, groups] of byDatabase) for (const [policy, pieces] of groups.bodies()) await write(pieces, policy, 15_000);
  }

  return {
    name: "audit",
    async start(ctx) {
      if (opts.intervalMinutes === 0 && opts.intervalMs === undefined) return;
      const metrics = auditMetrics(ctx);
      const every = opts.intervalMs ?? opts.intervalMinutes * 60_000;
      timer = setInterval(() => {
        if (running) return; // one audit at a time
        running = auditOnce(ctx, metrics)
          .catch((e: unknown) => {
            last = { at: new Date(ctx.now()).toISOString(), findings: 0, readings: 0, error: (e as Error).message };
            ctx.logger.warn({ err: (e as Error).message }, "scheduled audit failed; next run at the next interval");
          })
          .finally(() => (running = undefined));
      }, every);
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await running;
    },
    status() {
      return { intervalMinutes: opts.intervalMinutes, days: opts.days, last: last ?? null };
    },
  };
}

/** The gateway serving the site of a device the registry knows (an added reading names no batch). */
function gatewayOfDevice(registry: ReturnType<HubContext["registry"]["current"]>, finding: Finding): string | undefined {
  const site = registry.devices.get(finding.device)?.site;
  return site === undefined ? undefined : registry.sites.get(site)?.gateway;
}

function auditMetrics(ctx: HubContext) {
  const registers = [ctx.metrics];
  return {
    runs:
      (ctx.metrics.getSingleMetric("hub_audit_runs_total") as Counter | undefined) ??
      new Counter({ name: "hub_audit_runs_total", help: "Scheduled audits completed", registers }),
    findings:
      (ctx.metrics.getSingleMetric("hub_audit_findings") as Gauge<"kind"> | undefined) ??
      new Gauge({ name: "hub_audit_findings", help: "Findings of the last scheduled audit, by kind", labelNames: ["kind"], registers }),
  };
}
