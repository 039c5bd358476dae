import { z } from "zod";
import type { RatingTallyRow } from "../../readings.ts";

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

/** Per clerk and per window: how many rated and how many positive, from sums of the raw `rating` series. */
export function talliesOf(rows: RatingTallyRow[]): Tally[] {
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
