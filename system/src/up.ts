import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { GATEWAY_ENV, GATEWAY_NODE_FLAGS } from "@supervision/gateway/node-flags";
import { localDate } from "@supervision/firmware-protocols";
import { DEMO_SCENARIOS, liveDayStart } from "@supervision/firmware-protocols/sim";
import { createHubLogger, Hub, HubSettings } from "@supervision/hub";
import { stringify } from "yaml";
import { type ManagedChild, startChild } from "./child.ts";
import { DEMO_GATEWAYS, demoApprovalTokens, demoHoliday, demoScenario, demoSecrets, writeDemoRegistry, writePrivateFile } from "./demo.ts";
import { type DemoCamera, startDemoCamera } from "./demo-camera.ts";
import { createLiveSummary } from "./summary.ts";

const HELP = `Usage: npm start -- [options]    (the same as: npx supervision up [options])

Brings up the whole system on this machine with embedded defaults: a managed InfluxDB, the hub (embedded broker,
HTTP API), a service-hall gateway and a construction-site gateway, and simulated devices playing a working day at
compressed speed. Prints where everything listens and a live summary per hall; logs go to <data-dir>/logs/.
Window 1 of the hall has an ONVIF camera (a replay camera with GStreamer's RTSP test stream, on free loopback
ports) whose motion the simulator plays and whose live view the printed "live view" address shows in a browser.
Ctrl-C stops everything.

Options:
  --influx-port <n>      managed InfluxDB HTTP port             (default 8086)
  --influx-rpc-port <n>  managed InfluxDB backup RPC port       (default 8088)
  --broker-port <n>      hub broker port for gateways           (default 1884)
  --http-port <n>        hub HTTP API port                      (default 8080)
  --hall-port <n>        hall gateway's device broker port      (default 1883)
  --hall-http-port <n>   hall gateway's HTTP port               (default 8081)
  --site-port <n>        site gateway's device broker port      (default 1885)
  --site-http-port <n>   site gateway's HTTP port               (default 8082)
  --site-adms-port <n>   site gateway's ADMS push server, where the site's ZKTeco terminal sends its punches
                         (default 8089)
  --speed <n>            simulated seconds per real second      (default 60)
  --seed <n>             simulation seed                        (default 1)
  --no-sim               start no simulators (connect real devices to the gateways)
  --notify-url <url>     POST every supervision warning (an absent or late site supervisor, a missed check-in, an
                         unattended window, ...) as JSON to this webhook, e.g. a chat bot or a local receiver
  --data-dir <dir>       where everything keeps its data        (default var/demo)`;

/** Weeks of applications before go-live that the demo's approval systems report. */
const APPROVAL_WEEKS = 2;

const PORT_FLAGS = {
  "influx-port": 8086,
  "influx-rpc-port": 8088,
  "broker-port": 1884,
  "http-port": 8080,
  "hall-port": 1883,
  "hall-http-port": 8081,
  "site-port": 1885,
  "site-http-port": 8082,
  "site-adms-port": 8089,
} as const;
type PortFlag = keyof typeof PORT_FLAGS;

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "0.0.0.0", () => server.close(() => resolve(true)));
  });
}

/** The TypeScript entry points of the gateway CLI and the simulators, found through their packages' exports. */
const GATEWAY_CLI = fileURLToPath(import.meta.resolve("@supervision/gateway/cli"));
const SIM_CLI = fileURLToPath(import.meta.resolve("@supervision/firmware-protocols/sim/cli"));
const HUB_CLI = fileURLToPath(import.meta.resolve("@supervision/hub/cli"));
/** The demo hall's first camera is an ONVIF camera (replay + RTSP test stream) instead of a simulated MQTT one. */
const DEMO_ONVIF_CAMERA = DEMO_SCENARIOS.hall.devices.find((d) => d.kind === "camera")!;
const LIVE_VIEW_TOKEN_NAME = "live-view-demo";

