import { auditCommand } from "./audit.ts";
import type { CliCommand } from "./command.ts";
import { gatewaysCommand } from "./gateways.ts";
import { hashSecretCommand } from "./hash-secret.ts";
import { registryCommand } from "./registry.ts";
import { rollupCommand } from "./rollup.ts";
import { startCommand } from "./start.ts";
import { statusCommand } from "./status.ts";
import { tokenCommand } from "./token.ts";
import { supervisionCommands } from "../supervision/cli.ts";
import { itemsCommand } from "../items/cli.ts";
import { cameraCommand } from "../cameras/cli.ts";

const commands: CliCommand[] = [
  startCommand,
  statusCommand,
  gatewaysCommand,
  registryCommand,
  hashSecretCommand,
  tokenCommand,
  auditCommand,
  rollupCommand,
  ...supervisionCommands,
  itemsCommand,
  cameraCommand,
];

function help(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return `Usage: hub <command> [options]

Commands:
${commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join("\n")}

Run "hub <command> --help" for a command's options.`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    console.log(help());
    return name === undefined ? 2 : 0;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    console.error(`hub: unknown command "${name}".\n\n${help()}`);
    return 2;
  }
  return command.run(args);
}

process.exitCode = await main(process.argv.slice(2));
