import {
  checkLinksFitKind,
  deviceCoreFields,
  Id,
  ItemCode,
  linkFields,
  MqttSecretHash,
  SecretSource,
  TerminalPin,
} from "@supervision/firmware-protocols";
import { z } from "zod";

/**
 * The site registry: regions, towns, halls and construction sites, departments, windows, people, gateways,
 * devices and rosters. Kept as YAML files (any number, each holding any of the top-level lists below); the
 * loader merges them, checks references, and reports errors with file, line and fix.
 */

const HHMM = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a time of day "HH:MM" (24-hour)');
const ISODate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date "YYYY-MM-DD"');
const Weekday = z.enum(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]);

export const Region = z.strictObject({ id: Id, name: z.string().min(1).max(128) });
export const Town = z.strictObject({ id: Id, name: z.string().min(1).max(128), region: Id });
export const Department = z.strictObject({ id: Id, name: z.string().min(1).max(128) });

/** Who is notified of warnings about a site's people: a name for the message, a phone number SMS channels send to. */
export const SiteContact = z.strictObject({
  name: z.string().min(1).max(64),
  phone: z.string().regex(/^\+?[0-9][0-9 -]{2,19}$/, 'a phone number ("+86 138 0000 0000" or "13800000000")'),
});

export const Site = z.strictObject({
  id: Id,
  /** hall: a government service hall; site: a construction site. */
  kind: z.enum(["hall", "site"]),
  name: z.string().min(1).max(128),
  town: Id,
  /** IANA zone the site's rosters are judged in; data is stored in UTC. */
  tz: z.string().min(1).max(64).default("Asia/Shanghai"),
  /** The gateway that serves this site. */
  gateway: Id,
  /** Where the site is: a sign-in whose GPS fix lies further than `radiusM` from here is flagged (site-presence rule). */
  location: z
    .strictObject({
      lat: z.number().min(-90).max(90),
      lon: z.number().min(-180).max(180),
      /** Metres around the centre that count as on site (a construction site's fence plus GPS slack). */
      radiusM: z.int().min(10).max(50_000),
    })
    .optional(),
  /** Who is notified of warnings about the site's people (an absent or late supervisor): the person responsible. */
  contacts: z.array(SiteContact).max(20).optional(),
});

export const Window = z.strictObject({
  id: Id,
  site: Id,
  name: z.string().min(1).max(128),
  department: Id,
  /** Minutes without motion and/or a signed-in clerk, in working hours, before the window counts as unattended. */
  unattendedAfterMinutes: z.int().min(1).max(480).default(30),
});

export const Person = z.strictObject({
  id: Id,
  name: z.string().min(1).max(64),
  /** clerk: works at a hall window; supervisor: a construction-site project supervisor. */
  role: z.enum(["clerk", "supervisor"]),
  post: z.string().max(64).default(""),
  photoUrl: z.string().max(512).optional(),
  site: Id,
  /** A clerk's usual window. */
  window: Id.optional(),
  roster: Id,
  /** The person's number on the site's sign-in terminals (ADMS PIN); unique within the site. */
  pin: TerminalPin.optional(),
});

export const Shift = z.strictObject({ start: HHMM, end: HHMM });

/**
 * Check-ins a roster asks for beyond its shifts (chief supervisors who run several projects): `perWeek` days of the
 * week with a sign-in at the site, or a sign-in inside each of the day's `windows` (local times, e.g. before 08:30,
 * at midday, late afternoon). Each one missed counts as missing from post (site-presence rule).
 */
export const Checkins = z.union([
  z.strictObject({ perWeek: z.int().min(1).max(7) }),
  z.strictObject({
    windows: z
      .array(
        z
          .strictObject({ from: HHMM, to: HHMM })
          .refine((w) => w.from < w.to, { message: "a check-in window's from is before its to (same day)" }),
      )
      .min(1)
      .max(8),
  }),
]);

