/**
 * `npm run faults`: the fault matrix (and, after it, the improvised Mosquitto bridge under the same outages).
 */
import { parseArgs } from "node:util";
import { BRIDGE_OUTAGES, formatComparison, runBridgeBaseline } from "./bridge.ts";
import { DEFAULT_OPTIONS, FAULTS, formatResult, type MatrixOptions, runFaultMatrix } from "./matrix.ts";

const HELP = `Usage: npm run faults -- [options]

Runs keypads (MQTT QoS 1, resending what got no PUBACK) through a real gateway process, a real hub process and the
hub's managed influxd, all on loopback, and strikes them at random moments with: ${FAULTS.join(", ")}.
Stale (beyond retention) and future readings are mixed into the stream. Then counts every reading: acknowledged by
the gateway, stored in InfluxDB, dead-lettered with its reason (gateway or hub), lost, doubled. Exits 1 when any
reading is lost or doubled (or a stale or future one stored), 2 on bad options.

Then, for comparison, what an integrator would improvise: keypads into a hall Mosquitto bridged (mosquitto.conf
bridge, QoS 1, default queues, no persistence) through the same kind of cut proxy to a central Mosquitto, a bare
subscriber counting what arrives, struck by ${BRIDGE_OUTAGES.join(", ")}; its loss is printed
beside ours (it does not change the exit code).

Needs root (the gateway's data directory is a small tmpfs it mounts and fills) and Debian's influxdb, mosquitto,
mosquitto-clients and faketime (libfaketime steps the gateway's wall clock).

Options:
  --readings <n>        readings in all                          (default ${DEFAULT_OPTIONS.readings})
  --rounds <n>          faults injected; each kind at least once when >= ${FAULTS.length}  (default ${DEFAULT_OPTIONS.rounds})
  --keypads <n>         devices publishing at once               (default ${DEFAULT_OPTIONS.keypads})
  --rate <n>            readings per second, all keypads; 0 = as fast as acknowledged  (default ${DEFAULT_OPTIONS.rate})
  --seed <n>            the stream and the moments of the faults (default ${DEFAULT_OPTIONS.seed})
  --odd-share <x>       share of stale and of future readings each (default ${DEFAULT_OPTIONS.oddShare})
  --clock-back <s>      how far the gateway's clock jumps back   (default ${DEFAULT_OPTIONS.clockBackS}; beyond 600 s the
                        devices' good readings look 'future' to the gateway and are dead-lettered)
  --clock-forward <s>   how far it jumps forward                 (default ${DEFAULT_OPTIONS.clockForwardS})
  --disk-mib <n>        size of the gateway's tmpfs              (default ${DEFAULT_OPTIONS.diskMiB})
  --outage <n>          readings acknowledged during each outage, in both setups (default: readings / (rounds x 8))
  --no-baseline         skip the Mosquitto bridge
  --keep                keep the run's folder (hub log, settings, registry)
  -h, --help            this text

Larger: npm run faults -- --readings 100000 --rounds 24 --rate 2000`;

function positive(name: string, text: string, { min = 1, integer = true } = {}): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) {
    throw new Error(`--${name} must be ${integer ? "an integer" : "a number"} of at least ${min}, got "${text}"`);
  }
  return n;
}

async function main(argv: string[]): Promise<number> {
  let opts: MatrixOptions;
  let baseline = true;
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        help: { type: "boolean", short: "h" },
        readings: { type: "string", default: String(DEFAULT_OPTIONS.readings) },
        rounds: { type: "string", default: String(DEFAULT_OPTIONS.rounds) },
        keypads: { type: "string", default: String(DEFAULT_OPTIONS.keypads) },
        rate: { type: "string", default: String(DEFAULT_OPTIONS.rate) },
        seed: { type: "string", default: String(DEFAULT_OPTIONS.seed) },
        "odd-share": { type: "string", default: String(DEFAULT_OPTIONS.oddShare) },
        "clock-back": { type: "string", default: String(DEFAULT_OPTIONS.clockBackS) },
        "clock-forward": { type: "string", default: String(DEFAULT_OPTIONS.clockForwardS) },
        "disk-mib": { type: "string", default: String(DEFAULT_OPTIONS.diskMiB) },
        outage: { type: "string", default: "0" },
        "no-baseline": { type: "boolean", default: false },
        keep: { type: "boolean", default: false },
      },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    baseline = !values["no-baseline"];
    const oddShare = positive("odd-share", values["odd-share"], { min: 0, integer: false });
    if (oddShare > 0.4) throw new Error(`--odd-share must be at most 0.4, got "${values["odd-share"]}"`);
    opts = {
      readings: positive("readings", values.readings, { min: 100 }),
      rounds: positive("rounds", values.rounds),
      keypads: positive("keypads", values.keypads),
      rate: positive("rate", values.rate, { min: 0 }),
      seed: positive("seed", values.seed, { min: 0 }),
      oddShare,
      clockBackS: positive("clock-back", values["clock-back"]),
      clockForwardS: positive("clock-forward", values["clock-forward"]),
      diskMiB: positive("disk-mib", values["disk-mib"], { min: 16 }),
      outage: positive("outage", values.outage, { min: 0 }),
      keep: values.keep,
      progress: (line) => console.log(line),
    };
  } catch (error) {
    console.error(`faults: ${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (process.getuid?.() !== 0) {
    console.error(
      "faults: needs root: the gateway's data directory is a tmpfs this run mounts (mount -t tmpfs) and fills; run it as root, as CI does",
    );
    return 2;
  }
  const result = await runFaultMatrix(opts);
  console.log(`\n${formatResult(result)}\n`);
  if (baseline) {
    const bridge = await runBridgeBaseline({
      readings: opts.readings,
      keypads: opts.keypads,
      seed: opts.seed,
      outage: result.outage,
      progress: opts.progress,
    });
    console.log(`\n${formatComparison(result, bridge, result.outage)}`);
  }
  return result.ok ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: Error) => {
    console.error(`faults: ${error.message}`);
    process.exit(1);
  },
);
