/**
 * npm run sim -- --help
 * Plays a hall's or construction site's devices over MQTT against a gateway (or any broker).
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { localDate, localTimeToUtc } from "../time.ts";
import { generateDay, withExtraKeypads } from "./day.ts";
import { SimDevice } from "./device.ts";
import { backfill, LivePlayer, type PlayedDevice, PlayPosition, SeqStore, toPayload } from "./player.ts";
import { DEMO_SCENARIOS, liveDayStart, type Scenario } from "./scenario.ts";
import { SerialDeviceSimulator } from "./serial-device.ts";
import { AdmsTerminalSimulator } from "./adms-terminal.ts";
import { CameraRelay, parseCameraRelay } from "./camera-relay.ts";
import { ApprovalSystemsPlayer } from "./approvals.ts";

const HELP = `Usage: npm run sim -- [options]

Plays the devices of one service hall or construction site over MQTT, following a realistic working day:
clerks and supervisors sign in (some late, a few absent), transactions are rated, cameras see motion while a
window is staffed, every device sends heartbeats. Each device has its own MQTT connection and credentials.

Options:
  --broker <url>       the gateway's device broker               (default mqtt://127.0.0.1:1883)
  --site hall|site     the demo service hall or construction site (default hall)
  --scenario <file>    a scenario JSON file instead of a demo site (see firmware-protocols/src/sim/README.md)
  --seed <n>           same seed, same day                        (default 1)
  --speed <n>          simulated seconds per real second          (default 60); the simulated clock starts at the
                       latest shift start that has passed and never runs ahead of the real clock
  --devices <n>        extra keypads for load (kp-load-001...; the gateway must know them)   (default 0)
  --backfill <date>    play that past day (YYYY-MM-DD, site's zone) as fast as the broker acknowledges, then exit
  --state <file>       device sequence numbers, kept across runs  (default var/sim/<site>.seq.json)
  --serial <path>      play the keypads and terminals on this RS-485 serial port instead of MQTT (bus addresses
                       1, 2, ... in the scenario's device order, printed at start; cameras stay on MQTT)
  --adms <url>         play the scenario's ZKTeco terminals (devices with adms) over ADMS push at this server,
                       e.g. http://127.0.0.1:8089 (the gateway's adms.port); people sign in with their PIN
  --camera-relay <id>=<url>  play camera <id>'s motion through a test ONVIF camera: each start and end is POSTed
                       as {"state","ts"} to <url> (npm start's demo camera); repeatable
  --approvals <url>    play the scenario's departments' approval systems instead of its devices: the applications
                       the hall accepts, their steps, suspensions and decisions, POSTed to the hub's API at <url>
                       (e.g. http://127.0.0.1:8080), from --since on, then as their time comes
  --tokens <file>      with --approvals: a JSON file {"<system id>": "<API token>"} (hub token add <id> --role operator)
  --since <date>       with --approvals: the first date whose applications are reported (default 5 weeks ago)
  --help               this text`;

class UsageError extends Error {}

function parse(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      broker: { type: "string", default: "mqtt://127.0.0.1:1883" },
      site: { type: "string", default: "hall" },
      scenario: { type: "string" },
      seed: { type: "string", default: "1" },
      speed: { type: "string", default: "60" },
      devices: { type: "string", default: "0" },
      backfill: { type: "string" },
      state: { type: "string" },
      serial: { type: "string" },
      adms: { type: "string" },
      "camera-relay": { type: "string", multiple: true },
      approvals: { type: "string" },
      tokens: { type: "string" },
      since: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  const seed = Number(values.seed);
  const speed = Number(values.speed);
  const devices = Number(values.devices);
  if (!Number.isInteger(seed)) throw new UsageError(`--seed must be an integer, got "${values.seed}"`);
  if (!(speed >= 1 && speed <= 100_000)) throw new UsageError(`--speed must be a number from 1 to 100000, got "${values.speed}"`);
  if (!Number.isInteger(devices) || devices < 0 || devices > 10_000)
    throw new UsageError(`--devices must be an integer from 0 to 10000, got "${values.devices}"`);
  if (values.adms !== undefined && !/^https?:\/\/[^/]+$/.test(values.adms))
    throw new UsageError(`--adms must be the gateway's ADMS server as http(s)://host:port, got "${values.adms}"`);
  if (values.approvals !== undefined && !/^https?:\/\/[^/]+$/.test(values.approvals))
    throw new UsageError(`--approvals must be the hub's HTTP API as http(s)://host:port, got "${values.approvals}"`);
  if (values.approvals !== undefined && values.tokens === undefined)
    throw new UsageError("--approvals needs --tokens <file>: the approval systems' API tokens");
  if (values.since !== undefined && (!/^\d{4}-\d{2}-\d{2}$/.test(values.since) || Number.isNaN(Date.parse(values.since))))
    throw new UsageError(`--since must be a date YYYY-MM-DD, got "${values.since}"`);
  if (!/^mqtts?:\/\/[^/]+/.test(values.broker)) throw new UsageError(`--broker must be an mqtt:// or mqtts:// URL, got "${values.broker}"`);
  if (values.backfill !== undefined && (!/^\d{4}-\d{2}-\d{2}$/.test(values.backfill) || Number.isNaN(Date.parse(values.backfill))))
    throw new UsageError(`--backfill must be a date YYYY-MM-DD, got "${values.backfill}"`);
  let scenario: Scenario;
  if (values.scenario) {
    try {
      scenario = JSON.parse(readFileSync(values.scenario, "utf8")) as Scenario;
    } catch (error) {
      throw new UsageError(`cannot read the scenario ${values.scenario}: ${(error as Error).message}`);
    }
  } else if (values.site === "hall" || values.site === "site") scenario = DEMO_SCENARIOS[values.site];
  else throw new UsageError(`--site must be hall or site, got "${values.site}"`);
  let relays: { deviceId: string; url: string }[];
  try {
    relays = (values["camera-relay"] ?? []).map(parseCameraRelay);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  for (const r of relays)
    if (!scenario.devices.some((d) => d.id === r.deviceId && d.kind === "camera"))
      throw new UsageError(`--camera-relay: "${r.deviceId}" is not a camera of the scenario ${scenario.site.id}`);
  return { ...values, seed, speed, relays, scenario: withExtraKeypads(scenario, devices) };
}

async function main(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(HELP);
    return 0;
  }
  const opts = parse(argv);
  const { scenario } = opts;
  const tz = scenario.site.tz;
  if (opts.approvals) return playApprovals(opts.approvals, opts.tokens!, scenario, opts.seed, opts.since, opts.state);
  const seqs = new SeqStore(opts.state ?? `var/sim/${scenario.site.id}.seq.json`);
  const devices = new Map<string, PlayedDevice>();
  const mqttDevices: SimDevice[] = [];
  let bus: SerialDeviceSimulator | undefined;
  const onBus = opts.serial ? scenario.devices.filter((d) => d.kind !== "camera") : [];
  if (opts.serial) {
    bus = new SerialDeviceSimulator(
      opts.serial,
      onBus.map((_, i) => i + 1),
    );
    try {
      await bus.open();
    } catch (error) {
      throw new UsageError(`cannot open the serial port ${opts.serial}: ${(error as Error).message}`);
    }
    onBus.forEach((d, i) => devices.set(d.id, bus!.device(i + 1)));
    console.log(`on ${opts.serial}: ${onBus.map((d, i) => `${d.id}@${i + 1}`).join(" ")} (give the registry these serial addresses)`);
  }
  const terminals: AdmsTerminalSimulator[] = [];
  const overAdms = opts.adms ? scenario.devices.filter((d) => d.adms && !onBus.includes(d)) : [];
  for (const spec of overAdms) {
    const terminal = new AdmsTerminalSimulator({
      url: opts.adms!,
      serial: spec.adms!.serial,
      tz,
      pins: new Map(scenario.people.filter((p) => p.pin).map((p) => [p.id, p.pin!])),
      // A past day (backfill, or catching up on today) plays the terminal as offline until then: its punches arrive
      // as one backlog after the handshake, then live ones, as from a terminal whose clock is right.
      offlineBeforeMs: 2 * 60_000,
    });
    devices.set(spec.id, terminal);
    terminals.push(terminal);
  }
  if (overAdms.length > 0) console.log(`over ADMS at ${opts.adms}: ${overAdms.map((d) => `${d.id} (serial ${d.adms!.serial})`).join(" ")}`);
  const relayed = new Set(opts.relays.map((r) => r.deviceId));
  for (const r of opts.relays) devices.set(r.deviceId, new CameraRelay(r.url));
  if (relayed.size > 0) console.log(`through test ONVIF cameras: ${opts.relays.map((r) => `${r.deviceId} (${r.url})`).join(" ")}`);
  const hasQueueSystem = scenario.devices.some((d) => d.kind === "queue");
  const clerkOf = new Map(scenario.people.filter((p) => p.windowId).map((p) => [p.windowId!, p.id]));
  for (const spec of scenario.devices.filter((d) => !onBus.includes(d) && !overAdms.includes(d) && !relayed.has(d.id))) {
    const simDevice = new SimDevice(spec, opts.broker, (device, command) => {
      // A keypad answers a prompt after the citizen thinks for a moment: mostly satisfied. With the hall's queue system
      // in the scenario the day's timeline already plays each prompted transaction's rating, so it is not answered twice.
      if (command.name !== "prompt" || device.spec.kind !== "keypad" || hasQueueSystem) return;
      const level = Math.random() < 0.9 ? "very_satisfied" : "dissatisfied";
      const event = {
        at: Date.now(),
        deviceId: device.spec.id,
        kind: "rating" as const,
        fields: {
          windowId: command.payload.windowId,
          clerkId: command.payload.clerkId ?? clerkOf.get(command.payload.windowId),
          txnId: command.payload.txnId,
          outcome: "rated",
          scale: "four",
          key: level === "very_satisfied" ? 1 : 4,
          level,
        },
      };
      setTimeout(() => device.publish("rating", toPayload(event, seqs.take(device.spec.id))).catch(() => undefined), 1500);
    });
    devices.set(spec.id, simDevice);
    mqttDevices.push(simDevice);
  }
  // Terminals handshake in the background (retrying while the gateway is not up yet); a refused serial ends the run.
  for (const t of terminals)
    t.start().catch((error: Error) => {
      console.error(`sim: ${error.message}`);
      process.exit(2);
    });
  try {
    await Promise.all(mqttDevices.map((d) => d.connect()));
  } catch (error) {
    throw new UsageError(
      `cannot connect the devices to ${opts.broker} (${(error as Error).message}): is the gateway running, and does it know these devices and their secrets (its config comes from the hub's registry)?`,
    );
  }
  console.log(`${mqttDevices.length} devices of ${scenario.site.id} connected to ${opts.broker}`);
  const close = async () => {
    seqs.save();
    // Serial devices hand over what they hold when the gateway polls: wait for that before leaving.
    while (bus && onBus.some((_, i) => bus!.pending(i + 1) > 0)) await new Promise((r) => setTimeout(r, 200));
    await bus?.close();
    // Terminals keep their punches until acknowledged: give them a moment to hand over what they hold.
    for (let i = 0; i < 50 && terminals.some((t) => t.pending() > 0); i++) await new Promise((r) => setTimeout(r, 200));
    await Promise.all(terminals.map((t) => t.stop()));
    await Promise.all(mqttDevices.map((d) => d.close().catch(() => undefined)));
  };

  if (opts.backfill) {
    const timeline = generateDay(scenario, { date: opts.backfill, seed: opts.seed });
    console.log(`backfilling ${opts.backfill}: ${timeline.length} events`);
    await backfill(timeline, devices, seqs, (p) =>
      console.log(
        `backfill ${opts.backfill}: ${p.done}/${p.total} events, ${Math.round(p.ratePerS)}/s, ${p.etaS === null ? "?" : Math.ceil(p.etaS)} s left`,
      ),
    );
    await close();
    return 0;
  }

  // The simulated clock starts a quarter of an hour before the first shift of the latest day whose work has begun,
  // so a whole working day plays at compressed speed; a restarted simulator resumes where it stopped instead.
  const now = Date.now();
  const today = localDate(now, tz);
  const dayStart = liveDayStart(scenario, now);
  const terminalIds = new Set(scenario.devices.filter((d) => d.kind === "terminal").map((d) => d.id));
  const position = new PlayPosition(`${seqs.path}.position`);
  const resumeAt = position.read();
  const simStart = resumeAt !== undefined && resumeAt >= dayStart && resumeAt < now ? resumeAt + 1 : dayStart;
  const player = new LivePlayer(devices, seqs, simStart, opts.speed, Date.now(), {
    position,
    // A real terminal sends heartbeats live and never keeps them back: while the demo catches up on the past, an
    // MQTT terminal plays as offline then (its punches kept and handed over), like the ADMS one.
    skip: (e, realNow) => e.kind === "heartbeat" && terminalIds.has(e.deviceId) && e.at < realNow - 2 * 60_000,
  });
  console.log(
    `playing from ${new Date(simStart).toISOString()}${simStart === dayStart ? "" : " (resuming where the last run stopped)"} at ${opts.speed}x (today is ${today} in ${tz}); Ctrl-C stops`,
  );
  const stop = () => player.stop();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  const report = setInterval(
    () =>
      console.log(
        `simulated ${new Date(player.now()).toISOString()}: ${player.counts.published} events sent, ${player.counts.failed} failed`,
      ),
    10_000,
  );
  for (let day = localDate(simStart, tz); !player.isStopped(); day = localDate(localTimeToUtc(day, "12:00", tz) + 86_400_000, tz)) {
    await player.play(generateDay(scenario, { date: day, seed: opts.seed }));
    // Caught up with today's last event: wait for the next day without spinning.
    while (!player.isStopped() && localDate(player.now(), tz) === day) await new Promise((r) => setTimeout(r, 1000));
  }
  clearInterval(report);
  await close();
  return 0;
}

/** `--approvals`: the departments' approval systems reporting to the hub's API until stopped. */
async function playApprovals(
  hubUrl: string,
  tokensFile: string,
  scenario: Scenario,
  seed: number,
  since: string | undefined,
  state: string | undefined,
) {
  let tokens: Record<string, string>;
  try {
    tokens = JSON.parse(readFileSync(tokensFile, "utf8")) as Record<string, string>;
    if (!tokens || typeof tokens !== "object" || Object.values(tokens).some((t) => typeof t !== "string"))
      throw new Error("not an object of tokens");
  } catch (error) {
    throw new UsageError(`cannot read the tokens ${tokensFile} ({"<system id>": "<token>"}): ${(error as Error).message}`);
  }
  const systems = scenario.approvalSystems ?? [];
  if (systems.length === 0) throw new UsageError(`the scenario of ${scenario.site.id} has no approvalSystems to play`);
  const tz = scenario.site.tz;
  const fromDate = since ?? localDate(Date.now() - 35 * 86_400_000, tz);
  const player = new ApprovalSystemsPlayer({
    hubUrl,
    tokens,
    scenario,
    seed,
    fromDate,
    position: new PlayPosition(`${state ?? `var/sim/${scenario.site.id}`}.approvals.position`),
    log: (line) => console.log(line),
  });
  console.log(`approval systems ${systems.map((s) => s.id).join(", ")} reporting to ${hubUrl} from ${fromDate}; Ctrl-C stops`);
  process.once("SIGINT", () => player.stop());
  process.once("SIGTERM", () => player.stop());
  await player.run();
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: Error) => {
    const known = error instanceof UsageError || (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS");
    console.error(known ? `sim: ${error.message}` : error);
    process.exit(known ? 2 : 1);
  },
);
