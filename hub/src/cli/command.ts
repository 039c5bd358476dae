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
