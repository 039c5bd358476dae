import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { API_HELP, API_OPTIONS, type ApiOptionValues, callApi, DEFAULT_URL } from "../cli/api.ts";
import { type CliCommand, DEMO_SETTINGS, defaultSettingsFile } from "../cli/command.ts";
import { influxClient } from "../influx/client.ts";
import { influxRegions, siteDatabases } from "../influx/regions.ts";
import { SecretFileError } from "../secrets/file.ts";
import { loadRegistry, RegistryLoadError } from "../registry/loader.ts";
import type { Registry } from "../registry/schema.ts";
import { type HubSettings, loadSettings, SettingsError } from "../settings/index.ts";
import { type MonthlyReport, monthlyReport, renderReport } from "./report.ts";
import type { ListedWarning } from "./handling-api.ts";

/** POSTs to the running hub's API with a token; prints `done(answer)` or the hub's error. Resolves to the exit code. */
async function post(
  name: string,
  values: ApiOptionValues,
  path: string,
  body: unknown,
  done: (answer: Record<string, unknown>) => string,
): Promise<number> {
  const result = await callApi(values, "POST", path, body);
  if (!result.ok) {
    console.error(`hub ${name}: ${result.error}`);
    return 1;
  }
  console.log(done(result.answer));
  return 0;
}

/** Runs a parseArgs call; a bad option is reported with the command's help. */
function parsed<T>(name: string, help: string, parse: () => T): T | undefined {
  try {
    return parse();
  } catch (error) {
    console.error(`hub ${name}: ${(error as Error).message}\n\n${help}`);
    return undefined;
  }
}

const common = { ...API_OPTIONS, help: { type: "boolean", short: "h" } } as const;

function decision(name: "verify" | "dismiss"): CliCommand {
  const HELP = `Usage: hub ${name} <device>:<seq>${name === "verify" ? " [--fault clerk|unit]" : ""}
         [--url ${DEFAULT_URL}] [--token T | --token-file F [--as NAME]]

${
  name === "verify"
    ? "Confirms a dissatisfied rating after checking it: it then costs the clerk 2\npoints (--fault clerk, the default) or the window unit 10 (--fault unit)."
    : "Dismisses a dissatisfied rating after checking it: it costs nothing."
}
The rating is named by its keypad and sequence number (<device>:<seq>), as the
big screen's "dissatisfied ratings to verify" and the "dissatisfaction" series
show it. Who decided is recorded: the name of the API token (an operator's or
administrator's).

${API_HELP}`;
  return {
    name,
    summary: `${name} a dissatisfied rating (${name === "verify" ? "it then costs points" : "it costs nothing"})`,
    async run(args) {
      const result = parsed(name, HELP, () =>
        parseArgs({
          args,
          allowPositionals: true,
          options: { ...common, fault: { type: "string", default: "clerk" } },
        }),
      );
      if (!result) return 2;
      const { values, positionals } = result;
      if (values.help) {
        console.log(HELP);
        return 0;
      }
      if (positionals.length !== 1) {
        console.error(`hub ${name}: give the rating as <device>:<seq>.\n\n${HELP}`);
        return 2;
      }
      const id = positionals[0]!;
      return post(
        name,
        values,
        `/api/dissatisfaction/${encodeURIComponent(id)}/${name}`,
        { fault: values.fault },
        (a) => `${id}: ${String(a.state)} by ${String(a.by)}`,
      );
    },
  };
}

const ENTRY_HELP = `Usage: hub entry (--person <id> | --window <id>) --rule <name> [--points N]
                 [--note TEXT] [--url URL] [--token T]

Records what a person observed and the devices cannot, for a clerk or
supervisor (--person) or a window unit (--window): written thanks (--rule
thanks, +2 by default), a complaint, smoking at the window, dozing... (--points
required for those; write a negative one as --points=-3). Who entered it is
recorded (the API token's name, an operator's or administrator's); it counts in
that day's and month's scores.

${API_HELP}`;

const entryCommand: CliCommand = {
  name: "entry",
  summary: "record an observed entry (thanks, complaint, ...) for a person or window unit",
  async run(args) {
    const result = parsed("entry", ENTRY_HELP, () =>
      parseArgs({
        args,
        options: {
          ...common,
          person: { type: "string" },
          window: { type: "string" },
          rule: { type: "string" },
          points: { type: "string" },
          note: { type: "string" },
        },
      }),
    );
    if (!result) return 2;
    const { values } = result;
    if (values.help) {
      console.log(ENTRY_HELP);
      return 0;
    }
    if (!values.person === !values.window || values.rule === undefined) {
      console.error(`hub entry: give one of --person or --window, and --rule.\n\n${ENTRY_HELP}`);
      return 2;
    }
    const body = {
      person: values.person,
      window: values.window,
      rule: values.rule,
      points: values.points === undefined ? undefined : Number(values.points),
      note: values.note,
    };
    return post(
      "entry",
      values,
      "/api/entries",
      body,
      (a) => `${values.rule} for ${String(a.subject)}: ${String(a.points)} points, entered by ${String(a.by)}`,
    );
  },
};

