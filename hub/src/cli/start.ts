import pino from "pino";
import { Hub } from "../controller/hub.ts";
import { loadSettings, SettingsError } from "../settings/index.ts";
import type { CliCommand } from "./command.ts";

const HELP = `Usage: hub start [--settings <file>]

Starts the hub with the settings file (default: config/hub.yaml): InfluxDB (managed unless influx.url),
the embedded broker (unless broker.url), the HTTP API (/healthz, /metrics, /api/status) and the extensions.
Ctrl-C (SIGINT) or SIGTERM stops everything in reverse order.`;

export const startCommand: CliCommand = {
  name: "start",
  summary: "run the hub (hub start --settings config/hub.yaml)",
  async run(args) {
    if (args.includes("--help") || args.includes("-h")) {
      console.log(HELP);
      return 0;
    }
    let file = "config/hub.yaml";
    if (args.length === 2 && args[0] === "--settings" && args[1]) file = args[1];
    else if (args.length > 0) {
      console.error(`hub start: unexpected arguments ${args.join(" ")}.\n\n${HELP}`);
      return 2;
    }
    let settings: ReturnType<typeof loadSettings>;
    try {
      settings = loadSettings(file);
    } catch (err) {
      if (!(err instanceof SettingsError)) throw err;
      console.error(err.message);
      return 1;
    }
    const logger = pino({ level: settings.logLevel });
    const hub = new Hub(settings, logger);
    const stopped = new Promise<void>((resolve) => {
      const stop = (): void => {
        logger.info("stopping the hub");
        hub.stop().then(resolve, (err: unknown) => {
          logger.error({ err }, "hub stop failed");
          resolve();
        });
      };
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
    try {
      await hub.start();
    } catch (err) {
      logger.fatal({ err }, "hub failed to start");
      await hub.stop();
      console.error(`hub start: ${(err as Error).message}`);
      return 1;
    }
    await stopped;
    return 0;
  },
};
