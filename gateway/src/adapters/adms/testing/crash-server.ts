// Crash-test child: an ADMS push server on a real buffer. With CRASH_AFTER_COMMIT=1 every punch is committed and
// then held: the server prints "committed" and never answers, so the parent can kill it with SIGKILL between the
// commit and the `OK: n` the terminal is waiting for.
import type { GatewayConfig } from "@supervision/firmware-protocols";
import pino from "pino";
import { openBuffer } from "../../../buffer/index.ts";
import { AdmsAdapter } from "../index.ts";

const [path, port, configJson] = process.argv.slice(2);
if (!path || !port || !configJson) throw new Error("usage: crash-server.ts <db path> <port> <config json>");
const buffer = openBuffer({ path, capacityBytes: 64 * 1024 * 1024 });
const hold = process.env.CRASH_AFTER_COMMIT === "1";
const adapter = new AdmsAdapter({
  config: JSON.parse(configJson) as GatewayConfig,
  logger: pino({ level: "warn" }),
  host: "127.0.0.1",
  port: Number(port),
  statePath: `${path}.adms.json`,
});
await adapter.start({
  async append(reading) {
    const result = await buffer.append(reading);
    if (hold && reading.kind === "signin") {
      process.stdout.write(`committed ${reading.seq}\n`);
      return new Promise<never>(() => {});
    }
    return result;
  },
  deadLetter: (entry) => buffer.deadLetter(entry),
});
process.stdout.write(`listening ${adapter.port}\n`);
process.once("SIGTERM", () => {
  void adapter.stop().then(() => {
    buffer.close();
    process.exit(0);
  });
});
