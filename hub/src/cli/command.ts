import { existsSync } from "node:fs";
import { type HubSettings, loadSettings, SettingsError } from "../settings/index.ts";

/** The settings `npm start` runs its hub with, written where it keeps its data (system/src/up.ts). */
export const DEMO_SETTINGS = "var/demo/hub/hub.yaml";

/**
 * The settings file a command reads without --settings: the demo's when `npm start` has run in this folder (so
 * `hub report` beside the demo reads the demo's InfluxDB and registry, not the example's), else config/hub.yaml.
 * Says on stderr which one it took when it is the demo's.
 */
export function defaultSettingsFile(command: string): string {
  if (!existsSync(DEMO_SETTINGS)) return "config/hub.yaml";
  console.error(`hub ${command}: reading the demo's settings ${DEMO_SETTINGS} (npm start); --settings FILE for another hub`);
  return DEMO_SETTINGS;
}

/**
 * One `hub` subcommand. main.ts dispatches `hub <name> ...` to it; every command answers --help itself.
 * Multi-word commands ("registry check") use the first word as name and read the rest from args.
 */
export interface CliCommand {
  readonly name: string;
  /** One line for `hub --help`. */
  readonly summary: string;
  /** Runs the command; resolves to the process exit code. */
  run(args: string[]): Promise<number>;
}

/**
 * The preamble of a command that takes only `--settings <file>` (default: `defaultSettingsFile`): answers --help, refuses
 * other arguments, and loads the settings. Either the settings, or the exit code after saying what is wrong.
 */
export function helpOrSettings(
  command: string,
  args: string[],
  help: string,
): { settings: HubSettings; file: string } | { exitCode: number } {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(help);
    return { exitCode: 0 };
  }
  let file: string;
  if (args.length === 2 && args[0] === "--settings" && args[1]) file = args[1];
  else if (args.length > 0) {
    console.error(`hub ${command}: unexpected arguments ${args.join(" ")}.\n\n${help}`);
    return { exitCode: 2 };
  } else file = defaultSettingsFile(command);
  try {
    return { settings: loadSettings(file), file };
  } catch (err) {
    if (!(err instanceof SettingsError)) throw err;
    console.error(err.message);
    return { exitCode: 1 };
  }
}
