import { escape, type InfluxDB, type IPoint } from "influx";
import { z } from "zod";
import type { WarningEvent } from "../controller/extension.ts";
import type { Registry, Site } from "../registry/schema.ts";

export const SatisfactionThresholds = z.strictObject({
  /** A satisfaction rate (positive / rated) below this warns. */
  warnBelow: z.number().min(0).max(1).default(0.9),
  /** Fewer ratings than this say too little about anybody to warn. */
  minRated: z.int().min(1).max(100_000).default(10),
});
export type SatisfactionThresholds = z.infer<typeof SatisfactionThresholds>;

export interface Tally {
  subjectKind: "clerk" | "window";
  subject: string;
  rated: number;
  positive: number;
}

export interface LowSatisfaction extends Tally {
  rate: number;
}

/** The tallies whose satisfaction rate is below the threshold, among those with enough ratings to judge. */
export function lowSatisfaction(tallies: Tally[], thresholds: SatisfactionThresholds): LowSatisfaction[] {
  return tallies
    .filter((t) => t.rated >= thresholds.minRated)
    .map((t) => ({ ...t, rate: t.positive / t.rated }))
    .filter((t) => t.rate < thresholds.warnBelow);
}

/** Per clerk and per window: how many rated and how many positive, from the raw `rating` series. */
export async function satisfactionTallies(influx: InfluxDB, siteId: string, from: number, to: number): Promise<Tally[]> {
  const rows = await influx.query<{ clerk?: string; window?: string; rated: number; positive: number }>(
    `SELECT sum("rated") AS rated, sum("positive") AS positive FROM "raw"."rating" WHERE "site" = ${escape.stringLit(siteId)} AND time >= ${from}000000 AND time < ${to}000000 GROUP BY "clerk", "window"`,
  );
  const tallies = new Map<string, Tally>();
  const add = (subjectKind: Tally["subjectKind"], subject: string | undefined, rated: number, positive: number) => {
    if (!subject) return;
    const t = tallies.get(`${subjectKind}/${subject}`) ?? { subjectKind, subject, rated: 0, positive: 0 };
    tallies.set(`${subjectKind}/${subject}`, { ...t, rated: t.rated + rated, positive: t.positive + positive });
  };
  for (const r of rows) {
    add("clerk", r.clerk, Number(r.rated ?? 0), Number(r.positive ?? 0));
    add("window", r.window, Number(r.rated ?? 0), Number(r.positive ?? 0));
  }
  return [...tallies.values()];
}

export interface SatisfactionSpan {
  /** The local day, the start of its month, and the timestamp the day's warnings get (inside the day's recomputed span). */
  dayFrom: number;
  dayTo: number;
  monthFrom: number;
  at: number;
}

/**
 * Warnings for a site's day: rule `satisfaction_day` for the day's rate, `satisfaction_month` for the month so far.
 * Both are stamped at `span.at`, so each run replaces them rather than adding more.
 */
export async function satisfactionWarnings(
  influx: InfluxDB,
  registry: Registry,
  site: Site,
  span: SatisfactionSpan,
  thresholds: SatisfactionThresholds,
): Promise<{ points: IPoint[]; warnings: WarningEvent[] }> {
  const town = registry.towns.get(site.town);
  const out = { points: [] as IPoint[], warnings: [] as WarningEvent[] };
  const [day, month] = await Promise.all([
    satisfactionTallies(influx, site.id, span.dayFrom, span.dayTo),
    satisfactionTallies(influx, site.id, span.monthFrom, span.dayTo),
  ]);
  for (const [rule, label, tallies] of [
    ["satisfaction_day", "today", day],
    ["satisfaction_month", "this month", month],
  ] as const) {
    for (const low of lowSatisfaction(tallies, thresholds)) {
      const name = low.subjectKind === "clerk" ? registry.people.get(low.subject)?.name : registry.windows.get(low.subject)?.name;
      const message = `${low.subjectKind} ${name ?? low.subject}: ${(low.rate * 100).toFixed(1)}% satisfied of ${low.rated} ratings ${label}, below ${(thresholds.warnBelow * 100).toFixed(0)}%`;
      out.points.push({
        measurement: "warning",
        timestamp: `${span.at}000000`,
        tags: Object.fromEntries(
          Object.entries({
            region: town?.region ?? "",
            town: site.town,
            site: site.id,
            category: "people",
            subject_kind: low.subjectKind,
            subject: low.subject,
            rule,
            severity: "warning",
          }).filter(([, v]) => v !== ""),
        ),
        fields: { active: 1, message, rate: low.rate, rated: low.rated },
      });
      out.warnings.push({
        ts: span.at,
        site: site.id,
        category: "people",
        subjectKind: low.subjectKind,
        subject: low.subject,
        rule,
        severity: "warning",
        active: true,
        message,
      });
    }
  }
  return out;
}
