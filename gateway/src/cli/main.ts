import { existsSync, readdirSync, statfsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { connect, createServer } from "node:net";
import { EARLIEST_DEVICE_TIME_MS } from "@supervision/firmware-protocols";
import { parseArgs } from "node:util";
import pino from "pino";
import { loadOrCreateKeys } from "../identity/keys.ts";
import type { GatewayState } from "../controller.ts";
import { runGateway } from "../run.ts";
import { camerasCli } from "./cameras.ts";
import { HubTlsError } from "../uplink/hub-tls.ts";
import { checkHubLogin } from "./hub-login.ts";
import { DataDirError } from "../settings/data-dir.ts";
import { loadSettings, type Settings, SETTINGS_ENV, SettingsError } from "../settings/settings.ts";

const USAGE = `gateway <command> [--settings file]

Commands:
  start         run the gateway: device broker, durable buffer, uplink to the hub, HTTP API
  keys          print this gateway's public keys (created on first use) for the hub's registry
  dead-letters  the newest refused device messages with their reasons, from the running gateway
  status     summary of devices and gateway state, from the running gateway's HTTP API
  devices    one line per configured device: online/offline, connected, last seen; refused unknown devices
  terminals  ADMS sign-in terminals: serial, model, firmware, last contact, punches today, commands, clock
  doctor     checks the settings file, ports, disk space and says what to fix
  cameras discover   ONVIF cameras on the hall's LAN (WS-Discovery), with a registry snippet
  cameras check <id> what works on a camera and what to fix (credentials, clock, events, stream)
  camera ptz <id> …  turn a PTZ camera: preset, move, stop, home
  help       this text

Options:
  --settings <file>   settings YAML (default: gateway.yaml); see gateway/README.md;
                      beside npm start: var/demo/<gateway id>.yaml
  --help              help for a command`;

const COMMAND_HELP: Record<string, string> = {
  start:
    "gateway start [--settings file]\n  Runs the gateway until Ctrl-C or SIGTERM. Readings are buffered on disk under dataDir and sent to hub.url;\n  the last config from the hub is kept there too, so the gateway starts while the hub is unreachable.\n  Refuses to start without hub.password (or GATEWAY_HUB_PASSWORD): the hub's broker knows no anonymous gateway.",
  keys: "gateway keys [--settings file]\n  Prints the gateway's Ed25519 public key and X25519 sealing key (creating both in dataDir on first use) as a\n  registry snippet: paste it under gateways: in the hub's registry so the hub accepts this gateway's signed batches\n  and can seal its devices' secrets (ONVIF passwords, terminal comm keys) to it.",
  "dead-letters":
    "gateway dead-letters [--settings file] [--limit N]\n  Lists the newest refused device messages (default 50): time, device, reason code, message, source topic.",
  status: "gateway status [--settings file]\n  Asks the running gateway (http.host:http.port from the settings) for its state.",
  devices:
    "gateway devices [--settings file]\n  Lists devices with availability, from the running gateway, then devices that called and were refused\n  (an ADMS terminal whose serial number is not in the registry).",
  terminals:
    "gateway terminals [--settings file]\n  Lists the ZKTeco ADMS terminals of this gateway, from the running gateway: serial, device id, model and firmware\n  (from the terminal's INFO), last contact, punches today, commands waiting for the terminal, commands it\n  refused (with the vendor's return code), and its clock offset (FLAGGED when off: being set, punches kept for review).",
  doctor:
    "gateway doctor [--settings file]\n  Validates the settings, checks that the device broker and HTTP ports are free or served by this gateway, that the data dir's disk\n  has room, that the clock is set and that the hub accepts this gateway's credentials (a real MQTT CONNECT); says what to fix.",
};

/** A problem the user can fix; printed without a stack trace. */
class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  // Camera commands take options of their own (gateway/src/cli/cameras.ts).
  if (argv[0] === "cameras" || argv[0] === "camera") return camerasCli(argv);
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      // GATEWAY_SETTINGS: the image sets it, so `docker exec gateway … status` needs no --settings.
      settings: { type: "string" },
      limit: { type: "string", default: "50" },
      help: { type: "boolean", default: false },
    },
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
  const settingsFile = values.settings ?? (process.env.GATEWAY_SETTINGS || defaultSettingsFile());
  const settings = loadSettings(settingsFile);
  switch (command) {
    case "start":
      return start(settings, settingsFile);
    case "keys": {
      const { publicKeyPem, sealingKeyPem } = loadOrCreateKeys(settings.dataDir, settings.keyFile);
      console.log(
        `# this gateway's public keys; add them to the hub's registry (publicKey checks its batches,\n# sealingKey is what the hub seals its devices' passwords and comm keys to):\ngateways:\n  - id: ${settings.gatewayId}\n    publicKey: |`,
      );
      console.log(publicKeyPem.trim().replace(/^/gm, "      "));
      console.log("    sealingKey: |");
      console.log(sealingKeyPem.trim().replace(/^/gm, "      "));
      return 0;
    }
    case "dead-letters":
      console.log(formatDeadLetters(await fetchJson(settings, `/api/dead-letters?limit=${encodeURIComponent(values.limit)}`)));
      return 0;
    case "status":
      console.log(
        formatStatus(
          (await fetchJson(settings, "/api/status")) as Partial<GatewayState>,
          (await fetchJson(settings, "/healthz")) as Record<string, boolean>,
        ),
      );
      return 0;
    case "devices":
      console.log(formatDevices(await fetchJson(settings, "/api/devices")));
      return 0;
    case "terminals":
      console.log(formatTerminals(await fetchJson(settings, "/api/adms/terminals")));
      return 0;
    case "doctor":
      return doctor(settings, settingsFile);
    default:
      throw new UsageError(`unknown command "${command}"; run "gateway --help" for the list`);
  }
}

