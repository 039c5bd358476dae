import { parseArgs } from "node:util";
import { localDate } from "@supervision/firmware-protocols";
import { influxClient } from "../influx/client.ts";
import { influxRegions, regionSettingsProblems } from "../influx/regions.ts";
import { loadRegistry } from "../registry/loader.ts";
import type { Registry } from "../registry/schema.ts";
import { datesBetween, gatherRollups, type RollupResult } from "../rollup/gather.ts";
import { SecretFileError } from "../secrets/file.ts";
import { type HubSettings, loadSettings, SettingsError } from "../settings/index.ts";
import { type CliCommand, defaultSettingsFile } from "./command.ts";

const HELP = `Usage: hub rollup [--from YYYY-MM-DD] [--to YYYY-MM-DD]
                  [--settings config/hub.yaml] [--json]

Province rollups: reads each region's InfluxDB (influx.regions; the central
one for the other regions, or for all when none has its own) and writes per
region, town and site the day's and the month's counts into the central
database (policy rollup: province_rating, province_attendance, province_card,
province_warning, province_item; hub/SCHEMA.md). A period gathered again
replaces what was gathered before: re-running is harmless. The hub does the
same every rollup.intervalMinutes for the last rollup.days days.

  --from, --to  local dates (rollup.tz, default Asia/Shanghai), inclusive;
                default yesterday and today. The months they touch are
                gathered whole. At most 366 days at once.
  --settings    the hub's settings file: its InfluxDB, influx.regions, the
                registry and rollup.tz
  --json        what was written, per source and measurement, as JSON

Progress (one line per source and period) goes to stderr.
Exit code: 0 done, 1 error, 2 usage.`;

export const rollupCommand: CliCommand = {
  name: "rollup",
  summary: "gather each region's day and month counts into the central database (hub rollup --from 2026-12-01)",
  async run(args) {
    let values: { from?: string; to?: string; settings?: string; json?: boolean; help?: boolean };
    try {
      values = parseArgs({
        args,
        options: {
          from: { type: "string" },
          to: { type: "string" },
          settings: { type: "string" },
          json: { type: "boolean" },
          help: { type: "boolean", short: "h" },
        },
      }).values;
    } catch (error) {
      console.error(`hub rollup: ${(error as Error).message}\n\n${HELP}`);
      return 2;
    }
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    const file = values.settings ?? defaultSettingsFile("rollup");
    let settings: HubSettings;
    let registry: Registry;
    try {
      settings = loadSettings(file);
      registry = loadRegistry(settings.registry.dir);
      const problems = regionSettingsProblems(settings, registry, file);
      if (problems.length > 0) throw new SettingsError(problems);
    } catch (error) {
      // The settings' and the registry's problems alike: every one as file:line: what to do.
      if (!(error instanceof SettingsError)) throw error;
      console.error(`hub rollup: ${error.message}`);
      return 1;
    }
    const tz = settings.rollup.tz;
    const today = localDate(Date.now(), tz);
    const from = values.from ?? values.to ?? localDate(Date.now() - 86_400_000, tz);
    const to = values.to ?? (values.from && values.from > today ? values.from : today);
    try {
      datesBetween(from, to);
    } catch (error) {
      console.error(`hub rollup: ${(error as Error).message}.\n\n${HELP}`);
      return 2;
    }
    let central: ReturnType<typeof influxClient>;
    try {
      central = influxClient(settings);
    } catch (error) {
      if (!(error instanceof SecretFileError)) throw error;
      console.error(`hub rollup: ${error.message}`);
      return 1;
    }
    const regions = influxRegions(settings, central, () => registry);
    let result: RollupResult;
    try {
      result = await gatherRollups(regions, registry, { from, to, tz, progress: (line) => console.error(`hub rollup: ${line}`) });
    } catch (error) {
      console.error(
        `hub rollup: ${(error as Error).message}; nothing more was gathered (what was written stays; run it again when InfluxDB answers)`,
      );
      return 1;
    }
    if (values.json) console.log(JSON.stringify(result, null, 2));
    else
      for (const [source, written] of Object.entries(result.written))
        console.log(
          `${source}: ${
            Object.entries(written)
              .map(([m, n]) => `${m} ${n}`)
              .join(", ") || "no region to read"
          }`,
        );
    return 0;
  },
};
