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
  clockOffsetS: z
    .int()
    .min(-10 * 365 * 86400)
    .max(10 * 365 * 86400)
    .optional(),
});

export const MotionEvent = z.strictObject({
  ...common,
  /** The camera (or camera channel of an NVR) that saw the motion. */
  cameraId: Id,
  state: z.enum(["start", "end"]),
  /** onvif: the gateway's ONVIF adapter; vmd: the camera's own motion detection over MQTT; pir: a presence sensor; ai: person detection. */
  source: z.enum(["onvif", "vmd", "pir", "ai"]),
  /** SHA-256 (hex) of the JPEG snapshot the gateway took at this edge and keeps as evidence; it travels in the signed batch. */
  snapshotSha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/, "64 lowercase hex digits")
    .optional(),
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

/** An application's number in its department's approval system (the same in the hall and centrally). */
export const ApplicationNo = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.\-/]{0,63}$/, "letters, digits, '_', '.', '-', '/'; 1 to 64 characters");
/** An approval item's unique code in the catalogue of powers (the registry's `items[].code`). */
export const ItemCode = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, "letters, digits, '_', '.', '-'; 1 to 64 characters");

export const ITEM_EVENT_TYPES = ["accepted", "step", "suspended", "resumed", "completed"] as const;

/** The fields the item rules read. */
interface ItemRuleFields {
  type: (typeof ITEM_EVENT_TYPES)[number];
  applicantType?: string | undefined;
  step?: string | undefined;
  handler?: string | undefined;
  result?: string | undefined;
  outcome?: "approved" | "refused" | undefined;
  reason?: string | undefined;
}

/** What an item event must hold for its type: a step names who did what, a refusal its written reason. */
export function itemRules(ctx: z.core.ParsePayload<ItemRuleFields>): void {
  const e = ctx.value;
  const need = (field: keyof ItemRuleFields, why: string) => {
    if (e[field] === undefined)
      ctx.issues.push({
        code: "invalid_type",
        expected: "string",
        input: undefined,
        path: [field],
        message: `${field} is required ${why}`,
      });
  };
  const forbid = (field: keyof ItemRuleFields, why: string) => {
    if (e[field] !== undefined) ctx.issues.push({ code: "custom", input: e[field], path: [field], message: `${field} ${why}` });
  };
  if (e.type === "accepted") need("applicantType", "when an application is accepted");
  if (e.type === "step") {
    need("step", "for a step");
    need("handler", "for a step");
    need("result", "for a step");
  }
  if (e.type === "completed") {
    need("outcome", "when an application is completed (approved or refused)");
    if (e.outcome === "refused") need("reason", "for a refusal (the written reason the applicant receives)");
  } else {
    forbid("outcome", "is only for type completed");
  }
}

/**
 * An approval item's event: an application accepted, each step of its handling, its clock stopped and restarted,
 * its completion. From a hall's queue and counter system (device kind `queue`) or a department's approval system
 * (through the hub's API, where `deviceId` is the system's id).
 */
export const ItemEvent = z
  .strictObject({
    ...common,
    type: z.enum(ITEM_EVENT_TYPES),
    applicationNo: ApplicationNo,
    itemCode: ItemCode,
    /** Where it was accepted, when at a hall window. */
    windowId: Id.optional(),
    clerkId: Id.optional(),
    applicantType: z.enum(["person", "company"]).optional(),
    /** A step's name (e.g. 受理, 审核, 决定); suspended / resumed name the step during which the clock stopped. */
    step: z.string().min(1).max(64).optional(),
    /** Who did the step (a name or an id in the approval system). */
    handler: z.string().min(1).max(64).optional(),
    /** The step's result as the system records it (e.g. pass, return, forward). */
    result: z.string().min(1).max(64).optional(),
    outcome: z.enum(["approved", "refused"]).optional(),
    /** A refusal's written reason; a suspension's reason (e.g. materials to complete). */
    reason: z.string().min(1).max(512).optional(),
    /** The hall transaction (the queue system's) this event belongs to. */
    txnId: z.string().min(1).max(64).optional(),
  })
  .check(itemRules);

export const QUEUE_EVENT_TYPES = ["ticket", "called", "started", "finished"] as const;

/** What a queue event must hold: a ticket is taken in the hall; everything after happens at a window. */
export function queueRules(ctx: z.core.ParsePayload<{ type: (typeof QUEUE_EVENT_TYPES)[number]; windowId?: string | undefined }>): void {
  if (ctx.value.type !== "ticket" && ctx.value.windowId === undefined)
    ctx.issues.push({
      code: "invalid_type",
      expected: "string",
      input: undefined,
      path: ["windowId"],
      message: `windowId is required when a ticket is ${ctx.value.type}`,
    });
}

/**
 * A hall's queue and counter system: a ticket taken, called to a window, its service started and finished. The
 * transaction id ties the ticket's events together and, when it finishes, the rating the window's keypad asks for.
 */
export const QueueEvent = z
  .strictObject({
    ...common,
    type: z.enum(QUEUE_EVENT_TYPES),
    /** The ticket number shown to the citizen (e.g. A023). */
    ticket: z.string().min(1).max(16),
    /** The transaction: unique per ticket (e.g. the date and the ticket). */
    txnId: z.string().min(1).max(64),
    windowId: Id.optional(),
    clerkId: Id.optional(),
    /** The application the transaction accepted or served, when there is one. */
    applicationNo: ApplicationNo.optional(),
    itemCode: ItemCode.optional(),
  })
  .check(queueRules);

export const EVENT_SCHEMAS = {
  rating: RatingEvent,
  signin: SigninEvent,
  motion: MotionEvent,
  heartbeat: HeartbeatEvent,
  item: ItemEvent,
  queue: QueueEvent,
} as const satisfies Record<EventKind, z.ZodType>;

export type RatingEvent = z.infer<typeof RatingEvent>;
export type SigninEvent = z.infer<typeof SigninEvent>;
export type MotionEvent = z.infer<typeof MotionEvent>;
export type HeartbeatEvent = z.infer<typeof HeartbeatEvent>;
export type ItemEvent = z.infer<typeof ItemEvent>;
export type QueueEvent = z.infer<typeof QueueEvent>;

/** A validated event with its kind attached: what the gateway buffers. */
export type DeviceEvent =
  | ({ kind: "rating" } & RatingEvent)
  | ({ kind: "signin" } & SigninEvent)
  | ({ kind: "motion" } & MotionEvent)
  | ({ kind: "heartbeat" } & HeartbeatEvent)
  | ({ kind: "item" } & ItemEvent)
  | ({ kind: "queue" } & QueueEvent);

/** Device availability, published retained on sv/v1/dev/{id}/status and set as the device's last will. */
export const DeviceStatus = z.strictObject({
  v: z.literal(1),
  deviceId: Id,
  state: z.enum(["online", "offline"]),
  ts: z.int().min(0).optional(),
  fw: z.string().max(32).optional(),
});
export type DeviceStatus = z.infer<typeof DeviceStatus>;
