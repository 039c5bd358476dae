import { z } from "zod";
import { Id } from "./events.ts";

/**
 * What a gateway reports of a device's heartbeats instead of forwarding each one (reading kind `presence`, PROTOCOL.md
 * section 4.1). Made by the gateway, never by a device: a device topic `evt/presence` is an unknown kind. Times named
 * `...Ts` are device times of heartbeats (as a heartbeat's `ts`), so the hub judges a summarised device exactly as it
 * judged its heartbeats.
 *
 * - `online`: the first heartbeat after a silence (or the first ever); `ts` = `lastSeenTs` = that heartbeat's time.
 * - `offline`: the device stayed silent past `PRESENCE_SILENCE_FACTOR` of its interval; `ts` = `lastSeenTs` + that
 *   silence, the moment the hub used to judge it offline from its heartbeats.
 * - `summary`: one per device and period (`fromTs`..`toTs`, the gateway's clock, `ts` = `toTs`): heartbeats `count`ed,
 *   `firstSeenTs` / `lastSeenTs`, the `gaps` that ended in the period (silences longer than the offline threshold,
 *   from the last heartbeat before to the first after) and the `state` at its end.
 */
export const PRESENCE_TYPES = ["online", "offline", "summary"] as const;
export type PresenceType = (typeof PRESENCE_TYPES)[number];

/** A device is offline when silent for longer than this many heartbeat intervals (as the hub judged heartbeats). */
export const PRESENCE_SILENCE_FACTOR = 2.5;
/** At most this many gaps in one summary: a device flapping more often than that is reported by its state changes. */
export const PRESENCE_MAX_GAPS = 500;

const time = z.int().min(0);

/** A silence longer than the offline threshold: from the last heartbeat before it to the first after it (device times). */
export const PresenceGap = z.strictObject({ fromTs: time, toTs: time });
export type PresenceGap = z.infer<typeof PresenceGap>;

/** The fields the presence rules read. */
interface PresenceRuleFields {
  type: PresenceType;
  ts: number;
  intervalS: number;
  lastSeenTs?: number | undefined;
  fromTs?: number | undefined;
  toTs?: number | undefined;
  count?: number | undefined;
  firstSeenTs?: number | undefined;
  gaps?: readonly PresenceGap[] | undefined;
  state?: "online" | "offline" | undefined;
}

const SUMMARY_FIELDS = ["fromTs", "toTs", "count", "gaps", "state"] as const;

/** What a presence report must hold for its type (shared by the reading schema and the hub's compiled check). */
export function presenceRules(ctx: z.core.ParsePayload<PresenceRuleFields>): void {
  const p = ctx.value;
  const issue = (path: string, message: string) => ctx.issues.push({ code: "custom", input: p, path: [path], message });
  if (p.type === "summary") {
    for (const field of SUMMARY_FIELDS)
      if (p[field] === undefined)
        ctx.issues.push({
          code: "invalid_type",
          expected: "nonoptional",
          input: undefined,
          path: [field],
          message: `${field} is required in a summary`,
        });
    if (p.fromTs !== undefined && p.toTs !== undefined && (p.fromTs >= p.toTs || p.ts !== p.toTs))
      issue("toTs", "a summary's period runs from fromTs to toTs (after it), and its ts is toTs");
    if (p.count !== undefined && p.count > 0 && (p.firstSeenTs === undefined || p.lastSeenTs === undefined))
      issue("firstSeenTs", "a summary that counted heartbeats names the first and the last");
    if (p.firstSeenTs !== undefined && p.lastSeenTs !== undefined && p.firstSeenTs > p.lastSeenTs)
      issue("firstSeenTs", "firstSeenTs is after lastSeenTs");
    for (const [i, g] of (p.gaps ?? []).entries()) if (g.fromTs >= g.toTs) issue("gaps", `gap ${i} does not end after it starts`);
    return;
  }
  for (const field of [...SUMMARY_FIELDS, "firstSeenTs"] as const)
    if (p[field] !== undefined) issue(field, `${field} is only for a summary`);
  if (p.lastSeenTs === undefined)
    ctx.issues.push({
      code: "invalid_type",
      expected: "number",
      input: undefined,
      path: ["lastSeenTs"],
      message: `lastSeenTs is required when a device goes ${p.type}`,
    });
  else if (p.ts !== presenceChangeTs(p.type, p.lastSeenTs, p.intervalS))
    issue(
      "ts",
      p.type === "online" ? "an online report's ts is its lastSeenTs" : "an offline report's ts is lastSeenTs plus 2.5 intervals",
    );
}

/** The time of a state change: the heartbeat that ended a silence, or the moment a silence passed the threshold. */
export function presenceChangeTs(type: "online" | "offline", lastSeenTs: number, intervalS: number): number {
  return type === "online" ? lastSeenTs : lastSeenTs + Math.round(PRESENCE_SILENCE_FACTOR * intervalS * 1000);
}

export const PresenceReport = z
  .strictObject({
    deviceId: Id,
    /** The gateway's count of this device's presence reports (kept across its restarts): with ts, the report's identity. */
    seq: z.int().min(0).max(0xffffffff),
    ts: time,
    type: z.enum(PRESENCE_TYPES),
    /** The heartbeat interval the device promised last (s). */
    intervalS: z.int().min(5).max(3600),
    lastSeenTs: time.optional(),
    fromTs: time.optional(),
    toTs: time.optional(),
    count: z.int().min(0).max(1_000_000).optional(),
    firstSeenTs: time.optional(),
    gaps: z.array(PresenceGap).max(PRESENCE_MAX_GAPS).optional(),
    state: z.enum(["online", "offline"]).optional(),
  })
  .check(presenceRules);
export type PresenceReport = z.infer<typeof PresenceReport>;

/** The reading kinds a gateway makes itself (not device event kinds). */
export const GATEWAY_READING_KINDS = ["presence"] as const;
