import type { InfluxDB } from "influx";
import type { CardEvent, WarningEvent } from "../controller/extension.ts";
import type { Registry, Site } from "../registry/schema.ts";
import type { SchemaPoint } from "../schema/index.ts";
import { dayCard } from "./cards.ts";
import { dayOnDuty, placementOf } from "./day.ts";
import { dayReadings, siteReadings } from "./readings.ts";
import { RULES } from "./rules/index.ts";
import type { DayContext, DayRule, DaySpan, Deduction, Findings, Judged, Rule, SiteRule } from "./rules/rule.ts";
import { dailyScorePoint, deductionPoint, type Entry } from "./scores.ts";
import type { SupervisionSettings } from "./settings.ts";
import { type HandlingView, warningPoint, type WarningSnapshot, warningSnapshots } from "./warnings.ts";
import { handlingOf } from "./handling.ts";
import { supervisionTexts } from "./messages.ts";

export interface DayOutcome {
  site: string;
  date: string;
  /** The day's spans; undefined when nobody works that day (nothing judged, nothing replaced). */
  span: DaySpan | undefined;
  deductions: Deduction[];
  points: SchemaPoint[];
  /** Warnings to announce (the active ones), and every subject's card of the day. */
  warnings: WarningEvent[];
  cards: CardEvent[];
}

export const dayRules = (rules: readonly Rule[]): DayRule[] => rules.filter((r): r is DayRule => r.scope === "day");
export const siteRules = (rules: readonly Rule[]): SiteRule[] => rules.filter((r): r is SiteRule => r.scope === "site");

/** The `rule` tags of the deductions the rules compute (and replace each run); people's entries use other names. */
export const derivedDeductionRules = (rules: readonly Rule[] = RULES): string[] => dayRules(rules).flatMap((r) => r.deductionRules);

/** Every `rule` tag a rule computes, day and site rules': none may be entered by hand. */
export const computedDeductionRules = (rules: readonly Rule[] = RULES): string[] => [
  ...derivedDeductionRules(rules),
  ...siteRules(rules).flatMap((r) => r.deductionRules ?? []),
];

/**
 * Recomputes one site's day from what InfluxDB holds; pure apart from the reads. The day rules judge together on
 * one context; their findings are composed here, in the rules' order: records, warnings and deductions as points,
 * then a card and a daily score for every subject judged.
 */
export async function evaluateDay(
  influx: InfluxDB,
  registry: Registry,
  site: Site,
  date: string,
  now: number,
  settings: SupervisionSettings,
  rules: readonly Rule[] = RULES,
  judgedFrom?: number,
): Promise<DayOutcome> {
  const { onDuty, span } = dayOnDuty(registry, site, date, settings.earlySigninMinutes, judgedFrom);
  const outcome: DayOutcome = { site: site.id, date, span, deductions: [], points: [], warnings: [], cards: [] };
  if (!span) return outcome;
  const ctx: DayContext = {
    registry,
    site,
    place: placementOf(registry, site),
    now,
    settings,
    text: supervisionTexts(settings.locale, site.tz),
    date,
    span,
    people: [...registry.people.values()].filter((p) => p.site === site.id),
    windows: [...registry.windows.values()].filter((w) => w.site === site.id),
    onDuty,
    readings: dayReadings(influx, site, span),
  };
  const [findings, entryRows, actionRows, snapshotRows] = await Promise.all([
    Promise.all(dayRules(rules).map((r) => r.judge(ctx))),
    ctx.readings.entries(),
    ctx.readings.warningActions(),
    ctx.readings.warningSnapshots(),
  ]);
  const entries: Entry[] = entryRows.map((r) => ({
    subjectKind: String(r.subject_kind),
    subject: String(r.subject),
    points: Number(r.points),
  }));
  const handling: HandlingView = { of: handlingOf(site.id, actionRows), now, limits: settings.handling };
  compose(outcome, ctx, findings, entries, handling, warningSnapshots(site.id, snapshotRows));
  return outcome;
}

function compose(
  outcome: DayOutcome,
  ctx: DayContext,
  findings: Findings[],
  entries: Entry[],
  handling: HandlingView,
  snapshots: ReadonlyMap<string, WarningSnapshot>,
): void {
  const { place, span, settings } = ctx;
  for (const f of findings) outcome.points.push(...(f.records ?? []));
  for (const f of findings)
    for (const w of f.warnings ?? []) {
      outcome.points.push(warningPoint(place, w, handling, snapshots));
      // Warnings about people go to the site's contacts too (the person responsible, from the registry).
      const contacts = w.event.category === "people" ? ctx.site.contacts : undefined;
      if (w.event.active)
        outcome.warnings.push(contacts?.length ? { ...w.event, contacts: [...(w.event.contacts ?? []), ...contacts] } : w.event);
    }
  for (const f of findings) outcome.deductions.push(...(f.deductions ?? []));
  for (const d of outcome.deductions) outcome.points.push(deductionPoint(place, d));
  // Cards and daily scores, for everyone judged today.
  const judged: Judged[] = findings.flatMap((f) => f.judged ?? []);
  for (const j of judged) {
    const card = dayCard(
      place,
      span.firstStart,
      { kind: j.card, id: j.subject, department: j.department, reasons: j.faults },
      settings.cards,
    );
    outcome.cards.push(card.event);
    outcome.points.push(card.point);
    outcome.points.push(
      dailyScorePoint(
        place,
        span.firstStart,
        { kind: j.scoredAs, id: j.subject, department: j.department },
        outcome.deductions,
        entries,
        settings.scoring.baseline,
      ),
    );
  }
}

/**
 * The site rules' findings at `now`: their records, warning points (active and closed), the active warnings to
 * announce, and the cards they give (an overdue item's), with their points.
 */
export async function evaluateSite(
  influx: InfluxDB,
  registry: Registry,
  site: Site,
  now: number,
  settings: SupervisionSettings,
  rules: readonly Rule[] = RULES,
): Promise<{ points: SchemaPoint[]; warnings: WarningEvent[]; cards: CardEvent[] }> {
  const place = placementOf(registry, site);
  const readings = siteReadings(influx, site, now);
  const text = supervisionTexts(settings.locale, site.tz);
  const [findings, actionRows] = await Promise.all([
    Promise.all(siteRules(rules).map((r) => r.judge({ registry, site, place, now, settings, text, readings }))),
    readings.warningActions(),
  ]);
  const handling: HandlingView = { of: handlingOf(site.id, actionRows), now, limits: settings.handling };
  const found = findings.flatMap((f) => f.warnings ?? []);
  const cards = findings.flatMap((f) => f.cards ?? []);
  return {
    points: [
      ...findings.flatMap((f) => f.records ?? []),
      ...findings.flatMap((f) => f.deductions ?? []).map((d) => deductionPoint(place, d)),
      ...found.map((w) => warningPoint(place, w, handling)),
      ...cards.map((c) => c.point),
    ],
    warnings: found.filter((w) => w.event.active).map((w) => w.event),
    cards: cards.map((c) => c.event),
  };
}
