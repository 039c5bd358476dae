import { parseArgs } from "node:util";
import type { CliCommand } from "../cli/command.ts";

function decision(name: "verify" | "dismiss"): CliCommand {
  const HELP = `Usage: hub ${name} <device>:<seq> --by <name> ${name === "verify" ? "[--fault clerk|unit] " : ""}[--url http://127.0.0.1:8080]

${
  name === "verify"
    ? "Confirms a dissatisfied rating after checking it: it then costs the clerk 2 points (--fault clerk, the default)\nor the window unit 10 (--fault unit)."
    : "Dismisses a dissatisfied rating after checking it: it costs nothing."
} The rating is named by its keypad and sequence number, as the
"dissatisfaction" series and the Hall dashboard show it. Who decided is recorded.`;
  return {
    name,
    summary: `${name} a dissatisfied rating (${name === "verify" ? "it then costs points" : "it costs nothing"})`,
    async run(args) {
      const parse = (a: string[]) =>
        parseArgs({
          args: a,
          allowPositionals: true,
          options: { by: { type: "string" }, fault: { type: "string", default: "clerk" }, url: { type: "string", default: "http://127.0.0.1:8080" }, help: { type: "boolean", short: "h" } },
        });
      let parsed: ReturnType<typeof parse>;
      try {
        parsed = parse(args);
      } catch (error) {
        console.error(`hub ${name}: ${(error as Error).message}\n\n${HELP}`);
        return 2;
      }
      const { values, positionals } = parsed;
      if (values.help) {
        console.log(HELP);
        return 0;
      }
      if (positionals.length !== 1 || !values.by) {
        console.error(`hub ${name}: give the rating as <device>:<seq> and who decides with --by.\n\n${HELP}`);
        return 2;
      }
      const url = new URL(`/api/dissatisfaction/${encodeURIComponent(positionals[0]!)}/${name}`, values.url);
      let res: Response;
      try {
        res = await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ by: values.by, fault: values.fault }),
          signal: AbortSignal.timeout(15_000),
        });
      } catch (error) {
        console.error(`hub ${name}: no hub answers at ${values.url} (${(error as Error).message}); start it with "hub start" or pass --url`);
        return 1;
      }
      const body = (await res.json().catch(() => ({}))) as { error?: string; state?: string };
      if (!res.ok) {
        console.error(`hub ${name}: ${body.error ?? `HTTP ${res.status}`}`);
        return 1;
      }
      console.log(`${positionals[0]}: ${body.state} by ${values.by}`);
      return 0;
    },
  };
}

export const supervisionCommands: CliCommand[] = [decision("verify"), decision("dismiss")];
