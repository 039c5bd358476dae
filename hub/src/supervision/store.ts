import type { IPoint } from "influx";
import type { HubContext } from "../controller/extension.ts";
import { writePointsIsolating } from "../influx/isolating-write.ts";
import { lit, ns } from "../influx/query.ts";
import { INFLUXQL, type SchemaPoint } from "../schema/index.ts";
import { dayRules, type DayOutcome, derivedDeductionRules } from "./evaluate.ts";
import type { Replaced, Rule } from "./rules/rule.ts";
import { RULES } from "./rules/index.ts";

const { warning, deduction, score_monthly, card } = INFLUXQL;

/** What the evaluator itself writes for a day: people's warnings (equipment warnings close themselves), cards, daily scores. */
const COMPOSED: readonly Replaced[] = [
  { measurement: "warning", span: "working", where: `${warning.category} = 'people'` },
  // Items' cards are the items rule's (a site rule, rewritten each run), not the day's.
  { measurement: "card", span: "working", where: `${card.subject_kind} != 'item'` },
  { measurement: "score_daily", span: "working" },
];

/** What writing the rules' points needs from the hub: InfluxDB, and where refused points are logged and counted. */
export type DerivedWriter = Pick<HubContext, "influx" | "logger" | "metrics">;

/** Writes derived points; one InfluxDB can never store is kept as a dead letter instead of failing the run. */
export async function writeDerived(hub: DerivedWriter, points: IPoint[]): Promise<void> {
  if (points.length === 0) return;
  await writePointsIsolating(hub.influx, points, {
    retentionPolicy: "raw",
    context: { source: "rules" },
    logger: hub.logger,
    metrics: hub.metrics,
  });
}

/**
 * Replaces a day's derived points: deletes what the rules and the evaluator own over the day's spans, then writes
 * the outcome. Manual entries and supervisors' decisions are not the rules' and stay.
 */
export async function replaceDay(hub: DerivedWriter, outcome: DayOutcome, rules: readonly Rule[] = RULES): Promise<void> {
  const { influx } = hub;
  const { span } = outcome;
  if (!span) return;
  // Every replaced measurement has the site tag (`Replaced` admits only those).
  const site = `${deduction.site} = ${lit(outcome.site)}`;
  const spans = {
    working: `${site} AND time >= ${ns(span.from)} AND time <= ${ns(span.to)}`,
    day: `${site} AND time >= ${ns(span.dayFrom)} AND time < ${ns(span.dayTo)}`,
  };
  const replaced = [...dayRules(rules).flatMap((r) => r.replaces ?? []), ...COMPOSED];
  for (const r of replaced)
    await influx.query(`DELETE FROM ${INFLUXQL[r.measurement].NAME} WHERE ${spans[r.span]}${r.where ? ` AND ${r.where}` : ""}`);
  for (const rule of derivedDeductionRules(rules))
    await influx.query(`DELETE FROM ${deduction.NAME} WHERE ${spans.working} AND ${deduction.rule} = ${lit(rule)}`);
  await writeDerived(hub, outcome.points);
}

/** Replaces a month's `score_monthly` points of a site (stamped at the month's start). */
export async function replaceMonth(hub: DerivedWriter, siteId: string, from: number, points: SchemaPoint[]): Promise<void> {
  await hub.influx.query(`DELETE FROM ${score_monthly.NAME} WHERE ${score_monthly.site} = ${lit(siteId)} AND time = ${ns(from)}`);
  await writeDerived(hub, points);
}
