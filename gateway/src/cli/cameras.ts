import { parseArgs } from "node:util";
import {
  type GatewayDevice,
  NEGATIVE_NUMBER_WORDS,
  openSecret,
  type PtzRequest,
  ptzFromWords,
  secretContext,
} from "@supervision/firmware-protocols";
import { connectCamera, describeError } from "../adapters/onvif/cam-client.ts";
import { checkCamera, formatCheck } from "../adapters/onvif/check.ts";
import { discoverCameras, formatDiscovered } from "../adapters/onvif/discovery.ts";
import { describePtz, sendPtz } from "../adapters/onvif/ptz.ts";
import { loadLastConfig } from "../config/store.ts";
import { loadOrCreateKeys } from "../identity/keys.ts";
import { loadSettings } from "../settings/settings.ts";

export const CAMERAS_HELP = {
  discover: `gateway cameras discover [--timeout seconds] [--interface name] [--username user]
  Sends a WS-Discovery probe (multicast 239.255.255.250:3702) on the hall's LAN and lists the ONVIF cameras that
  answer: address, maker, model, firmware, media profiles (PTZ or not), then a registry snippet to paste under
  devices: in the hub's registry. Device information and profiles need credentials on most cameras: give
  --username and the password in the environment variable CAMERA_PASSWORD (never on the command line).
  --timeout     how long to listen for answers (default 3 s)
  --interface   the network interface of the cameras' LAN (e.g. eth1), when this machine has several`,
  check: `gateway cameras check <device-id> [--settings file]
  Checks one camera of this gateway's config (the last one from the hub, else the settings' inline one) with its
  registry credentials, and says what works and what to fix: reachable, clock skew, credentials, event service
  (PullPoint subscription), stream URI (RTSP answers), snapshot, PTZ presets. Exit code 1 when something needs fixing.`,
  ptz: `gateway camera ptz <device-id> <action> [--settings file]
  Turns a PTZ camera of this gateway's config, with its registry credentials:
    preset <token>                 go to a stored preset (gateway cameras check lists them)
    move <pan> <tilt> [<zoom>]     turn at these speeds, each -1..1 (right, up, zoom in are positive)
         [--seconds s]             ... for s seconds (at most 60), else until stop
    stop                           stop moving
    home                           go to the home position
  The centre does the same through the hub: hub camera ptz (see hub/README.md).`,
} as const;

class CameraCliError extends Error {}

/** `gateway cameras discover|check` and `gateway camera ptz`: resolves to the exit code. */
export async function camerasCli(argv: string[]): Promise<number> {
  const [group, sub, ...rest] = argv;
  const help =
    group === "camera"
      ? sub === "ptz"
        ? CAMERAS_HELP.ptz
        : undefined
      : sub === "discover" || sub === "check"
        ? CAMERAS_HELP[sub]
        : undefined;
  if (!help) {
    console.error(
      `unknown command "gateway ${[group, sub].filter(Boolean).join(" ")}"; the camera commands are:\n\n${CAMERAS_HELP.discover}\n\n${CAMERAS_HELP.check}\n\n${CAMERAS_HELP.ptz}`,
    );
    return 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    console.log(help);
    return 0;
  }
  try {
    if (sub === "discover") return await discover(rest);
    if (sub === "check") return await check(rest);
    return await ptz(rest);
  } catch (error) {
    if (error instanceof CameraCliError || (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      console.error(`error: ${(error as Error).message}\n\n${help}`);
      return 2;
    }
    throw error;
  }
}

async function discover(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { timeout: { type: "string", default: "3" }, interface: { type: "string" }, username: { type: "string" } },
  });
  const timeoutS = Number(values.timeout);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0 || timeoutS > 60)
    throw new CameraCliError(`--timeout ${values.timeout}: give seconds, more than 0 and at most 60`);
  const password = process.env.CAMERA_PASSWORD;
  if (values.username !== undefined && password === undefined)
    throw new CameraCliError("--username needs the password in the environment variable CAMERA_PASSWORD");
  const cameras = await discoverCameras({
    timeoutMs: timeoutS * 1000,
    ...(values.interface ? { networkInterface: values.interface } : {}),
    ...(values.username !== undefined ? { username: values.username, password } : {}),
  });
  console.log(formatDiscovered(cameras, values.username));
  return 0;
}

