import { type HubSettings, loadSettings, SettingsError } from "../settings/index.ts";

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
 * The preamble of a command that takes only `--settings <file>` (default config/hub.yaml): answers --help, refuses
 * other arguments, and loads the settings. Either the settings, or the exit code after saying what is wrong.
 */
export function helpOrSettings(command: string, args: string[], help: string): { settings: HubSettings } | { exitCode: number } {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(help);
    return { exitCode: 0 };
  }
  let file = "config/hub.yaml";
  if (args.length === 2 && args[0] === "--settings" && args[1]) file = args[1];
  else if (args.length > 0) {
    console.error(`hub ${command}: unexpected arguments ${args.join(" ")}.\n\n${help}`);
    return { exitCode: 2 };
  }
  try {
    return { settings: loadSettings(file) };
  } catch (err) {
    if (!(err instanceof SettingsError)) throw err;
    console.error(err.message);
    return { exitCode: 1 };
  }
}
