import { z } from "zod";
import type { EventKind } from "./topics.ts";
import { ID_PATTERN } from "./topics.ts";

/**
 * Device event payloads, v1. One source for the TypeScript types and the runtime validation.
 * The event kind is carried by the topic (sv/v1/dev/{deviceId}/evt/{kind}), not the payload.
 */

export const Id = z.string().regex(ID_PATTERN, "lowercase letters, digits, '_', '.', '-'; 1 to 64 characters");

/** Rating scales: the seed halls' four keys and the national five-level "good/bad review" scheme. */
export const SCALES = {
  four: ["very_satisfied", "satisfied", "average", "dissatisfied"],
  five: ["very_satisfied", "satisfied", "basically_satisfied", "dissatisfied", "very_dissatisfied"],
} as const;
export type Scale = keyof typeof SCALES;
export const LEVELS = ["very_satisfied", "satisfied", "average", "basically_satisfied", "dissatisfied", "very_dissatisfied"] as const;
export type Level = (typeof LEVELS)[number];

/** Levels that count as negative and raise a "to be verified" dissatisfaction alert. */
export const NEGATIVE_LEVELS: ReadonlySet<Level> = new Set(["dissatisfied", "very_dissatisfied"]);

/** The factory key map: key 1 is the leftmost (best) key. Halls may configure another. */
export function defaultLevelForKey(scale: Scale, key: number): Level | undefined {
  return SCALES[scale][key - 1];
}

const common = {
  v: z.literal(1),
  deviceId: Id,
  /** The device's own sequence number: monotonically increasing, kept across reboots (non-volatile). */
  seq: z.int().min(0).max(0xffffffff),
  /** Device time, UTC milliseconds since the epoch. */
  ts: z.int().min(0),
};

/** The fields the rating rules read. */
interface RatingRuleFields {
  outcome: "rated" | "timeout" | "unsolicited";
  scale: Scale;
  key?: number | undefined;
  level?: Level | undefined;
}

/** What a rating must hold beyond its fields' types: a key and a level on its scale, unless it timed out. Shared by RatingEvent and the hub's reading check. */
export function ratingRules(ctx: z.core.ParsePayload<RatingRuleFields>): void {
  const e = ctx.value;
  if (e.outcome === "timeout") {
    if (e.key !== undefined || e.level !== undefined) {
      ctx.issues.push({
        code: "custom",
        input: e,
        path: ["level"],
        message: "a timeout carries no key or level",
        params: { code: "bad_level" },
      });
    }
    return;
  }
  if (e.key === undefined) {
    ctx.issues.push({
      code: "invalid_type",
      expected: "number",
      input: undefined,
      path: ["key"],
      message: `key is required when outcome is ${e.outcome}`,
    });
  }
  if (e.level === undefined) {
    ctx.issues.push({
      code: "invalid_type",
      expected: "string",
      input: undefined,
      path: ["level"],
      message: `level is required when outcome is ${e.outcome}`,
    });
  } else if (!(SCALES[e.scale] as readonly string[]).includes(e.level)) {
    ctx.issues.push({
      code: "custom",
      input: e.level,
      path: ["level"],
      message: `level "${e.level}" is not on the ${e.scale}-level scale (${SCALES[e.scale].join(", ")})`,
      params: { code: "bad_level" },
    });
  }
}

export const RatingEvent = z
  .strictObject({
    ...common,
    windowId: Id,
    clerkId: Id.optional(),
    txnId: z.string().min(1).max(64).optional(),
    /** rated: the citizen pressed a key after a prompt; timeout: the prompt got no key; unsolicited: a key without a prompt. */
    outcome: z.enum(["rated", "timeout", "unsolicited"]),
    scale: z.enum(["four", "five"]),
    /** The raw key code the device read (1-based), kept so both scales can be reported. */
    key: z.int().min(0).max(255).optional(),
    level: z.enum(LEVELS).optional(),
  })
  .check(ratingRules);

export const SigninEvent = z.strictObject({
  ...common,
  personId: Id,
  method: z.enum(["card", "face", "fingerprint", "pin"]),
  direction: z.enum(["in", "out"]),
  /** Construction-site terminals may add where the sign-in was made. */
  location: z
    .strictObject({
      lat: z.number().min(-90).max(90),
      lon: z.number().min(-180).max(180),
      accuracyM: z.number().min(0).max(100000).optional(),
    })
    .optional(),
  /**
   * Set by a gateway for a terminal that cannot report its own clock (ZKTeco ADMS push): how far the terminal's
   * clock was found off when it sent this sign-in, seconds (terminal minus gateway; negative = behind). `ts` stays
   * the terminal's time; the hub flags the sign-in for review when this is beyond its tolerance.
   */
  clockOffsetS: z.int().min(-10 * 365 * 86400).max(10 * 365 * 86400).optional(),
});

export const MotionEvent = z.strictObject({
  ...common,
  /** The camera (or camera channel of an NVR) that saw the motion. */
  cameraId: Id,
  state: z.enum(["start", "end"]),
  /** onvif: the gateway's ONVIF adapter; vmd: the camera's own motion detection over MQTT; pir: a presence sensor; ai: person detection. */
  source: z.enum(["onvif", "vmd", "pir", "ai"]),
  /** SHA-256 (hex) of the JPEG snapshot the gateway took at this edge and keeps as evidence; it travels in the signed batch. */
  snapshotSha256: z.string().regex(/^[0-9a-f]{64}$/, "64 lowercase hex digits").optional(),
});

export const HeartbeatEvent = z.strictObject({
  ...common,
  /** The device promises its next heartbeat within this many seconds; silence past 2.5× means offline. */
  intervalS: z.int().min(5).max(3600),
  uptimeS: z.int().min(0),
  fw: z.string().max(32).optional(),
  rssi: z.int().min(-150).max(0).optional(),
  /** Events the device holds that it has not yet had acknowledged. */
  pending: z.int().min(0).optional(),
});

export const EVENT_SCHEMAS = {
  rating: RatingEvent,
  signin: SigninEvent,
  motion: MotionEvent,
  heartbeat: HeartbeatEvent,
} as const satisfies Record<EventKind, z.ZodType>;

export type RatingEvent = z.infer<typeof RatingEvent>;
export type SigninEvent = z.infer<typeof SigninEvent>;
export type MotionEvent = z.infer<typeof MotionEvent>;
export type HeartbeatEvent = z.infer<typeof HeartbeatEvent>;

/** A validated event with its kind attached: what the gateway buffers. */
export type DeviceEvent =
  | ({ kind: "rating" } & RatingEvent)
  | ({ kind: "signin" } & SigninEvent)
  | ({ kind: "motion" } & MotionEvent)
  | ({ kind: "heartbeat" } & HeartbeatEvent);

/** Device availability, published retained on sv/v1/dev/{id}/status and set as the device's last will. */
export const DeviceStatus = z.strictObject({
  v: z.literal(1),
  deviceId: Id,
  state: z.enum(["online", "offline"]),
  ts: z.int().min(0).optional(),
  fw: z.string().max(32).optional(),
});
export type DeviceStatus = z.infer<typeof DeviceStatus>;
