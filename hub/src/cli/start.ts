import { createHubLogger } from "../secrets/redact.ts";
import { Hub } from "../controller/hub.ts";
import { type CliCommand, helpOrSettings } from "./command.ts";

const HELP = `Usage: hub start [--settings <file>]

Starts the hub with the settings file (default: config/hub.yaml): InfluxDB (managed unless influx.url),
the embedded broker (unless broker.url), the HTTP API (/healthz, /metrics, /api/status) and the extensions.
Ctrl-C (SIGINT) or SIGTERM stops everything in reverse order.`;

export const startCommand: CliCommand = {
  name: "start",
  summary: "run the hub (hub start --settings config/hub.yaml)",
  async run(args) {
    const loaded = helpOrSettings("start", args, HELP);
    if ("exitCode" in loaded) return loaded.exitCode;
    const { settings } = loaded;
    const logger = createHubLogger(settings.logLevel);
    const hub = new Hub(settings, logger, [], { settingsFile: loaded.file });
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
