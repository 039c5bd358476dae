/**
 * `npm run soak`: an hour (by default) at 1,000 readings/s through the real gateway, hub and influxd, printing each
 * process's memory and open file descriptors over time and a verdict on their growth.
 */
import { parseArgs } from "node:util";
import { formatSoak, runSoak } from "./soak.ts";

const HELP = `Usage: npm run soak -- [--minutes 60] [--rate 1000] [--keypads 20] [--sample <s>]

Keypads publish ratings (QoS 1) at a steady rate into a real gateway process, through the hub process into its
managed influxd, all on loopback. Every sample prints readings acknowledged, the rate reached, readings waiting in
the gateway, and the resident memory (VmRSS) and open file descriptors (/proc/<pid>/fd) of the hub, the gateway
and influxd. At the end: stored vs acknowledged, and per process the first third's memory and descriptors against
the last third's. Exits 1 when anything was lost or memory or descriptors kept growing (the last third's lowest RSS more than a
fifth and 16 MiB above the first third's lowest, or 10 descriptors more). Needs root (the gateway's data directory is a tmpfs).

Options:
  --minutes <n>   how long to publish              (default 60)
  --rate <n>      readings per second, all keypads  (default 1000)
  --keypads <n>   devices publishing                (default 20)
  --sample <s>    seconds between samples           (default: a thirtieth of the run, 2 to 60)
  -h, --help      this text`;

async function main(argv: string[]): Promise<number> {
  let minutes: number, rate: number, keypads: number, sampleS: number;
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        help: { type: "boolean", short: "h" },
        minutes: { type: "string", default: "60" },
        rate: { type: "string", default: "1000" },
        keypads: { type: "string", default: "20" },
        sample: { type: "string" },
      },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    minutes = Number(values.minutes);
    rate = Number(values.rate);
    keypads = Number(values.keypads);
    if (!(minutes > 0 && minutes <= 24 * 60))
      throw new Error(`--minutes must be a number above 0 and at most 1440, got "${values.minutes}"`);
    if (!(rate >= 1 && rate <= 100_000)) throw new Error(`--rate must be a number from 1 to 100000, got "${values.rate}"`);
    if (!(Number.isInteger(keypads) && keypads >= 1 && keypads <= 1000))
      throw new Error(`--keypads must be an integer from 1 to 1000, got "${values.keypads}"`);
    sampleS = values.sample === undefined ? Math.min(60, Math.max(2, (minutes * 60) / 30)) : Number(values.sample);
    if (!(sampleS >= 1)) throw new Error(`--sample must be a number of seconds of at least 1, got "${values.sample}"`);
  } catch (error) {
    console.error(`soak: ${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (process.getuid?.() !== 0) {
    console.error("soak: needs root: the gateway's data directory is a tmpfs this run mounts (mount -t tmpfs); run it as root");
    return 2;
  }
  const result = await runSoak({ minutes, rate, keypads, sampleS, progress: (line) => console.log(line) });
  console.log(`\n${formatSoak(result)}`);
  return result.ok ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: Error) => {
    console.error(`soak: ${error.message}`);
    process.exit(1);
  },
);