/** Where `npm start` writes its gateways' settings (system/src/up.ts: <data dir>/<gateway id>.yaml). */
const DEMO_DIR = "var/demo";

/**
 * Without --settings: gateway.yaml here. Beside `npm start` (no gateway.yaml, its gateways' settings in var/demo)
 * there is more than one gateway to ask, so it names the flag for each instead of guessing.
 */
function defaultSettingsFile(): string {
  if (existsSync("gateway.yaml") || !existsSync(DEMO_DIR)) return "gateway.yaml";
  const demo = readdirSync(DEMO_DIR)
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .map((f) => join(DEMO_DIR, f));
  if (demo.length === 0) return "gateway.yaml";
  throw new UsageError(`no gateway.yaml here; npm start's gateways have theirs: give ${demo.map((f) => `--settings ${f}`).join(" or ")}`);
}

async function fetchJson(settings: Settings, path: string): Promise<unknown> {
  const url = `http://${settings.http.host === "0.0.0.0" ? "127.0.0.1" : settings.http.host}:${settings.http.port}${path}`;
  try {
    const headers: Record<string, string> = settings.http.token ? { authorization: `Bearer ${settings.http.token}` } : {};
    const res = await fetch(url, { signal: AbortSignal.timeout(5000), headers });
    return await res.json();
  } catch (e) {
    throw new UsageError(`cannot reach the gateway at ${url} (${(e as Error).message}); is it running? start it with "gateway start"`);
  }
}

/** A field engineer's summary of /api/status and /healthz: devices, buffer, uplink, in plain words. */
function formatStatus(status: Partial<GatewayState>, health: Record<string, boolean>): string {
  const problems = Object.entries(health)
    .filter(([, ok]) => !ok)
    .map(([check]) => check);
  const lines = [
    `gateway   ${status.gatewayId ?? "?"}  ${problems.length === 0 ? "healthy" : `UNHEALTHY: ${problems.join(", ")}`}`,
    `config    ${status.configVersion == null ? "none yet: devices are refused until the hub sends one" : `version ${status.configVersion}`}`,
    `devices   ${status.devices ? `${status.devices.online} of ${status.devices.total} online` : "?"}`,
  ];
  const b = status.buffer;
  if (b) {
    const fill = b.capacityBytes > 0 ? Math.round((b.bytes / b.capacityBytes) * 100) : 0;
    const age = b.oldestTs === null ? "" : `, oldest unsent ${formatAge(Date.now() - b.oldestTs)} old`;
    lines.push(
      `buffer    ${b.depth} readings waiting, ${fill}% of ${Math.round(b.capacityBytes / 1048576)} MiB${age}${b.fillAlarm !== "ok" ? ` (${b.fillAlarm.toUpperCase()})` : ""}`,
    );
    lines.push(`refused   ${b.deadLetters} dead letters (gateway dead-letters), ${b.thinned} heartbeats thinned`);
  }
  const u = status.uplink;
  if (u) {
    const rtt = u.rttMs === null ? "" : `, round trip ${Math.round(u.rttMs)} ms`;
    lines.push(
      `uplink    ${u.state}, ${u.inFlight} batches in flight${rtt}${u.lastAckAt ? `, last ack ${formatAge(Date.now() - u.lastAckAt)} ago` : ""}`,
    );
    if (u.drain)
      lines.push(
        `draining  ${u.drain.remaining} left at ${u.drain.ratePerS}/s${u.drain.etaS === null ? "" : `, about ${formatAge(u.drain.etaS * 1000)} to go`}`,
      );
    if (u.rejected > 0) lines.push(`rejected  ${u.rejected} batches refused by the hub: see the gateway log`);
  }
  return lines.join("\n");
}

function formatAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

function formatDevices(devices: unknown): string {
  const rows = devices as {
    deviceId: string;
    online: boolean;
    connected: boolean;
    lastSeen: number | null;
    refused?: string;
    requests?: number;
  }[];
  if (rows.length === 0) return "no devices configured";
  return rows
    .map((d) =>
      d.refused
        ? `${d.deviceId.padEnd(24)} REFUSED ${d.requests ?? 0} requests, last ${d.lastSeen ? new Date(d.lastSeen).toISOString() : "?"}: ${d.refused}`
        : `${d.deviceId.padEnd(24)} ${d.online ? "online " : "offline"} ${d.connected ? "connected   " : "disconnected"} ${d.lastSeen ? new Date(d.lastSeen).toISOString() : "never seen"}`,
    )
    .join("\n");
}

interface TerminalRow {
  serial: string;
  deviceId: string;
  model: string | null;
  firmware: string | null;
  lastContact: number | null;
  online: boolean;
  punchesToday: number;
  pendingCommands: string[];
  failedCommands: { id: number; command: string; returnCode: number | null; meaning: string }[];
  clockOffsetS: number | null;
  clockFlagged: boolean;
  unknownPins: string[];
}

/** One block per terminal: what a field engineer checks when sign-ins do not arrive. */
function formatTerminals(rows: unknown, now = Date.now()): string {
  // No ADMS link running: the gateway answers this path with its 404.
  if (!Array.isArray(rows) || rows.length === 0)
    return "no ADMS terminals on this gateway: the registry names none (devices[].adms.serialNumber)";
  return (rows as TerminalRow[])
    .map((t) => {
      const clock =
        t.clockOffsetS === null
          ? "not measured yet"
          : `${t.clockOffsetS >= 0 ? "+" : ""}${t.clockOffsetS} s${t.clockFlagged ? " FLAGGED: being set, its punches go to review" : ""}`;
      const lines = [
        `${t.serial.padEnd(16)} ${t.deviceId.padEnd(20)} ${t.online ? "online " : "offline"} last contact ${t.lastContact ? `${formatAge(now - t.lastContact)} ago` : "never"}`,
        `  model ${t.model ?? "?"}, firmware ${t.firmware ?? "?"}; punches today ${t.punchesToday}; clock ${clock}`,
        `  commands waiting: ${t.pendingCommands.length === 0 ? "none" : `${t.pendingCommands.length} (${t.pendingCommands.slice(0, 3).join("; ")}${t.pendingCommands.length > 3 ? "; ..." : ""})`}`,
      ];
      for (const f of t.failedCommands.slice(0, 5))
        lines.push(`  REFUSED #${f.id} ${f.command}: ${f.returnCode === null ? "" : `Return=${f.returnCode}, `}${f.meaning}`);
      if (t.unknownPins.length > 0) lines.push(`  PINs the registry does not know (kept for review): ${t.unknownPins.join(", ")}`);
      return lines.join("\n");
    })
    .join("\n");
}

