import { statfsSync } from "node:fs";
import { createServer } from "node:net";
import { parseArgs } from "node:util";
import { loadSettings, type Settings, SettingsError } from "../settings/settings.ts";

const USAGE = `gateway <command> [--settings file]

Commands:
  status     summary of devices and gateway state, from the running gateway's HTTP API
  devices    one line per configured device: online/offline, connected, last seen
  doctor     checks the settings file, ports, disk space and says what to fix
  help       this text

Options:
  --settings <file>   settings YAML (default: gateway.yaml); see gateway/README.md
  --help              help for a command`;

const COMMAND_HELP: Record<string, string> = {
  status: "gateway status [--settings file]\n  Asks the running gateway (http.host:http.port from the settings) for its state.",
  devices: "gateway devices [--settings file]\n  Lists devices with availability, from the running gateway.",
  doctor:
    "gateway doctor [--settings file]\n  Validates the settings, checks that the device broker and HTTP ports are free or served by this gateway, and that the data dir's disk has room.",
};

/** A problem the user can fix; printed without a stack trace. */
class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { settings: { type: "string", default: "gateway.yaml" }, help: { type: "boolean", default: false } },
  });
  const command = positionals[0] ?? "help";
  if (command === "help" || (values.help && !COMMAND_HELP[command])) {
    console.log(USAGE);
    return 0;
  }
  if (values.help) {
    console.log(COMMAND_HELP[command]);
    return 0;
  }
  const settings = loadSettings(values.settings);
  switch (command) {
    case "status":
      console.log(formatStatus(await fetchJson(settings, "/api/status"), await fetchJson(settings, "/healthz")));
      return 0;
    case "devices":
      console.log(formatDevices(await fetchJson(settings, "/api/devices")));
      return 0;
    case "doctor":
      return doctor(settings, values.settings);
    default:
      throw new UsageError(`unknown command "${command}"; run "gateway --help" for the list`);
  }
}

async function fetchJson(settings: Settings, path: string): Promise<unknown> {
  const url = `http://${settings.http.host === "0.0.0.0" ? "127.0.0.1" : settings.http.host}:${settings.http.port}${path}`;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    return await res.json();
  } catch (e) {
    throw new UsageError(`cannot reach the gateway at ${url} (${(e as Error).message}); is it running? start it with "gateway start"`);
  }
}

function formatStatus(status: unknown, health: unknown): string {
  return [
    `health: ${JSON.stringify(health)}`,
    ...Object.entries(status as Record<string, unknown>).map(([k, v]) => `${k}: ${JSON.stringify(v)}`),
  ].join("\n");
}

function formatDevices(devices: unknown): string {
  const rows = devices as { deviceId: string; online: boolean; connected: boolean; lastSeen: number | null }[];
  if (rows.length === 0) return "no devices configured";
  return rows
    .map(
      (d) =>
        `${d.deviceId.padEnd(24)} ${d.online ? "online " : "offline"} ${d.connected ? "connected   " : "disconnected"} ${d.lastSeen ? new Date(d.lastSeen).toISOString() : "never seen"}`,
    )
    .join("\n");
}

function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

async function doctor(settings: Settings, file: string): Promise<number> {
  const problems: string[] = [];
  console.log(`ok   settings ${file} (gateway ${settings.gatewayId})`);
  for (const [name, host, port] of [
    ["device broker", settings.broker.host, settings.broker.port],
    ["http", settings.http.host, settings.http.port],
  ] as const) {
    const free = await portFree(host, port);
    console.log(`${free ? "ok  " : "note"} ${name} port ${port} ${free ? "is free" : "is in use (fine if this gateway is running)"}`);
  }
  try {
    const fs = statfsSync(".");
    const freeMb = Math.floor((fs.bavail * fs.bsize) / 1024 / 1024);
    const neededMb = Math.ceil(settings.buffer.capacityBytes / 1024 / 1024);
    if (freeMb < neededMb)
      problems.push(`disk has ${freeMb} MB free but buffer.capacityBytes needs ${neededMb} MB: free space or lower buffer.capacityBytes`);
    else console.log(`ok   disk ${freeMb} MB free (buffer needs ${neededMb} MB)`);
  } catch (e) {
    problems.push(`cannot check disk space: ${(e as Error).message}`);
  }
  for (const p of problems) console.log(`FIX  ${p}`);
  return problems.length === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: Error) => {
    const known =
      error instanceof SettingsError || error instanceof UsageError || (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS");
    console.error(known ? `error: ${error.message}` : error);
    process.exit(known ? 2 : 1);
  },
);
