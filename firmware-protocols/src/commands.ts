import { z } from "zod";
import { Id } from "./events.ts";
import type { CommandName } from "./topics.ts";

/** Commands down to devices on sv/v1/dev/{deviceId}/cmd/{name}. */

const common = {
  v: z.literal(1),
  /** Unique per command, so a device can drop a redelivered one. */
  cmdId: z.string().min(1).max(64),
  /** Sender's time, UTC ms. */
  ts: z.int().min(0),
};

export const Clerk = z.strictObject({
  id: Id,
  name: z.string().min(1).max(64),
  post: z.string().max(64),
  photoUrl: z.string().max(512).optional(),
});
export type Clerk = z.infer<typeof Clerk>;

export const DisplayCommand = z.strictObject({
  ...common,
  windowId: Id,
  /** The clerk now at the window, or null when nobody is signed in (the keypad shows "window closed"). */
  clerk: Clerk.nullable(),
});

export const PromptCommand = z.strictObject({
  ...common,
  windowId: Id,
  txnId: z.string().min(1).max(64),
  clerkId: Id.optional(),
  /** After this many seconds without a key the keypad reports outcome "timeout". */
  timeoutS: z.int().min(5).max(600),
});

export const TimeCommand = z.strictObject({
  ...common,
  /** IANA zone of the hall, for the device's display only; events stay in UTC. */
  tz: z.string().max(64),
});

export const ConfigCommand = z.strictObject({
  ...common,
  heartbeatS: z.int().min(5).max(3600),
  scale: z.enum(["four", "five"]).optional(),
});

export const COMMAND_SCHEMAS = {
  display: DisplayCommand,
  prompt: PromptCommand,
  time: TimeCommand,
  config: ConfigCommand,
} as const satisfies Record<CommandName, z.ZodType>;

export type DisplayCommand = z.infer<typeof DisplayCommand>;
export type PromptCommand = z.infer<typeof PromptCommand>;
export type TimeCommand = z.infer<typeof TimeCommand>;
export type ConfigCommand = z.infer<typeof ConfigCommand>;
export type DeviceCommand =
  | { name: "display"; payload: DisplayCommand }
  | { name: "prompt"; payload: PromptCommand }
  | { name: "time"; payload: TimeCommand }
  | { name: "config"; payload: ConfigCommand };

/** A command from the hub for one of a gateway's devices, on sv/v1/gw/{gatewayId}/cmd. */
export const GatewayCommand = z.strictObject({
  v: z.literal(1),
  deviceId: Id,
  name: z.enum(["display", "prompt", "time", "config"]),
  payload: z.record(z.string(), z.unknown()),
});
export type GatewayCommand = z.infer<typeof GatewayCommand>;
