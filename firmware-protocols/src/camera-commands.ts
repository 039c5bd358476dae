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
