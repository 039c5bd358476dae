import { parseArgs } from "node:util";
import { LOCALES, type Locale } from "@supervision/dashboards";
import { type AuditReport, runAudit } from "../audit/audit.ts";
import { AuditKeyError, auditKeyPath, loadAuditKey } from "../audit/key.ts";
import { auditTexts } from "../audit/messages.ts";
import { influxClient } from "../influx/client.ts";
import { influxRegions, type InfluxRegions, siteDatabases } from "../influx/regions.ts";
import { loadRegistry } from "../registry/loader.ts";
import { SecretFileError } from "../secrets/file.ts";
import { type HubSettings, loadSettings, SettingsError } from "../settings/index.ts";
import { type CliCommand, DEMO_SETTINGS, defaultSettingsFile } from "./command.ts";

const HELP = `Usage: hub audit --from <day|time> [--to <day|time>] [--settings FILE] [--lang zh-CN|en] [--json]

Tamper evidence at rest: re-reads the ratings, sign-ins and motion points of whole UTC days from InfluxDB and
compares them with what the hub verified when it stored each gateway batch (its batch manifests, digested with the
hub's audit key): every reading deleted, altered or added since it was stored, with its device, its sequence number
and the batch it came in, and each gateway's chain (batches stored, last sequence, how many are missing); then the hub's own hash-chained
trail of manual entries, decisions on dissatisfied ratings and warning handling (each record still stored as made).

  --from, --to   YYYY-MM-DD or an ISO time (UTC unless it names a zone); --to defaults to now. Whole UTC days from
                 the day of --from through the day of --to are audited.
  --settings     the hub's settings file: its InfluxDB and its audit key (audit.keyFile, default dataDir/audit.key);
                 default ${DEMO_SETTINGS} when npm start ran here, else config/hub.yaml
  --lang         the report's language (default: supervision.locale of the settings, else zh-CN)
  --json         the report as JSON on stdout (progress still on stderr)

Progress (one line per day) goes to stderr. Exit code: 0 nothing found, 3 findings, 1 error, 2 usage.`;

function parseTime(text: string, name: string): number {
  const value = /^\d{4}-\d{2}-\d{2}$/.test(text) ? Date.parse(`${text}T00:00:00Z`) : Date.parse(text);
  if (!Number.isFinite(value)) throw new Error(`--${name} ${JSON.stringify(text)} is not a day (YYYY-MM-DD) or an ISO time`);
  return value;
}

export const auditCommand: CliCommand = {
  name: "audit",
  summary: "report readings deleted, altered or added in InfluxDB since they were stored (hub audit --from 2026-12-01)",
  async run(args) {
    let values: { from?: string; to?: string; settings?: string; lang?: string; json?: boolean; help?: boolean };
    try {
      values = parseArgs({
        args,
        options: {
          from: { type: "string" },
          to: { type: "string" },
          settings: { type: "string" },
          lang: { type: "string" },
          json: { type: "boolean" },
          help: { type: "boolean", short: "h" },
        },
      }).values;
    } catch (error) {
      console.error(`hub audit: ${(error as Error).message}\n\n${HELP}`);
      return 2;
    }
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    let fromMs: number;
    let toMs: number;
    try {
      if (!values.from) throw new Error("--from is required (e.g. --from 2026-12-01)");
      fromMs = parseTime(values.from, "from");
      toMs = values.to === undefined ? Date.now() : parseTime(values.to, "to");
      if (toMs < fromMs) throw new Error("--to is before --from");
      if (values.lang !== undefined && !(LOCALES as readonly string[]).includes(values.lang))
        throw new Error(`--lang must be one of ${LOCALES.join(", ")}`);
    } catch (error) {
      console.error(`hub audit: ${(error as Error).message}.\n\n${HELP}`);
      return 2;
    }
    let settings: HubSettings;
    let key: Buffer;
    try {
      settings = loadSettings(values.settings ?? defaultSettingsFile("audit"));
      key = loadAuditKey(auditKeyPath(settings), { create: false });
    } catch (error) {
      if (!(error instanceof SettingsError) && !(error instanceof AuditKeyError)) throw error;
      console.error(`hub audit: ${error.message}`);
      return 1;
    }
    const texts = auditTexts((values.lang as Locale | undefined) ?? settings.supervision.locale);
    let client: ReturnType<typeof influxClient>;
    try {
      client = influxClient(settings); // the managed InfluxDB's generated admin password, unless the settings give one
    } catch (error) {
      if (!(error instanceof SecretFileError)) throw error;
      console.error(`hub audit: ${error.message}`);
      return 1;
    }
    const { influx, url } = client;
    // With influx.regions: each region's readings and manifests, and the recorded points where their sites are.
    let regions: InfluxRegions | undefined;
    if (settings.influx.regions) {
      try {
        const registry = loadRegistry(settings.registry.dir);
        regions = influxRegions(settings, client, () => registry);
      } catch (error) {
        if (!(error instanceof SettingsError)) throw error;
        console.error(`hub audit: ${error.message}`);
        return 1;
      }
    }
    let report: AuditReport;
    try {
      report = await runAudit({
        influx,
        database: settings.influx.database,
        ...(regions
          ? {
              sites: siteDatabases({ influx, database: settings.influx.database, regions }),
              siteDatabase: (site: string) => regions.forSite(site),
            }
          : {}),
        fromMs,
        toMs,
        key,
        onDay: (p) => console.error(texts.progress(p)),
      });
    } catch (error) {
      console.error(`hub audit: cannot query InfluxDB at ${url.origin} (${(error as Error).message}); is the hub's InfluxDB running?`);
      return 1;
    }
    if (values.json) console.log(JSON.stringify(report, null, 2));
    else {
      for (const finding of report.findings) console.log(texts.finding(finding));
      console.log(texts.summary({ ...report, findings: report.findings.length }));
      console.log(texts.chainsHeading);
      if (report.chains.length === 0) console.log(`  ${texts.noChains}`);
      for (const chain of report.chains) console.log(`  ${texts.chain(chain)}`);
      if (report.trails.length > 0) console.log(texts.trailsHeading);
      for (const trail of report.trails) console.log(`  ${texts.trail(trail)}`);
    }
    return report.findings.length > 0 || report.trails.some((t) => t.problems.length > 0) ? 3 : 0;
  },
};
