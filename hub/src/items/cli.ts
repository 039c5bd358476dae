import { localDate } from "@supervision/firmware-protocols";
import { parseArgs } from "node:util";
import { type CliCommand, defaultSettingsFile } from "../cli/command.ts";
import { influxClient } from "../influx/client.ts";
import { influxRegions, siteDatabases } from "../influx/regions.ts";
import { loadRegistry, RegistryLoadError } from "../registry/loader.ts";
import { SecretFileError } from "../secrets/file.ts";
import type { Registry } from "../registry/schema.ts";
import { type HubSettings, loadSettings, SettingsError } from "../settings/index.ts";
import { buildCases, type ItemCase } from "./cases.ts";
import { itemMonth } from "./counts.ts";
import { ITEM_LOOKBACK_DAYS, queryItemEvents } from "./read.ts";

const HELP = `Usage: hub items [--near | --overdue] [--department ID] [--settings FILE]
       hub items trail <application number> [--settings FILE]
       hub items month YYYY-MM [--settings FILE]

Approval items from the InfluxDB and registry of the settings file: by default
the demo's (var/demo/hub/hub.yaml, written by npm start) when it exists here,
else config/hub.yaml; give the running hub's with --settings FILE.
  (no subcommand)  open applications at their limit (days left within
                   supervision.items.remindDaysLeft, at least 1) and overdue
                   ones: item, department, handler, deadline, days left or
                   overdue; --near or --overdue shows one list,
                   --department ID one department's
  trail APP        every event of one application: when, what, step, who,
                   result, from which system or device
  month YYYY-MM    the month's counts per department (accepted, completed,
                   early, on time, late, in progress, overdue, refused, mean
                   processing days and waiting minutes, satisfaction)

The events approval systems post to the API are in the hub's trail (book
item_event): "hub audit" checks it.`;

interface Loaded {
  settings: HubSettings;
  registry: Registry;
}

function load(settingsFile: string): Loaded | string {
  try {
    const settings = loadSettings(settingsFile);
    return { settings, registry: loadRegistry(settings.registry.dir) };
  } catch (error) {
    if (error instanceof SettingsError || error instanceof RegistryLoadError) return error.message;
    throw error;
  }
}

/**
 * Columns a terminal gives a text: Chinese, Japanese and Korean characters and full-width forms take two (East Asian
 * Wide and Fullwidth), so a table of Chinese names lines up.
 */
export function displayWidth(text: string): number {
  let width = 0;
  for (const char of text) {
    const c = char.codePointAt(0) as number;
    const wide =
      (c >= 0x1100 && c <= 0x115f) ||
      (c >= 0x2e80 && c <= 0x303e) ||
      (c >= 0x3041 && c <= 0x33ff) ||
      (c >= 0x3400 && c <= 0x4dbf) ||
      (c >= 0x4e00 && c <= 0x9fff) ||
      (c >= 0xa000 && c <= 0xa4cf) ||
      (c >= 0xac00 && c <= 0xd7a3) ||
      (c >= 0xf900 && c <= 0xfaff) ||
      (c >= 0xfe30 && c <= 0xfe4f) ||
      (c >= 0xff00 && c <= 0xff60) ||
      (c >= 0xffe0 && c <= 0xffe6) ||
      (c >= 0x20000 && c <= 0x3fffd);
    width += wide ? 2 : 1;
  }
  return width;
}