/** A camera of this gateway's config with its password opened, for check and ptz. */
function configuredCamera(args: string[]) {
  const parsed = parseArgs({
    args: NEGATIVE_NUMBER_WORDS.hide(args),
    allowPositionals: true,
    options: { settings: { type: "string", default: process.env.GATEWAY_SETTINGS || "gateway.yaml" }, seconds: { type: "string" } },
  });
  const { values } = parsed;
  const [deviceId, ...more] = parsed.positionals.map(NEGATIVE_NUMBER_WORDS.restore);
  if (!deviceId) throw new CameraCliError("name the camera: its device id in the registry");
  const settings = loadSettings(values.settings);
  const config = loadLastConfig(settings.dataDir) ?? settings.config;
  if (!config)
    throw new CameraCliError(`this gateway has no config yet (${settings.dataDir}/config.json): start it once connected to the hub`);
  const device = config.devices.find((d) => d.id === deviceId);
  if (!device) throw new CameraCliError(`${deviceId} is not in this gateway's config; its cameras: ${cameraIds(config.devices) || "none"}`);
  if (!device.onvif)
    throw new CameraCliError(
      `${deviceId} is not an ONVIF camera (no onvif block in the registry); ONVIF cameras here: ${cameraIds(config.devices) || "none"}`,
    );
  let password: string | undefined;
  if (device.onvif.password !== undefined) {
    const keys = loadOrCreateKeys(settings.dataDir, settings.keyFile);
    const opened = openSecret(
      device.onvif.password,
      keys.sealingPrivateKey,
      secretContext(settings.gatewayId, device.id, "onvif", "password"),
    );
    if (!opened.ok)
      throw new CameraCliError(
        `the password of ${deviceId} does not open with this gateway's key (${opened.error.message}); the hub seals it to the key \`gateway keys\` prints`,
      );
    password = opened.value;
  }
  return {
    device: device as GatewayDevice & { onvif: NonNullable<GatewayDevice["onvif"]> },
    password,
    more,
    values,
    timeoutMs: settings.onvif.requestTimeoutMs,
  };
}

function cameraIds(devices: GatewayDevice[]): string {
  return devices
    .filter((d) => d.onvif)
    .map((d) => d.id)
    .join(", ");
}

async function check(args: string[]): Promise<number> {
  const { device, password, more, values, timeoutMs } = configuredCamera(args);
  if (values.seconds !== undefined) throw new CameraCliError("--seconds goes with camera ptz move only");
  if (more.length > 0) throw new CameraCliError(`unexpected arguments ${more.join(" ")}`);
  const lines = await checkCamera({
    deviceId: device.id,
    url: device.onvif.url,
    username: device.onvif.username,
    password,
    ptz: device.onvif.ptz,
    timeoutMs,
  });
  console.log(formatCheck(device.id, lines));
  return lines.some((l) => l.status === "FIX") ? 1 : 0;
}

/** The PTZ request the words after the device id say, validated like the hub's request. */
export function parsePtzWords(words: string[], seconds: string | undefined): PtzRequest {
  const parsed = ptzFromWords(words, seconds);
  if (!parsed.ok) throw new CameraCliError(parsed.error);
  return parsed.value;
}

async function ptz(args: string[]): Promise<number> {
  const { device, password, more, values, timeoutMs } = configuredCamera(args);
  const request = parsePtzWords(more, values.seconds);
  try {
    const cam = await connectCamera({ url: device.onvif.url, username: device.onvif.username, password, timeoutMs });
    await sendPtz(cam, request);
  } catch (error) {
    console.error(`camera ${device.id} refused to ${describePtz(request)}: ${describeError(error)}`);
    return 1;
  }
  console.log(`ok   camera ${device.id}: ${describePtz(request)}`);
  return 0;
}
