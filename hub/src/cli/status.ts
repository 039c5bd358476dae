import type { CliCommand } from "./command.ts";

const HELP = `Usage: hub status [--url http://127.0.0.1:8080]

Prints the running hub's status from its HTTP API: each extension's state, and InfluxDB's (reachable; for the
influxd the hub manages: running / restarting, its pid, restarts, an orphan it stopped); with site leases (several
hub copies), a table of them: each site's owner copy, term and expiry. Exit code 1 when the hub
is unreachable, an extension has failed, or the hub cannot store (InfluxDB down).`;

interface LeaseDetail {
  copy: string;
  copies: string[];
  sites: { site: string; owner: string; term: number; expires: string }[];
}

/** The supervision extension's site leases as a table (site, owner copy, term, expires), or undefined without leases. */
export function leaseTable(body: unknown): string | undefined {
  const leases = (body as { extensions?: { supervision?: { detail?: { leases?: LeaseDetail | null } } } }).extensions?.supervision?.detail
    ?.leases;
  if (!leases || !Array.isArray(leases.sites)) return undefined;
  const rows = [["site", "owner", "term", "expires"], ...leases.sites.map((l) => [l.site, l.owner, String(l.term), l.expires])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return [
    `site leases (this copy ${leases.copy}; live copies ${leases.copies.join(", ")}):`,
    ...rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ")),
  ].join("\n");
}

export const statusCommand: CliCommand = {
  name: "status",
  summary: "show the running hub's extensions and their state",
  async run(args) {
    if (args.includes("--help") || args.includes("-h")) {
      console.log(HELP);
      return 0;
    }
    let base = "http://127.0.0.1:8080";
    if (args.length === 2 && args[0] === "--url" && args[1]) base = args[1];
    else if (args.length > 0) {
      console.error(`hub status: unexpected arguments ${args.join(" ")}.\n\n${HELP}`);
      return 2;
    }
    let body: { ok?: boolean };
    try {
      const res = await fetch(new URL("/healthz", base), { signal: AbortSignal.timeout(5000) });
      body = (await res.json()) as { ok?: boolean };
    } catch (err) {
      console.error(`hub status: no hub answers at ${base} (${(err as Error).message}); start it with "hub start" or pass --url`);
      return 1;
    }
    console.log(JSON.stringify(body, null, 2));
    const leases = leaseTable(body);
    if (leases) console.log(`\n${leases}`);
    return body.ok ? 0 : 1;
  },
};