const WARNINGS_HELP = `Usage: hub warnings [--site ID] [--state open|acknowledged|handled|closed]
                    [--days N] [--json] [--url URL] [--token T]

Lists the warnings raised in the last N days (1 by default), newest first: the
id to handle them by, where their handling stands (open, acknowledged, handled,
closed; "OVERDUE" when past supervision.handling's limits), who took the last
step, and the message. A viewer's token is enough.

${API_HELP}`;

const warningsCommand: CliCommand = {
  name: "warnings",
  summary: "list recent warnings with their handling state",
  async run(args) {
    const result = parsed("warnings", WARNINGS_HELP, () =>
      parseArgs({
        args,
        options: { ...common, site: { type: "string" }, state: { type: "string" }, days: { type: "string" }, json: { type: "boolean" } },
      }),
    );
    if (!result) return 2;
    const { values } = result;
    if (values.help) {
      console.log(WARNINGS_HELP);
      return 0;
    }
    const query = new URLSearchParams();
    if (values.site) query.set("site", values.site);
    if (values.state) query.set("state", values.state);
    if (values.days) query.set("days", values.days);
    const answer = await callApi(values, "GET", `/api/warnings${query.size ? `?${query}` : ""}`);
    if (!answer.ok) {
      console.error(`hub warnings: ${answer.error}`);
      return 1;
    }
    const warnings = (answer.answer.warnings ?? []) as ListedWarning[];
    if (values.json) {
      console.log(JSON.stringify(warnings, null, 2));
      return 0;
    }
    if (warnings.length === 0) console.log("no warnings");
    for (const w of warnings)
      console.log(
        `${w.id}  ${w.handling}${w.overdue ? " OVERDUE" : ""}${w.handledBy ? ` (${w.handledBy})` : ""}  ${new Date(w.raisedAt).toISOString()}  ${w.message}`,
      );
    return 0;
  },
};

const WARNING_HELP = `Usage: hub warning acknowledge|handle|close|show <id> [--note TEXT]
                   [--url URL] [--token T]

One step of the centre's handling record of a warning (ids as "hub warnings"
lists them):
  acknowledge  someone has seen it and is on it
  handle       what was done, in --note (required)
  close        the matter is settled (only a handled warning)
  show         the warning and every step taken, with who and when
The steps are kept; who took each is the API token's name (an operator's or
administrator's; show needs a viewer's).

${API_HELP}`;

const warningCommand: CliCommand = {
  name: "warning",
  summary: "acknowledge, handle (with a note), close or show one warning",
  async run(args) {
    const result = parsed("warning", WARNING_HELP, () =>
      parseArgs({ args, allowPositionals: true, options: { ...common, note: { type: "string" } } }),
    );
    if (!result) return 2;
    const { values, positionals } = result;
    if (values.help) {
      console.log(WARNING_HELP);
      return 0;
    }
    const [step, id] = positionals;
    if (positionals.length !== 2 || !step || !id || !["acknowledge", "handle", "close", "show"].includes(step)) {
      console.error(`hub warning: give a step (acknowledge, handle, close or show) and a warning id.\n\n${WARNING_HELP}`);
      return 2;
    }
    const path = `/api/warnings/${encodeURIComponent(id)}`;
    if (step === "show") {
      const answer = await callApi(values, "GET", path);
      if (!answer.ok) {
        console.error(`hub warning: ${answer.error}`);
        return 1;
      }
      const a = answer.answer as { message: string; active: boolean; steps: { action: string; by: string; at: number; note: string }[] };
      console.log(`${id}: ${a.message}${a.active ? "" : " (over)"}`);
      for (const s of a.steps) console.log(`  ${new Date(s.at).toISOString()}  ${s.action} by ${s.by}${s.note ? `: ${s.note}` : ""}`);
      if (a.steps.length === 0) console.log("  open: nobody has taken a step yet");
      return 0;
    }
    return post(
      "warning",
      values,
      `${path}/${step}`,
      values.note === undefined ? {} : { note: values.note },
      (a) => `${id}: ${String(a.state)} by ${String(a.by)}`,
    );
  },
};