async function start(settings: Settings, settingsFile: string): Promise<number> {
  // Refused here, not minutes later in the log as "Bad username or password": the hub's broker knows no anonymous gateway.
  if (settings.hub.password === undefined) {
    throw new UsageError(
      `hub.password is not set in ${settingsFile}: the hub's broker accepts gateway "${settings.hub.username ?? settings.gatewayId}" only with its password. ` +
        `Set hub.password (or ${SETTINGS_ENV["hub.password"]} in the environment) to the password whose scrypt hash is the registry's ` +
        `gateways[${settings.gatewayId}].secretHash; the hub's administrator makes that hash with \`hub hash-secret <password>\`. Then check it with \`gateway doctor\`.`,
    );
  }
  const logger = pino({ level: settings.logLevel });
  const running = await runGateway(settings, logger);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  logger.info("stopping the gateway");
  await running.close();
  return 0;
}

function formatDeadLetters(rows: unknown): string {
  if (!Array.isArray(rows)) return `unexpected answer: ${JSON.stringify(rows)}`;
  if (rows.length === 0) return "no dead letters";
  return (rows as { rxTs: number; deviceId?: string; code: string; message: string; source: string }[])
    .map((d) => `${new Date(d.rxTs).toISOString()}  ${(d.deviceId ?? "-").padEnd(20)} ${d.code.padEnd(18)} ${d.message}  (${d.source})`)
    .join("\n");
}

/** The data dir may not exist before the first start; its disk is that of its nearest existing parent. */
function existingAncestor(path: string): string {
  let dir = path;
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 3000 });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
    socket.once("timeout", () => done(false));
  });
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
    const fs = statfsSync(existingAncestor(resolve(settings.dataDir)));
    const freeMb = Math.floor((fs.bavail * fs.bsize) / 1024 / 1024);
    const neededMb = Math.ceil(settings.buffer.capacityBytes / 1024 / 1024);
    if (freeMb < neededMb)
      problems.push(`disk has ${freeMb} MB free but buffer.capacityBytes needs ${neededMb} MB: free space or lower buffer.capacityBytes`);
    else console.log(`ok   disk ${freeMb} MB free (buffer needs ${neededMb} MB)`);
  } catch (e) {
    problems.push(`cannot check disk space: ${(e as Error).message}`);
  }
  if (Date.now() < EARLIEST_DEVICE_TIME_MS)
    problems.push(`the system clock says ${new Date().toISOString()}: set the time (timedatectl set-ntp true) before starting`);
  else console.log(`ok   clock ${new Date().toISOString()}`);
  const hub = new URL(settings.hub.url);
  const hubPort = Number(hub.port || (hub.protocol === "mqtts:" ? 8883 : 1883));
  const username = settings.hub.username ?? settings.gatewayId;
  if (!(await reachable(hub.hostname, hubPort)))
    problems.push(
      `cannot connect to the hub at ${settings.hub.url}: check hub.url, the network and the hub's firewall (readings are buffered meanwhile)`,
    );
  else {
    // A real MQTT CONNECT with the credentials the uplink uses: a wrong password must show here, not only in the log.
    const login = await checkHubLogin(settings);
    if (login.ok) console.log(`ok   hub ${settings.hub.url} accepts gateway "${username}" and its password (MQTT CONNECT)`);
    else if (login.reason === "refused" || login.reason === "no-password")
      problems.push(
        `the hub at ${settings.hub.url} refuses gateway "${username}": ${login.detail}; set hub.password to this gateway's secret, whose scrypt hash is the registry's gateways[${settings.gatewayId}].secretHash (hub hash-secret <secret>)${settings.hub.certFile ? `; and check that hub.certFile's common name is "${username}"` : ""}`,
      );
    else if (login.reason === "tls" || login.reason === "tls-file")
      problems.push(
        `TLS to the hub at ${settings.hub.url} failed: ${login.detail}; set hub.caFile to the PEM of the CA that signed the hub's certificate, and hub.certFile/keyFile to this gateway's client certificate (common name "${username}", signed by the CA the hub's broker.tls.clientCaFile names) when the hub requires one`,
      );
    else
      problems.push(
        `the hub at ${settings.hub.url} answers but not as an MQTT broker: ${login.detail}; check hub.url (mqtt:// or mqtts://, and the port)`,
      );
  }
  for (const p of problems) console.log(`FIX  ${p}`);
  return problems.length === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: Error) => {
    const known =
      error instanceof SettingsError ||
      error instanceof UsageError ||
      error instanceof DataDirError ||
      error instanceof HubTlsError ||
      (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS");
    console.error(known ? `error: ${error.message}` : error);
    process.exit(known ? 2 : 1);
  },
);