async function waitForConfig(gatewayId: string, httpPort: number, children: ManagedChild[], token?: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
      const status = (await (await fetch(`http://127.0.0.1:${httpPort}/api/status`, { headers })).json()) as {
        configVersion?: number | null;
      };
      if (typeof status.configVersion === "number") return;
    } catch {
      // not listening yet
    }
    const child = children.find((c) => c.name === gatewayId);
    if (child && child.process.exitCode !== null) throw new Error(`gateway ${gatewayId} exited with ${child.process.exitCode}`);
    if (Date.now() > deadline) throw new Error(`gateway ${gatewayId} got no config from the hub within 60 s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** `supervision up`, what `npm start` runs. */
export const upCommand = {
  name: "up",
  summary: "bring up InfluxDB, the hub, a hall and a site gateway and simulated devices (what `npm start` runs)",
  async run(args: string[]): Promise<number> {
    let values: Record<string, string | boolean | undefined>;
    try {
      values = parseArgs({
        args,
        options: {
          help: { type: "boolean", short: "h" },
          "data-dir": { type: "string", default: "var/demo" },
          speed: { type: "string", default: "60" },
          seed: { type: "string", default: "1" },
          "no-sim": { type: "boolean", default: false },
          "notify-url": { type: "string" },
          ...Object.fromEntries(
            Object.entries(PORT_FLAGS).map(([flag, port]) => [flag, { type: "string" as const, default: String(port) }]),
          ),
        },
      }).values;
    } catch (err) {
      console.error(`supervision up: ${(err as Error).message}\n\n${HELP}`);
      return 2;
    }
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    const ports = {} as Record<PortFlag, number>;
    for (const flag of Object.keys(PORT_FLAGS) as PortFlag[]) {
      const port = Number(values[flag]);
      if (!Number.isInteger(port) || port < 1 || port > 65535) {
        console.error(`supervision up: --${flag} must be a port number 1-65535, got "${values[flag]}"`);
        return 2;
      }
      if (!(await portFree(port))) {
        console.error(`supervision up: port ${port} is already in use; stop what uses it or pass another port with --${flag} <n>`);
        return 1;
      }
      ports[flag] = port;
    }
    const speed = Number(values.speed);
    if (!(speed >= 1 && speed <= 10_000)) {
      console.error(`supervision up: --speed must be a number from 1 to 10000, got "${values.speed}"`);
      return 2;
    }
    const notifyUrl = values["notify-url"] === undefined ? undefined : String(values["notify-url"]);
    if (notifyUrl !== undefined && !/^https?:\/\/[^\s/]+/.test(notifyUrl)) {
      console.error(`supervision up: --notify-url must be an http:// or https:// URL, got "${notifyUrl}"`);
      return 2;
    }
    const dataDir = resolve(String(values["data-dir"]));
    const logDir = join(dataDir, "logs");
    mkdirSync(logDir, { recursive: true });
    const log = (name: string) => createWriteStream(join(logDir, `${name}.log`), { flags: "a" });

    // Each gateway makes its own key pair on first use (`gateway keys`); the registry trusts exactly those keys.
    // Passwords are generated on the first start (data-dir/secrets, mode 0600): none is written in the source.
    const secrets = demoSecrets(dataDir);
    // The hall gateway's HTTP API has a token: the hub reaches it with the same token (registry api) for live view.
    const hallTokenFile = join(dataDir, "secrets", "hall-gateway-http.token");
    if (!existsSync(hallTokenFile)) writePrivateFile(hallTokenFile, randomBytes(24).toString("base64url"));
    const hallToken = readFileSync(hallTokenFile, "utf8").trim();
    // The demo ONVIF camera: without the GStreamer packages, window 1 keeps a simulated MQTT camera, said clearly.
    let camera: DemoCamera | undefined;
    let cameraNote: string;
    try {
      const started = await startDemoCamera();
      if ("missing" in started) cameraNote = `not started: ${started.missing}; ${DEMO_ONVIF_CAMERA.id} stays a simulated MQTT camera`;
      else {
        camera = started;
        cameraNote = `${DEMO_ONVIF_CAMERA.id} at window ${DEMO_ONVIF_CAMERA.windowId}: ONVIF ${camera.onvifUrl}, RTSP ${camera.rtspUrl}`;
      }
    } catch (err) {
      cameraNote = `not started: ${(err as Error).message}; ${DEMO_ONVIF_CAMERA.id} stays a simulated MQTT camera`;
    }
    console.log(`demo camera: ${cameraNote}`);
    // Supervision went live where the simulators' first play began (kept in the data dir): nobody is judged for a
    // day before that, and a restart on a later day keeps it.
    const goLiveFile = join(dataDir, "hub", "go-live");
    if (!existsSync(goLiveFile)) {
      mkdirSync(dirname(goLiveFile), { recursive: true });
      const now = Date.now();
      writeFileSync(goLiveFile, new Date(Math.min(...DEMO_GATEWAYS.map((g) => liveDayStart(DEMO_SCENARIOS[g.kind], now)))).toISOString());
    }
    const since = readFileSync(goLiveFile, "utf8").trim();
    // The approval systems report the weeks of applications before go-live (fixed by it, so a restart resends
    // nothing new); the items' office calendar has a public holiday among them.
    const goLiveDate = localDate(Date.parse(since), DEMO_SCENARIOS.hall.site.tz);
    const approvalsSince = localDate(Date.parse(since) - APPROVAL_WEEKS * 7 * 86_400_000, DEMO_SCENARIOS.hall.site.tz);
    const gateways = DEMO_GATEWAYS.map((g) => {
      const secret = secrets.gateways[g.gatewayId]!;
      const scenario = demoScenario(g.kind, secrets, [demoHoliday(goLiveDate)]);
      const scenarioFile = join(dataDir, "secrets", `scenario-${g.kind}.json`);
      writePrivateFile(scenarioFile, JSON.stringify(scenario));
      const devicePort = g.kind === "hall" ? ports["hall-port"] : ports["site-port"];
      const httpPort = g.kind === "hall" ? ports["hall-http-port"] : ports["site-http-port"];
      const settingsFile = join(dataDir, `${g.gatewayId}.yaml`);
      writePrivateFile(
        settingsFile,
        stringify({
          gatewayId: g.gatewayId,
          dataDir: join(dataDir, g.gatewayId),
          broker: { host: "0.0.0.0", port: devicePort },
          http: { host: "127.0.0.1", port: httpPort, ...(g.kind === "hall" ? { token: hallToken } : {}) },
          // The construction site's sign-in terminal is a ZKTeco one pushing over HTTP (ADMS).
          ...(g.kind === "site" ? { adms: { host: "127.0.0.1", port: ports["site-adms-port"] } } : {}),
          hub: { url: `mqtt://127.0.0.1:${ports["broker-port"]}`, password: secret },
        }),
      );
      const keysOut = execFileSync(process.execPath, ["--import", "tsx", GATEWAY_CLI, "keys", "--settings", settingsFile], {
        encoding: "utf8",
      });
      // The first PEM block is the signing key (publicKey); the sealing key follows it (no demo device has link secrets).
      const publicKeyPem = (/-----BEGIN PUBLIC KEY-----[\s\S]*?-----END PUBLIC KEY-----/.exec(keysOut)?.[0] ?? "")
        .replace(/^ +/gm, "")
        .trim();
      return { ...g, secret, scenario, scenarioFile, devicePort, httpPort, settingsFile, publicKeyPem };
    });
    const registryDir = join(dataDir, "registry");
    const hall = gateways.find((g) => g.kind === "hall")!;
    writeDemoRegistry(registryDir, gateways, {
      ...(camera ? { onvif: { [DEMO_ONVIF_CAMERA.id]: camera.onvifUrl } } : {}),
      api: { [hall.gatewayId]: { url: `http://127.0.0.1:${hall.httpPort}`, tokenFile: hallTokenFile } },
    });

    const settingsInput = {
      influx: { managedPort: ports["influx-port"], managedRpcPort: ports["influx-rpc-port"] },
      broker: { port: ports["broker-port"] },
      http: { port: ports["http-port"] },
      registry: { dir: registryDir },
      dataDir: join(dataDir, "hub"),
      logLevel: "info",
      // Warnings (the construction site's absent and late supervisors among them) go to the webhook, if given.
      supervision: { since, ...(notifyUrl ? { notifications: { channels: [{ name: "demo", kind: "webhook", url: notifyUrl }] } } : {}) },
    };
    const settings = HubSettings.parse(settingsInput);
    // The hub's settings as a file, so the hub's CLI beside the demo (hub report, hub verify, hub status) reads the
    // demo's InfluxDB, registry and API tokens by default (hub/src/cli/command.ts, DEMO_SETTINGS). No secrets in it.
    const hubSettingsFile = join(dataDir, "hub", "hub.yaml");
    mkdirSync(dirname(hubSettingsFile), { recursive: true });
    writeFileSync(hubSettingsFile, `# written by npm start for the hub's CLI; npm start does not read it\n${stringify(settingsInput)}`);
    const tty = process.stdout.isTTY === true;
    let banner = "";
    const hub = new Hub(settings, createHubLogger(settings.logLevel, log("hub")), [
      createLiveSummary((screen) => process.stdout.write(tty ? `\x1b[2J\x1b[H${banner}\n${screen}\n` : `${screen}\n\n`)),
    ]);
    const children: ManagedChild[] = [];
    const stopAll = async () => {
      for (const child of [...children].reverse()) await child.stop();
      await hub.stop();
      await camera?.stop();
    };
    const stopped = new Promise<void>((resolve) => {
      let stopping = false;
      const stop = (): void => {
        // A signal repeated while stopping (a launcher that relays Ctrl-C again when a busy process is slow to
        // answer) must not end the process before its children and InfluxDB are stopped.
        if (stopping) return;
        stopping = true;
        console.log("\nstopping simulators, gateways, hub and InfluxDB ...");
        stopAll().then(resolve, resolve);
      };
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
    });
    try {
      await hub.start();
      for (const g of gateways) {
        const out = log(g.gatewayId);
        children.push(
          startChild(g.gatewayId, GATEWAY_CLI, ["start", "--settings", g.settingsFile], (l) => out.write(`${l}\n`), {
            nodeFlags: GATEWAY_NODE_FLAGS,
            env: GATEWAY_ENV,
          }),
        );
      }
      // Devices are refused until a gateway has its config from the hub: wait for it before the simulators connect.
      for (const g of gateways) await waitForConfig(g.gatewayId, g.httpPort, children, g.kind === "hall" ? hallToken : undefined);
      if (!values["no-sim"]) {
        for (const g of gateways) {
          const out = log(`sim-${g.kind}`);
          const simArgs = [
            "--broker",
            `mqtt://127.0.0.1:${g.devicePort}`,
            "--scenario",
            g.scenarioFile,
            "--speed",
            String(speed),
            "--seed",
            String(values.seed),
          ];
          if (g.kind === "site") simArgs.push("--adms", `http://127.0.0.1:${ports["site-adms-port"]}`);
          if (g.kind === "hall" && camera) simArgs.push("--camera-relay", `${DEMO_ONVIF_CAMERA.id}=${camera.controlUrl}`);
          simArgs.push("--state", join(dataDir, `sim-${g.kind}.seq.json`));
          children.push(startChild(`sim-${g.kind}`, SIM_CLI, simArgs, (l) => out.write(`${l}\n`)));
        }
        // The hall's departments' approval systems, reporting their applications to the hub's API with their tokens.
        const hall = gateways.find((g) => g.kind === "hall")!;
        const systems = (hall.scenario.approvalSystems ?? []).map((a) => a.id);
        if (systems.length > 0) {
          const tokensFile = join(dataDir, "secrets", "approval-tokens.json");
          writePrivateFile(tokensFile, JSON.stringify(demoApprovalTokens(join(settings.dataDir, "secrets", "api-tokens.json"), systems)));
          const out = log("sim-approvals");
          const approvalArgs = ["--scenario", hall.scenarioFile, "--approvals", `http://127.0.0.1:${hub.httpPort}`, "--tokens", tokensFile];
          approvalArgs.push("--since", approvalsSince, "--seed", String(values.seed), "--state", join(dataDir, "sim-approvals"));
          children.push(startChild("sim-approvals", SIM_CLI, approvalArgs, (l) => out.write(`${l}\n`)));
        }
      }
    } catch (err) {
      await stopAll();
      console.error(`supervision up: ${(err as Error).message}; see ${logDir}/hub.log`);
      return 1;
    }
    const liveToken = viewerToken(join(settings.dataDir, "secrets/api-tokens.json"));
    banner = [
      "The system is up:",
      `  InfluxDB          http://127.0.0.1:${ports["influx-port"]}  (database supervision, data in ${settings.dataDir}/influxdb)`,
      `  hub broker        mqtt://127.0.0.1:${ports["broker-port"]}  (gateways log in with their registry secret)`,
      `  hub HTTP API      http://127.0.0.1:${hub.httpPort}/healthz  /metrics  /api/status  (tokens: ${join(settings.dataDir, "secrets/api-tokens.json")})`,
      ...gateways.map(
        (g) =>
          `  ${`${g.kind} gateway`.padEnd(17)} devices mqtt://127.0.0.1:${g.devicePort}${g.kind === "site" ? `  ADMS terminals http://127.0.0.1:${ports["site-adms-port"]}` : ""}  HTTP http://127.0.0.1:${g.httpPort}/api/status  (${g.gatewayId})`,
      ),
      camera
        ? `  live view         http://127.0.0.1:${hub.httpPort}/live?site=${hall.scenario.site.id}${liveToken ? `#token=${liveToken}` : ""}  (${DEMO_ONVIF_CAMERA.id}, in a browser)`
        : `  live view         none: the demo camera is ${cameraNote}`,
      `  simulators        ${values["no-sim"] ? "off (--no-sim)" : `a working day at ${speed}x, seed ${values.seed}; the hall's queue system; approval systems reporting applications since ${approvalsSince}`}`,
      `  notifications     ${notifyUrl ? `warnings POSTed to ${notifyUrl}` : "none (--notify-url <url> sends warnings to a webhook)"}`,
      `  registry          ${registryDir}    logs ${logDir}/`,
      `  hub settings      ${hubSettingsFile}  (hub report, hub verify ... read it by default)`,
      "Ctrl-C stops everything.",
    ].join("\n");
    console.log(banner);
    await stopped;
    return 0;
  },
};

/**
 * A viewer token for the printed live view link: the hub's token file gets one named live-view-demo on the first
 * start (`hub token add`), read again on later ones; undefined (the page then asks for a token) when that fails.
 */
function viewerToken(tokensFile: string): string | undefined {
  const read = () => {
    try {
      const file = JSON.parse(readFileSync(tokensFile, "utf8")) as { tokens?: { name: string; token: string }[] };
      return file.tokens?.find((t) => t.name === LIVE_VIEW_TOKEN_NAME)?.token;
    } catch {
      return undefined;
    }
  };
  const known = read();
  if (known) return known;
  try {
    execFileSync(
      process.execPath,
      ["--import", "tsx", HUB_CLI, "token", "add", LIVE_VIEW_TOKEN_NAME, "--role", "viewer", "--token-file", tokensFile],
      { stdio: "ignore" },
    );
  } catch {
    return undefined;
  }
  return read();
}