const REPORT_HELP = `Usage: hub report --month YYYY-MM [--out report-YYYY-MM.html]
                  [--department ID | --per-department DIR]
                  [--settings FILE]

Writes the month's assessment bulletin as a printable A4 page (HTML; simplified
Chinese by default, English with supervision.locale: en):
- who is commended and who is called in (supervision.bulletin: the top
  commendTop clerks; window units and departments below callInBelow or in the
  bottom callInBottom);
- the rankings of departments, window units and clerks;
- per clerk the ratings, satisfaction, attendance, deductions, bonuses, score
  and the award exclusion (two complaints within 22 working days); per window
  unit its unattended periods and score; per construction site the sign-ins
  made outside its radius and the check-ins missed; the deductions by rule.
Reads the InfluxDB and registry of the settings file: by default the demo's
(${DEMO_SETTINGS}, written by npm start) when it exists here, else
config/hub.yaml; give the running hub's with --settings FILE.

  --department ID       one department's copy: its own clerks and windows in
                        the detail tables
  --per-department DIR  one copy per department, written as
                        DIR/report-YYYY-MM-<department>.html`;

const reportCommand: CliCommand = {
  name: "report",
  summary: "write the monthly assessment report (HTML) for a month",
  async run(args) {
    const result = parsed("report", REPORT_HELP, () =>
      parseArgs({
        args,
        options: {
          month: { type: "string" },
          out: { type: "string" },
          department: { type: "string" },
          "per-department": { type: "string" },
          settings: { type: "string" },
          help: { type: "boolean", short: "h" },
        },
      }),
    );
    if (!result) return 2;
    const { values } = result;
    if (values.help) {
      console.log(REPORT_HELP);
      return 0;
    }
    if (!values.month || !/^\d{4}-(0[1-9]|1[0-2])$/.test(values.month)) {
      console.error(`hub report: --month YYYY-MM is required (e.g. --month 2026-11).\n\n${REPORT_HELP}`);
      return 2;
    }
    let settings: HubSettings;
    let registry: Registry;
    try {
      settings = loadSettings(values.settings ?? defaultSettingsFile("report"));
      registry = loadRegistry(settings.registry.dir);
    } catch (error) {
      if (!(error instanceof SettingsError) && !(error instanceof RegistryLoadError)) throw error;
      console.error(`hub report: ${error.message}`);
      return 1;
    }
    let client: ReturnType<typeof influxClient>;
    try {
      client = influxClient(settings);
    } catch (error) {
      if (!(error instanceof SecretFileError)) throw error;
      console.error(`hub report: ${error.message}`);
      return 1;
    }
    const { influx, url } = client;
    // With influx.regions: every region's database, and each site's for its items.
    const regions = influxRegions(settings, client, () => registry);
    const databases = {
      all: siteDatabases({ influx, database: settings.influx.database, regions }).map((d) => d.influx),
      of: (site: string) => regions.forSite(site).influx,
    };
    let report: MonthlyReport;
    try {
      report = await monthlyReport(influx, registry, values.month, settings.supervision.scoring, settings.supervision.bulletin, databases);
    } catch (error) {
      console.error(`hub report: cannot query InfluxDB at ${url.origin} (${(error as Error).message}); is the hub running ("hub start")?`);
      return 1;
    }
    const locale = settings.supervision.locale;
    const dir = values["per-department"];
    if (dir !== undefined) {
      mkdirSync(dir, { recursive: true });
      for (const d of registry.departments.values()) {
        const out = join(dir, `report-${values.month}-${d.id}.html`);
        writeFileSync(out, renderReport(report, registry, { locale, department: d.id }));
        console.log(`wrote ${out}: ${d.name}`);
      }
      return 0;
    }
    if (values.department !== undefined && !registry.departments.has(values.department)) {
      console.error(
        `hub report: no department "${values.department}" in the registry; it has ${[...registry.departments.keys()].join(", ") || "none"}`,
      );
      return 2;
    }
    const out = values.out ?? `report-${values.month}${values.department ? `-${values.department}` : ""}.html`;
    writeFileSync(out, renderReport(report, registry, { locale, ...(values.department ? { department: values.department } : {}) }));
    const { commended, calledIn } = report.circulation;
    console.log(
      `wrote ${out}: ${report.clerks.length} clerks, ${report.units.length} window units, ${report.departments.length} departments, ${report.sites.length} sites judged by presence; ${commended.length} commended, ${calledIn.length} called in`,
    );
    return 0;
  },
};

export const supervisionCommands: CliCommand[] = [
  decision("verify"),
  decision("dismiss"),
  entryCommand,
  warningsCommand,
  warningCommand,
  reportCommand,
];