export const Roster = z.strictObject({
  id: Id,
  /** Working periods of a day; an end before its start runs past midnight. Each period is a half day for absence. */
  shifts: z.array(Shift).min(1).max(6),
  workingDays: z.array(Weekday).min(1).max(7).default(["mon", "tue", "wed", "thu", "fri"]),
  /** Lateness up to this is forgiven (0 to 60; 5 is common). */
  graceMinutes: z.int().min(0).max(60).default(5),
  /** Lateness or early leave beyond this counts as absence for that half day. */
  absentAfterMinutes: z.int().min(1).max(480).default(60),
  holidays: z.array(ISODate).default([]),
  /** Extra working days (make-up days on a weekend). */
  workdays: z.array(ISODate).default([]),
  /** Per-person exceptions such as leave: nobody is judged absent on these days. */
  exceptions: z.array(z.strictObject({ person: Id, from: ISODate, to: ISODate, reason: z.string().min(1).max(128) })).default([]),
  /** Check-ins instead of per-shift attendance: the people on this roster are judged by them, not late/absent per shift. */
  checkins: Checkins.optional(),
});

export const Gateway = z.strictObject({
  id: Id,
  site: Id,
  /** The gateway's Ed25519 public key (PEM), from `gateway keys` on the box; batches are verified with it. */
  publicKey: z.string().max(1024).includes("BEGIN PUBLIC KEY", { message: "a PEM public key (-----BEGIN PUBLIC KEY-----)" }),
  /** The gateway's X25519 sealing key (PEM), from `gateway keys`: device link secrets are sealed to it. */
  sealingKey: z.string().max(1024).includes("BEGIN PUBLIC KEY", { message: "a PEM public key (-----BEGIN PUBLIC KEY-----)" }).optional(),
  /** MQTT password for the hub's broker: a scrypt hash (`hub hash-secret`), or `secret` in clear for a lab. */
  secretHash: z.string().max(256).optional(),
  /**
   * Uplink envelope versions the gateway is told it may send (its config's `uplinkVersions`, PROTOCOL.md 4.2 and
   * 4.3), e.g. `[1, 2, 3]` once the gateway runs a version that reads it; absent: not told, the gateway sends v1. Every
   * hub reads v1, v2 and v3 whatever this says.
   */
  uplinkVersions: z
    .array(z.literal([1, 2, 3]))
    .min(1)
    .max(3)
    .optional(),
  secret: z.string().max(256).optional(),
  /**
   * The gateway's HTTP API as the hub reaches it (camera live view through the hub): its URL and its `http.token`,
   * in clear for a lab or as `{ env: NAME }` / `{ file: path }`.
   */
  api: z
    .strictObject({
      url: z
        .url({ protocol: /^https?$/, error: "an http:// or https:// URL of the gateway's HTTP API, e.g. http://gateway-hall-1:8081" })
        .max(512),
      token: SecretSource,
    })
    .optional(),
});

/**
 * A device: the fields and links of the device catalogue (firmware-protocols/src/devices), plus where it is. Link
 * secrets (an ONVIF password, a terminal's comm key) are written in clear for a lab, or as `{ env: NAME }` /
 * `{ file: path }` (relative to the registry folder); the hub seals them to the gateway's sealing key.
 */
export const Device = z
  .strictObject({
    ...deviceCoreFields,
    site: Id,
    window: Id.optional(),
    /** MQTT password for the gateway's broker: a scrypt hash, or `secret` in clear for a lab. */
    secretHash: MqttSecretHash.optional(),
    secret: z.string().min(1).max(256).optional(),
    scale: z.enum(["four", "five"]).default("four"),
    ...linkFields("registry"),
  })
  .superRefine(checkLinksFitKind);

/** A time limit: days, counted as working days on the item's calendar, or as calendar days where the law says so. */
export const TimeLimit = z.strictObject({
  days: z.int().min(1).max(3650),
  unit: z.enum(["working", "calendar"]).default("working"),
});

