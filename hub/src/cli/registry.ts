import { formatRegistryError, loadRegistry, RegistryLoadError } from "../registry/loader.ts";
import type { CliCommand } from "./command.ts";

const HELP = `Usage: hub registry check [dir]

Loads every *.yaml in the registry directory (default: config/registry), checks every reference,
and prints each problem as file:line: what is wrong and how to fix it. Exit code 1 when there are errors.`;

export const registryCommand: CliCommand = {
  name: "registry",
  summary: "check the site registry files (hub registry check [dir])",
  async run(args) {
    if (args.includes("--help") || args.includes("-h")) {
      console.log(HELP);
      return 0;
    }
    const [sub, dir = "config/registry", ...rest] = args;
    if (sub !== "check" || rest.length > 0) {
      console.error(`hub registry: unknown or missing subcommand.\n\n${HELP}`);
      return 2;
    }
    try {
      const registry = loadRegistry(dir);
      console.log(
        `${dir}: OK — ${registry.sites.size} site(s), ${registry.windows.size} window(s), ${registry.people.size} people, ${registry.gateways.size} gateway(s), ${registry.devices.size} device(s)`,
      );
      return 0;
    } catch (err) {
      if (!(err instanceof RegistryLoadError)) throw err;
      for (const e of err.errors) console.error(formatRegistryError(e));
      console.error(`${err.errors.length} error(s) in ${dir}`);
      return 1;
    }
  },
};
