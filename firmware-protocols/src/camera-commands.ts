import { z } from "zod";

/**
 * Turning a PTZ camera (ONVIF PTZ service): the same request from `gateway camera ptz` and from the hub's command
 * down to a gateway. Preset tokens go into the camera's SOAP body, so only plain tokens are accepted.
 */
const Velocity = z.number().min(-1, "a speed from -1 to 1").max(1, "a speed from -1 to 1");

export const PresetToken = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,64}$/, "a preset token: letters, digits, '_', '.', '-', 1 to 64 characters (gateway cameras check lists them)");

export const PtzRequest = z.discriminatedUnion("action", [
  /** Go to a stored position (e.g. the preset that looks at window 3). */
  z.strictObject({ action: z.literal("preset"), preset: PresetToken }),
  /** Turn at these speeds (-1..1; pan right, tilt up, zoom in are positive), for `seconds` or until stop. */
  z.strictObject({
    action: z.literal("move"),
    pan: Velocity,
    tilt: Velocity,
    zoom: Velocity.default(0),
    seconds: z.number().positive().max(60, "at most 60 seconds of movement per request").optional(),
  }),
  z.strictObject({ action: z.literal("stop") }),
  /** The camera's home position. */
  z.strictObject({ action: z.literal("home") }),
]);
export type PtzRequest = z.infer<typeof PtzRequest>;

const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, "a SHA-256: 64 lowercase hex digits");
const RequestId = z.string().regex(/^[A-Za-z0-9_-]{8,64}$/, "a request id: 8 to 64 letters, digits, '_' or '-'");
const CameraId = z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, "a device id");

/**
 * A camera request from the hub to a gateway, on sv/v1/gw/{gatewayId}/camera (the MQTT uplink is the one path that
 * reaches a gateway behind the hall's NAT). The gateway answers each on .../camera-reply with the same `reqId`.
 */
export const CameraRequest = z.discriminatedUnion("op", [
  /** Turn a camera. */
  z.strictObject({ v: z.literal(1), op: z.literal("ptz"), reqId: RequestId, deviceId: CameraId, ptz: PtzRequest }),
  /** Take a snapshot now and keep it as evidence (an unattended-window warning); the answer names its hash. */
  z.strictObject({ v: z.literal(1), op: z.literal("snapshot"), reqId: RequestId, deviceId: CameraId }),
  /** Send a kept snapshot, found by the hash its reading or warning recorded. */
  z.strictObject({ v: z.literal(1), op: z.literal("fetch"), reqId: RequestId, sha256: Sha256Hex }),
]);
export type CameraRequest = z.infer<typeof CameraRequest>;

/** A fetched JPEG travels in base64 inside the reply: at most the gateway's 8 MiB snapshot bound. */
export const MAX_CAMERA_REPLY_BYTES = 12 * 1024 * 1024;

export const CameraReply = z.strictObject({
  v: z.literal(1),
  reqId: RequestId,
  ok: z.boolean(),
  /** Why not, in words for the operator (not ok). */
  error: z.string().max(1000).optional(),
  /** not_found: no such camera or snapshot on this gateway; tampered: the kept file no longer matches its hash. */
  code: z.enum(["not_found", "tampered", "camera_error", "invalid"]).optional(),
  deviceId: CameraId.optional(),
  /** snapshot: the hash of the image taken; fetch: the hash asked for. */
  sha256: Sha256Hex.optional(),
  /** fetch of a tampered file: the hash of what the gateway holds now. */
  actualSha256: Sha256Hex.optional(),
  /** When the snapshot was taken (UTC ms). */
  ts: z.int().min(0).optional(),
  /** fetch: the JPEG's bytes. */
  jpegBase64: z.string().max(MAX_CAMERA_REPLY_BYTES).optional(),
});
export type CameraReply = z.infer<typeof CameraReply>;

/**
 * The PTZ request a command line's words say (`preset 3`, `move -0.5 0 [zoom]`, `stop`, `home`; `seconds` from
 * `--seconds`), validated: the same words for `gateway camera ptz` and `hub camera ptz`. Either the request or why not.
 */
export function ptzFromWords(words: string[], seconds: string | undefined): { ok: true; value: PtzRequest } | { ok: false; error: string } {
  const [action, ...params] = words;
  const numbers = params.map(Number);
  const no = (error: string) => ({ ok: false as const, error });
  let request: unknown;
  switch (action) {
    case "preset":
      if (params.length !== 1) return no("preset takes one preset token, e.g. preset 3");
      request = { action, preset: params[0] };
      break;
    case "move":
      if (params.length < 2 || params.length > 3 || numbers.some((n) => !Number.isFinite(n)))
        return no("move takes pan and tilt speeds and an optional zoom speed, each from -1 to 1, e.g. move 0.5 0");
      request = {
        action,
        pan: numbers[0],
        tilt: numbers[1],
        zoom: numbers[2] ?? 0,
        ...(seconds !== undefined ? { seconds: Number(seconds) } : {}),
      };
      break;
    case "stop":
    case "home":
      if (params.length > 0) return no(`${action} takes no parameters`);
      request = { action };
      break;
    default:
      return no(`name a PTZ action: preset, move, stop or home${action ? ` (not "${action}")` : ""}`);
  }
  if (action !== "move" && seconds !== undefined) return no("--seconds goes with move only");
  const parsed = PtzRequest.safeParse(request);
  if (!parsed.success) return no(parsed.error.issues.map((i) => `${i.path.join(".") || action}: ${i.message}`).join("; "));
  return { ok: true, value: parsed.data };
}

/** A negative speed (`move -0.5 0`) is a value, not an option: hides such words from `parseArgs`, `restore` undoes it. */
export const NEGATIVE_NUMBER_WORDS = {
  hide: (args: string[]): string[] => args.map((a) => (/^-\.?\d/.test(a) ? `\u0000negative:${a}` : a)),
  restore: (word: string): string => (word.startsWith("\u0000negative:") ? word.slice("\u0000negative:".length) : word),
};
