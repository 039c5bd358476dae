import { z } from "zod";
import { Clerk } from "./commands.ts";
import { GatewayDevice } from "./devices/catalogue.ts";
import { Id } from "./events.ts";

/**
 * The slice of the site registry that the hub sends a gateway, retained on sv/v1/gw/{gatewayId}/config.
 * The gateway keeps the last good one on disk so it starts even when the hub is unreachable.
 */

/** A person's number on sign-in terminals (ADMS `PIN`): digits, as terminals enrol them. */
export const TerminalPin = z.string().regex(/^[0-9]{1,9}$/, "a terminal PIN: 1 to 9 digits");

export const GatewayConfig = z.strictObject({
  v: z.literal(1),
  gatewayId: Id,
  /** Monotonic version of the registry this slice was cut from; the gateway ignores older ones. */
  version: z.int().min(0),
  site: z.strictObject({
    id: Id,
    name: z.string().max(128),
    kind: z.enum(["hall", "site"]),
    /** IANA time zone the site is judged in. */
    tz: z.string().max(64),
  }),
  devices: z.array(GatewayDevice).max(5000),
  windows: z.array(z.strictObject({ id: Id, name: z.string().max(128), departmentId: Id })).max(1000),
  /** Clerks and supervisors who may sign in at this site, for the keypad display. */
  /** `pin`: the person's number on the site's sign-in terminals (ADMS). */
  people: z.array(Clerk.extend({ windowId: Id.optional(), pin: TerminalPin.optional() })).max(10000),
  /**
   * Uplink envelope versions the hub reads from this gateway (PROTOCOL.md 4.2, 4.3): with 3 listed the gateway seals
   * its batches as v3 (rows signed over the body's SHA-256), else with 2 as v2 (rows). Absent: v1 only. The hub sends it only to gateways its registry marks (`uplinkVersions`), as a
   * gateway of an older version refuses a config with a field it does not know.
   */
  uplinkVersions: z.array(z.int().min(1).max(99)).min(1).max(8).optional(),
  /** Days the hub keeps readings of each kind: the gateway refuses older ones (`beyond_retention`). Absent: no limit. */
  retentionDays: z
    .strictObject({
      rating: z.int().min(1).max(36_500).optional(),
      signin: z.int().min(1).max(36_500).optional(),
      motion: z.int().min(1).max(36_500).optional(),
      heartbeat: z.int().min(1).max(36_500).optional(),
      item: z.int().min(1).max(36_500).optional(),
      queue: z.int().min(1).max(36_500).optional(),
    })
    .optional(),
});
export type GatewayConfig = z.infer<typeof GatewayConfig>;

/** Gateway health, published retained on sv/v1/gw/{gatewayId}/status (and as its last will, state "offline"). */
export const GatewayStatus = z.looseObject({
  v: z.literal(1),
  gatewayId: Id,
  state: z.enum(["online", "offline"]),
  ts: z.int().min(0).optional(),
  configVersion: z.int().optional(),
  devices: z.strictObject({ online: z.int(), total: z.int() }).optional(),
  buffer: z
    .strictObject({ depth: z.int(), bytes: z.int(), capacityBytes: z.int(), oldestTs: z.int().nullable(), deadLetters: z.int() })
    .optional(),
  uplink: z.strictObject({ inFlight: z.int(), rttMs: z.number().nullable(), drainRatePerS: z.number() }).optional(),
  alarms: z.array(z.string().max(256)).max(50).optional(),
});
export type GatewayStatus = z.infer<typeof GatewayStatus>;