/** Someone notified about an item: a name, and the phone number SMS channels send to. */
export const Contact = z.strictObject({
  name: z.string().min(1).max(64),
  phone: z
    .string()
    .regex(/^\+?[0-9][0-9 -]{2,19}$/, 'a phone number, e.g. "+8613800000001"')
    .optional(),
  /** The registry person, when the contact is one. */
  person: Id.optional(),
});

/**
 * An approval item of the catalogue of powers: its unique code, its department, where it is handled and counted,
 * its legal and promised time limits, its fee, whether several departments approve it jointly, and who is
 * reminded (the handler) and who receives escalations (the department head).
 */
export const Item = z
  .strictObject({
    code: ItemCode,
    name: z.string().min(1).max(128),
    department: Id,
    /** The hall where it is handled: its counts, and its zone for the deadline. */
    site: Id,
    /** The roster whose working days, holidays and make-up days are the item's working-day clock (the hall's calendar). */
    calendar: Id,
    legalLimit: TimeLimit,
    promisedLimit: TimeLimit,
    /** Fee in yuan (0: free of charge). */
    fee: z.number().min(0).max(10_000_000).default(0),
    /** Joint approval: several departments handle it in parallel. */
    joint: z.boolean().default(false),
    handler: Contact,
    head: Contact,
  })
  .refine((i) => i.promisedLimit.unit !== i.legalLimit.unit || i.promisedLimit.days <= i.legalLimit.days, {
    message: "promisedLimit.days is more than legalLimit.days; the promise may only shorten the legal limit",
    path: ["promisedLimit", "days"],
  });

/** A department's approval system that reports items through the hub's API, with the API token named after its id. */
export const ApprovalSystem = z.strictObject({
  id: Id,
  name: z.string().min(1).max(128),
  department: Id,
});

/** One registry file: every list is optional. */
export const RegistryFile = z.strictObject({
  regions: z.array(Region).optional(),
  towns: z.array(Town).optional(),
  departments: z.array(Department).optional(),
  sites: z.array(Site).optional(),
  windows: z.array(Window).optional(),
  people: z.array(Person).optional(),
  rosters: z.array(Roster).optional(),
  gateways: z.array(Gateway).optional(),
  devices: z.array(Device).optional(),
  items: z.array(Item).optional(),
  approvalSystems: z.array(ApprovalSystem).optional(),
});

export type Region = z.infer<typeof Region>;
export type Town = z.infer<typeof Town>;
export type Department = z.infer<typeof Department>;
export type SiteContact = z.infer<typeof SiteContact>;
export type Site = z.infer<typeof Site>;
export type Checkins = z.infer<typeof Checkins>;
export type Window = z.infer<typeof Window>;
export type Person = z.infer<typeof Person>;
export type Shift = z.infer<typeof Shift>;
export type Roster = z.infer<typeof Roster>;
export type Gateway = z.infer<typeof Gateway>;
export type Device = z.infer<typeof Device>;
export type RegistryFile = z.infer<typeof RegistryFile>;
export type TimeLimit = z.infer<typeof TimeLimit>;
export type Contact = z.infer<typeof Contact>;
export type Item = z.infer<typeof Item>;
export type ApprovalSystem = z.infer<typeof ApprovalSystem>;

/** The merged, cross-checked registry. */
export interface Registry {
  /**
   * Sent to gateways as the config version: the newest modification time (ms) of the registry files, kept rising
   * across restarts by WatchedRegistry. Two hub copies reading the same files agree on it.
   */
  version: number;
  /** SHA-256 of the files' content (and of the link secrets they name), set by loadRegistry: equal digests, equal registries. */
  digest?: string;
  regions: Map<string, Region>;
  towns: Map<string, Town>;
  departments: Map<string, Department>;
  sites: Map<string, Site>;
  windows: Map<string, Window>;
  people: Map<string, Person>;
  rosters: Map<string, Roster>;
  gateways: Map<string, Gateway>;
  devices: Map<string, Device>;
  /** The item catalogue by code (absent in registries built by hand, e.g. in tests: no items). */
  items?: Map<string, Item>;
  approvalSystems?: Map<string, ApprovalSystem>;
}
