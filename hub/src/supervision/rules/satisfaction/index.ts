import type { InfluxDB } from "influx";
import type { Registry, Site } from "../../../registry/schema.ts";
import type { SchemaPoint } from "../../../schema/index.ts";
import { dayReadings } from "../../readings.ts";
import { warningPoint } from "../../warnings.ts";
import { supervisionTexts, type SupervisionTexts } from "../../messages.ts";
import type { DayRule, Placement, WarningFinding } from "../rule.ts";
import { lowSatisfaction, type SatisfactionThresholds, type Tally, talliesOf } from "./tally.ts";

/**
 * Satisfaction rate per clerk and window, for the day (rule `satisfaction_day`) and the month so far
 * (`satisfaction_month`). Both warnings are stamped at the day's last shift end, so each run replaces them. See README.md.
 */
export const satisfaction: DayRule = {
  scope: "day",
  name: "satisfaction",
  deductionRules: [],
  async judge(ctx) {
    const { span } = ctx;
    const [day, month] = await Promise.all([
      ctx.readings.ratingTallies(span.dayFrom, span.dayTo),
      ctx.readings.ratingTallies(span.monthFrom, span.dayTo),
    ]);
    return {
      warnings: satisfactionFindings(
        ctx.registry,
        ctx.site,
        { day: talliesOf(day), month: talliesOf(month) },
        span.to,
        ctx.settings.satisfaction,
        ctx.text,
      ),
    };
  },
};

function satisfactionFindings(
  registry: Registry,
  site: Site,
  tallies: { day: Tally[]; month: Tally[] },
  at: number,
  thresholds: SatisfactionThresholds,
  text: SupervisionTexts,
): WarningFinding[] {
  const out: WarningFinding[] = [];
  for (const [rule, label, list] of [
    ["satisfaction_day", "day", tallies.day],
    ["satisfaction_month", "month", tallies.month],
  ] as const) {
    for (const low of lowSatisfaction(list, thresholds)) {
      const name = low.subjectKind === "clerk" ? registry.people.get(low.subject)?.name : registry.windows.get(low.subject)?.name;
      const message = text.satisfactionLow({
        subjectKind: low.subjectKind,
        subject: name ?? low.subject,
        rate: low.rate,
        rated: low.rated,
        period: label,
        below: thresholds.warnBelow,
      });
      out.push({
        event: {
          ts: at,
          site: site.id,
          category: "people",
          subjectKind: low.subjectKind,
          subject: low.subject,
          rule,
          severity: "warning",
          active: true,
          message,
        },
        active: 1,
        figures: { rate: low.rate, rated: low.rated },
      });
    }
  }
  return out;
}

export interface SatisfactionSpan {
  /** The local day, the start of its month, and the timestamp the day's warnings get (inside the day's recomputed span). */
  dayFrom: number;
  dayTo: number;
  monthFrom: number;
  at: number;
}

/** The rule on its own, for one site's day: its warnings and their `warning` points. */
export async function satisfactionWarnings(
  influx: InfluxDB,
  registry: Registry,
  site: Site,
  span: SatisfactionSpan,
  thresholds: SatisfactionThresholds,
  text: SupervisionTexts = supervisionTexts(undefined, site.tz),
): Promise<{ points: SchemaPoint[]; warnings: WarningFinding["event"][] }> {
  const readings = dayReadings(influx, site, { from: span.dayFrom, to: span.dayTo, ...span });
  const [day, month] = await Promise.all([
    readings.ratingTallies(span.dayFrom, span.dayTo),
    readings.ratingTallies(span.monthFrom, span.dayTo),
  ]);
  const findings = satisfactionFindings(registry, site, { day: talliesOf(day), month: talliesOf(month) }, span.at, thresholds, text);
  const place: Placement = { region: registry.towns.get(site.town)?.region ?? "", town: site.town, site: site.id };
  return { points: findings.map((f) => warningPoint(place, f)), warnings: findings.map((f) => f.event) };
}
