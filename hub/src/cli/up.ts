import { createServer } from "node:net";
import { parseArgs } from "node:util";
import pino from "pino";
import { Hub } from "../controller/hub.ts";
import { HubSettings } from "../settings/index.ts";
import type { CliCommand } from "./command.ts";

const HELP = `Usage: hub up [options]

Brings up the system on this machine with embedded defaults: a managed InfluxDB and the hub (embedded broker,
HTTP API), using the registry in --registry. Everything is kept under --data-dir. Ctrl-C stops everything.

Options:
  --influx-port <n>      managed InfluxDB HTTP port        (default 8086)
  --influx-rpc-port <n>  managed InfluxDB backup RPC port  (default 8088)
  --broker-port <n>      hub broker port for gateways      (default 1884)
  --http-port <n>        hub HTTP API port                 (default 8080)
  --registry <dir>       registry directory                (default config/registry)
  --data-dir <dir>       where data lives                  (default var/hub)

Planned defaults for the demo gateways (not started yet): hall gateway devices 1883 / HTTP 8081,
construction-site gateway devices 1885 / HTTP 8082.`;

const PORT_FLAGS = { "influx-port": 8086, "influx-rpc-port": 8088, "broker-port": 1884, "http-port": 8080 } as const;

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "0.0.0.0", () => server.close(() => resolve(true)));
  });
}

export const upCommand: CliCommand = {
  name: "up",
  summary: "bring up InfluxDB and the hub on this machine with defaults (what `npm start` runs)",
  async run(args) {
    let values: Record<string, string | boolean | undefined>;
    try {
      values = parseArgs({
        args,
        options: {
          help: { type: "boolean", short: "h" },
          registry: { type: "string", default: "config/registry" },
          "data-dir": { type: "string", default: "var/hub" },
          ...Object.fromEntries(
            Object.entries(PORT_FLAGS).map(([flag, port]) => [flag, { type: "string" as const, default: String(port) }]),
          ),
        },
      }).values;
    } catch (err) {
      console.error(`hub up: ${(err as Error).message}\n\n${HELP}`);
      return 2;
    }
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    const ports: Record<string, number> = {};
    for (const flag of Object.keys(PORT_FLAGS)) {
      const port = Number(values[flag]);
      if (!Number.isInteger(port) || port < 1 || port > 65535) {
        console.error(`hub up: --${flag} must be a port number 1-65535, got "${values[flag]}"`);
        return 2;
      }
      if (!(await portFree(port))) {
        console.error(`hub up: port ${port} is already in use; stop what uses it or pass another port with --${flag} <n>`);
        return 1;
      }
      ports[flag] = port;
    }
    const settings = HubSettings.parse({
      influx: { managedPort: ports["influx-port"], managedRpcPort: ports["influx-rpc-port"] },
      broker: { port: ports["broker-port"] },
      http: { port: ports["http-port"] },
      registry: { dir: values.registry },
      dataDir: values["data-dir"],
      log: { level: "warn" },
    });
    const hub = new Hub(settings, pino({ level: settings.log.level }));
    const stopped = new Promise<void>((resolve) => {
      const stop = (): void => {
        console.log("stopping...");
        hub.stop().then(resolve, resolve);
      };
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
    try {
      await hub.start();
    } catch (err) {
      await hub.stop();
      console.error(`hub up: ${(err as Error).message}`);
      return 1;
    }
    console.log(
      [
        "The system is up:",
        `  InfluxDB       http://127.0.0.1:${ports["influx-port"]}  (database supervision, data in ${settings.dataDir}/influxdb)`,
        `  hub broker     mqtt://127.0.0.1:${ports["broker-port"]}  (gateways log in with their registry secret)`,
        `  hub HTTP API   http://127.0.0.1:${hub.httpPort}/healthz`,
        "Ctrl-C stops everything.",
      ].join("\n"),
    );
    await stopped;
    return 0;
  },
};
