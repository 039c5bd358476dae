import { UnattendedSettings } from "./rules/unattended/settings.ts";
import { z } from "zod";
import { DEFAULT_LOCALE, LOCALES } from "@supervision/dashboards";
import { NotificationSettings } from "./notify.ts";
import { SatisfactionThresholds } from "./rules/satisfaction/tally.ts";
import { HandlingSettings } from "./handling.ts";
import { ItemRuleSettings } from "./rules/items/settings.ts";

/** Points per event: the district rules of the domain brief are the shipped default. */
export const ScoringRules = z.strictObject({
  baseline: z.number().default(100),
  late: z.number().default(-2),
  earlyLeave: z.number().default(-2),
  leftPost: z.number().default(-2),
  absentHalfDay: z.number().default(-5),
  unattended: z.number().default(-5),
  dissatisfiedClerk: z.number().default(-2),
  dissatisfiedUnit: z.number().default(-10),
  thanks: z.number().default(2),
  /**
   * Per approval item overdue, to its responsible person (the catalogue's `handler.person`), else to the window that
   * accepted it. The seed states no value per overdue item: -2 is this product's assumption, a clerk's lapse like
   * late arrival (hub/src/supervision/rules/items/README.md, "Points").
   */
  itemOverdue: z.number().default(-2),
  /** Out of the year's awards (seed 002, art. 25 (3)): this many overdue items in the calendar year (0: never)... */
  noAwardOverdueItems: z.int().min(0).max(1000).default(3),
  /** ...or one item overdue by more than this many days of its limit's unit. */
  noAwardOverdueDays: z.int().min(0).max(365).default(3),
  /** Every `proRataEvery` points a clerk loses cost the clerk's window unit `proRataPoints`. */
  proRataEvery: z.number().positive().default(5),
  proRataPoints: z.number().default(-2),
});
export type ScoringRules = z.infer<typeof ScoringRules>;

/**
 * The monthly bulletin's circulation rules. The shipped values are one seed city's practice: it commends the top
 * ten and calls in units scoring below 70 or ranked in the bottom three.
 */
export const BulletinRules = z.strictObject({
  commendTop: z.int().min(0).max(1000).default(10),
  callInBelow: z.number().min(0).max(1000).default(70),
  callInBottom: z.int().min(0).max(1000).default(3),
});
export type BulletinRules = z.infer<typeof BulletinRules>;

export const SupervisionSettings = z.strictObject({
  enabled: z.boolean().default(true),
  /**
   * When supervision began (go-live): a day whose first shift starts before it is judged for nobody. Beside it, a
   * site is judged only from when its devices were first heard. ISO date or date-time.
   */
  since: z.iso.datetime({ offset: true }).or(z.iso.date()).optional(),
  /** Language of warning messages, card and deduction reasons: simplified Chinese (default) or English. */
  locale: z.enum(LOCALES).default(DEFAULT_LOCALE),
  /** How often today's outcome is recomputed from InfluxDB. */
  intervalMs: z.int().min(1000).max(3_600_000).default(60_000),
  /** Sign-ins this long before a shift's start still count for it. */
  earlySigninMinutes: z.int().min(0).max(600).default(120),
  /**
   * A sign-in made this far ahead of its gateway receive time, or received this much later while its terminal was
   * online, has an untrustworthy clock: it goes to review instead of being judged.
   */
  clockToleranceMinutes: z.int().min(1).max(1440).default(10),
  cards: z
    .strictObject({
      /** Unattended periods (or attendance faults) in a day that turn a card yellow, then red. */
      yellowAfter: z.int().min(1).default(1),
      redAfter: z.int().min(1).default(3),
    })
    .prefault({}),
  scoring: ScoringRules.prefault({}),
  /** Who the monthly bulletin commends and calls in (`hub report`). */
  bulletin: BulletinRules.prefault({}),
  /** The unattended-window rule: what counts as someone at the window besides motion, and its cool-down. */
  unattended: UnattendedSettings,
  /** Satisfaction rates (per clerk and window, day and month so far) below which the rules warn. */
  satisfaction: SatisfactionThresholds.prefault({}),
  /** Approval items: when the handler is reminded, the item warned (yellow card) and escalated (red card). */
  items: ItemRuleSettings.prefault({}),
  notifications: NotificationSettings.prefault({}),
  /** How soon the centre must acknowledge and handle a warning before it shows as overdue. */
  handling: HandlingSettings.prefault({}),
  /**
   * Several hub copies: each site's rules run on the one copy holding its lease (hub/src/supervision/README.md,
   * "Several hub copies: site leases"), kept in the central InfluxDB.
   */
  leases: z
    .strictObject({
      /** Default: on when the hub uses an external broker (copies may share it), off with the embedded broker (one hub). */
      enabled: z.boolean().optional(),
      /** How long a claim or renewal holds a site; a dead copy's sites move after this (and the settle delay). */
      seconds: z.int().min(2).max(3600).default(120),
      /** How long a copy waits after claiming before it acts; the bound on InfluxDB's write delay and clock skew. */
      settleMs: z.int().min(50).max(60_000).default(3000),
    })
    .refine((l) => l.settleMs * 3 < l.seconds * 1000, {
      message: "leases.settleMs must be under a third of leases.seconds (a copy renews every third of a lease)",
    })
    .prefault({}),
  /** Gone (static hash partitions): a clear error naming what replaced it. */
  partition: z
    .custom<never>(() => false, {
      message:
        "no longer read: hub copies now share the sites by leases; remove it and set supervision.leases.enabled (true), supervision.leases.seconds and supervision.leases.settleMs if needed (hub/src/supervision/README.md)",
    })
    .optional(),
});
export type SupervisionSettings = z.infer<typeof SupervisionSettings>;
