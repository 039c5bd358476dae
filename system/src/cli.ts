// `supervision <command>`: the commands that run several of the system's processes together.
import { upCommand } from "./up.ts";

const HELP = `Usage: supervision <command> [options]

Commands:
  ${upCommand.name}    ${upCommand.summary}

Run "supervision <command> --help" for a command's options.`;

async function main([name, ...args]: string[]): Promise<number> {
  if (name === upCommand.name) return upCommand.run(args);
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    console.log(HELP);
    return name === undefined ? 2 : 0;
  }
  console.error(`supervision: unknown command "${name}".\n\n${HELP}`);
  return 2;
}

process.exitCode = await main(process.argv.slice(2));
