import type { CardEvent, WarningEvent } from "../../controller/extension.ts";
import type { Person, Registry, Roster, Site, Window } from "../../registry/schema.ts";
import type { SchemaPoint, SitedMeasurement } from "../../schema/index.ts";
import type { Period } from "../calendar.ts";
import type { DayReadings, SiteReadings } from "../readings.ts";
import type { SupervisionSettings } from "../settings.ts";
import type { SupervisionTexts } from "../messages.ts";

/**
 * The one interface between the evaluator and a rule. A rule reads a context (registry, calendar, readings the
 * evaluator queries for it) and returns findings; it writes nothing itself. The evaluator turns findings into
 * points, cards, scores and events, and replaces the day's derived points on every run.
 */
export type Rule = DayRule | SiteRule;

/** A rule judged per site and local working day; recomputed every run, its points replaced. */
export interface DayRule {
  readonly scope: "day";
  /** The rule's folder name. */
  readonly name: string;
  /** The `rule` tag of the deductions it computes: replaced each run, and refused as a person's entry. */
  readonly deductionRules: readonly string[];
  /** The measurements its `records` write, and which of their points a run replaces before writing them again. */
  readonly replaces?: readonly Replaced[];
  judge(ctx: DayContext): Promise<Findings>;
}

/** A rule judged per site at the run's moment (not per day): its warnings close themselves when the fact ends. */
export interface SiteRule {
  readonly scope: "site";
  readonly name: string;
  /** The `rule` tag of the deductions it computes (rewritten each run at their own times), refused as a person's entry. */
  readonly deductionRules?: readonly string[];
  judge(ctx: SiteContext): Promise<Findings>;
}

export interface Replaced {
  measurement: SitedMeasurement;
  /** The day's working span (`from`..`to`) or the whole local day (`dayFrom`..`dayTo`). */
  span: "working" | "day";
  /** An extra InfluxQL condition: only these points are the rule's to replace. */
  where?: string;
}

export interface Placement {
  region: string;
  town: string;
  site: string;
}

/** A person who works on the day judged, with their roster and shift periods (in UTC). */
export interface OnDuty {
  person: Person;
  roster: Roster;
  periods: Period[];
}

export interface DaySpan {
  /** The day's working periods, from the earliest sign-in that counts to the last shift's end: derived points live here. */
  from: number;
  to: number;
  /** The whole local day, and the start of its month, in the site's zone. */
  dayFrom: number;
  dayTo: number;
  monthFrom: number;
  /** The day's first shift start: cards and daily scores are stamped here. */
  firstStart: number;
}

export interface SiteContext {
  readonly registry: Registry;
  readonly site: Site;
  readonly place: Placement;
  readonly now: number;
  readonly settings: SupervisionSettings;
  /** The texts a person reads, in the configured language, with times in the site's zone. */
  readonly text: SupervisionTexts;
  readonly readings: SiteReadings;
}

export interface DayContext extends Omit<SiteContext, "readings"> {
  /** Local date (YYYY-MM-DD) in the site's zone. */
  readonly date: string;
  readonly span: DaySpan;
  /** The site's people and windows, in registry order. */
  readonly people: readonly Person[];
  readonly windows: readonly Window[];
  /** The people who work this day (by person id). */
  readonly onDuty: ReadonlyMap<string, OnDuty>;
  readonly readings: DayReadings;
}

export interface Deduction {
  subjectKind: "clerk" | "supervisor" | "window_unit";
  subject: string;
  rule: string;
  points: number;
  at: number;
  /** The point's time in nanoseconds when several deductions of a subject share `at` (two items due the same day). */
  atNs?: string;
  reason: string;
}

/** A warning a rule raises; written as a `warning` point and announced (`ctx.events` "warning") while active. */
export interface WarningFinding {
  event: WarningEvent;
  /** The point's `active` field: 0 once the episode is over (an unattended window staffed again). */
  active: 0 | 1;
  /** Figures the warning rests on, as `warning` fields. */
  figures?: { minutes?: number; rate?: number; rated?: number };
  /** A snapshot the rule rests on (an unattended window's, taken when the last motion ended): the camera and its hash. */
  evidence?: { device: string; sha256: string };
}

/** Someone or something judged this day: gets a card coloured by its faults and a daily score. */
export interface Judged {
  card: CardEvent["subjectKind"];
  subject: string;
  scoredAs: Deduction["subjectKind"];
  department: string;
  /** One reason per fault; none is a green card. */
  faults: string[];
}

export interface Findings {
  /**
   * Points recorded as judged: a day rule's of the measurements in `replaces` (an attendance judgement, a rating to
   * verify); a site rule's are written as they are each run, so each must keep its identity (an item's state).
   */
  records?: SchemaPoint[];
  /** A site rule's cards (an overdue item's), given as they are: each with its point, rewritten each run. */
  cards?: { event: CardEvent; point: SchemaPoint<"card"> }[];
  warnings?: WarningFinding[];
  deductions?: Deduction[];
  judged?: Judged[];
}