/** Rows as columns padded to their display width, two spaces apart. */
export const pad = (rows: string[][]): string => {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => displayWidth(r[i] ?? ""))));
  return rows
    .map((r) =>
      r
        .map((c, i) => c + " ".repeat(widths[i]! - displayWidth(c)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
};

function openList(cases: ItemCase[], registry: Registry, near: number): string[][] {
  return [
    ["application", "item", "department", "handler", "due", "days left", "overdue"],
    ...cases.map((c) => [
      c.application,
      `${c.code} ${c.item.name}`,
      registry.departments.get(c.item.department)?.name ?? c.item.department,
      c.handler,
      c.due?.dueDate ?? "(suspended)",
      c.timeliness === "overdue" ? "0" : String(c.left),
      c.timeliness === "overdue" ? `${c.overdueDays} ${c.item.promisedLimit.unit} day(s)` : c.left <= near ? "at the limit" : "",
    ]),
  ];
}

export const itemsCommand: CliCommand = {
  name: "items",
  summary: "approval items: open ones at or past their limit, one application's trail, a month's counts",
  async run(args) {
    let parsed;
    try {
      parsed = parseArgs({
        args,
        allowPositionals: true,
        options: {
          near: { type: "boolean" },
          overdue: { type: "boolean" },
          department: { type: "string" },
          settings: { type: "string" },
          help: { type: "boolean", short: "h" },
        },
      });
    } catch (error) {
      console.error(`hub items: ${(error as Error).message}\n\n${HELP}`);
      return 2;
    }
    const { values, positionals } = parsed;
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    const [sub, arg, ...rest] = positionals;
    if (rest.length > 0 || (sub !== undefined && !["trail", "month"].includes(sub))) {
      console.error(`hub items: unexpected arguments ${positionals.join(" ")}.\n\n${HELP}`);
      return 2;
    }
    if ((sub === "trail" || sub === "month") && !arg) {
      console.error(`hub items ${sub}: give the ${sub === "trail" ? "application number" : "month (YYYY-MM)"}.\n\n${HELP}`);
      return 2;
    }
    if (sub === "month" && !/^\d{4}-(0[1-9]|1[0-2])$/.test(arg!)) {
      console.error(`hub items month: "${arg}" is not a month; write YYYY-MM (e.g. 2026-04).`);
      return 2;
    }
    const loaded = load(values.settings ?? defaultSettingsFile("items"));
    if (typeof loaded === "string") {
      console.error(`hub items: ${loaded}`);
      return 1;
    }
    const { settings, registry } = loaded;
    if (values.department !== undefined && !registry.departments.has(values.department)) {
      console.error(
        `hub items: no department "${values.department}"; the registry has ${[...registry.departments.keys()].join(", ") || "none"}`,
      );
      return 2;
    }
    let client: ReturnType<typeof influxClient>;
    try {
      client = influxClient(settings);
    } catch (error) {
      if (!(error instanceof SecretFileError)) throw error;
      console.error(`hub items: ${error.message}`);
      return 1;
    }
    const { influx, url } = client;
    // With influx.regions: each hall's region's InfluxDB (the central one for the others).
    const regions = influxRegions(settings, client, () => registry);
    const now = Date.now();
    try {
      if (sub === "month") {
        const month = await itemMonth(influx, registry, arg!, (site) => regions.forSite(site).influx);
        const pct = (n: number, d: number) => (d === 0 ? "-" : `${((100 * n) / d).toFixed(1)}%`);
        const fixed = (n: number | null) => (n === null ? "-" : n.toFixed(1));
        console.log(
          pad([
            [
              "hall",
              "department",
              "accepted",
              "completed",
              "early",
              "on time",
              "late",
              "in progress",
              "overdue",
              "refused",
              "days",
              "wait min",
              "satisfied",
            ],
            ...month.counts.map((c) => [
              c.site,
              registry.departments.get(c.department)?.name ?? c.department,
              ...[c.accepted, c.completed, c.early, c.onTime, c.late, c.inProgress, c.overdue, c.refused].map(String),
              fixed(c.processingDays),
              fixed(c.waitingMinutes),
              pct(c.positive, c.rated),
            ]),
          ]),
        );
        return 0;
      }
      const events = (
        await Promise.all(
          siteDatabases({ influx, database: settings.influx.database, regions }).map((db) =>
            queryItemEvents(db.influx, { from: now - ITEM_LOOKBACK_DAYS * 86_400_000, to: now }),
          ),
        )
      ).flat();
      const { cases } = buildCases(registry, events, now);
      if (sub === "trail") {
        const c = cases.find((x) => x.application === arg);
        const own = c?.events ?? events.filter((e) => e.application === arg);
        if (own.length === 0) {
          console.error(`hub items trail: no events of application "${arg}" in the last ${ITEM_LOOKBACK_DAYS} days`);
          return 1;
        }
        const tz = registry.sites.get(c?.item.site ?? "")?.tz ?? "UTC";
        const when = (t: number) =>
          `${localDate(t, tz)} ${new Intl.DateTimeFormat("en-GB", { timeZone: tz, hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(t)}`;
        if (c)
          console.log(
            `${c.application}: ${c.code} ${c.item.name}, ${c.state}${c.due ? `, due ${c.due.dueDate}` : ""}${c.completedAt ? `, ${c.timeliness}` : ""}, handler ${c.handler}`,
          );
        console.log(
          pad([
            ["when", "event", "step", "who", "result", "from"],
            ...own.map((e) => [
              when(e.time),
              e.type + (e.outcome ? ` ${e.outcome}` : ""),
              e.step ?? "",
              e.handler ?? e.clerk ?? "",
              e.result ?? e.reason ?? "",
              e.device,
            ]),
          ]),
        );
        return 0;
      }
      const near = Math.max(1, settings.supervision.items.remindDaysLeft);
      const open = cases.filter(
        (c) => c.state !== "completed" && (values.department === undefined || c.item.department === values.department),
      );
      const overdue = open.filter((c) => c.timeliness === "overdue").sort((a, b) => b.overdueDays - a.overdueDays);
      const nearList = open.filter((c) => c.timeliness !== "overdue" && c.due && c.left <= near).sort((a, b) => a.left - b.left);
      const show = (title: string, list: ItemCase[]) =>
        console.log(`${title} (${list.length})${list.length > 0 ? `\n${pad(openList(list, registry, near))}` : ""}`);
      if (!values.overdue) show("at their limit", nearList);
      if (!values.near) show("overdue", overdue);
      return 0;
    } catch (error) {
      console.error(`hub items: cannot query InfluxDB at ${url.origin} (${(error as Error).message}); is the hub running ("hub start")?`);
      return 1;
    }
  },
};
