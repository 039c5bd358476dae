import type { InfluxDB } from "influx";
import { lit, ns } from "../influx/query.ts";
import type { Registry, Site } from "../registry/schema.ts";
import { INFLUXQL, type SchemaPoint, schemaPoint } from "../schema/index.ts";
import { monthRange } from "./calendar.ts";
import type { Deduction, Placement } from "./rules/rule.ts";

const { deduction } = INFLUXQL;

/** A rule's deduction (or bonus) as its `deduction` point, entered by the rules. */
export function deductionPoint(place: Placement, d: Deduction): SchemaPoint<"deduction"> {
  return schemaPoint(
    "deduction",
    d.atNs ?? ns(d.at),
    { ...place, subject_kind: d.subjectKind, subject: d.subject, rule: d.rule },
    { points: d.points, reason: d.reason, entered_by: "rules" },
  );
}

/** A points change entered by a person (thanks, complaint...), as read back from InfluxDB. */
export interface Entry {
  subjectKind: string;
  subject: string;
  points: number;
}

/** A subject's score for the day: the baseline plus the rules' deductions and people's entries of the day. */
export function dailyScorePoint(
  place: Placement,
  at: number,
  subject: { kind: Deduction["subjectKind"]; id: string; department: string },
  deductions: readonly Deduction[],
  entries: readonly Entry[],
  baseline: number,
): SchemaPoint<"score_daily"> {
  const own = deductions.filter((d) => d.subjectKind === subject.kind && d.subject === subject.id);
  const entered = entries.filter((m) => m.subjectKind === subject.kind && m.subject === subject.id);
  const points = [...own.map((d) => d.points), ...entered.map((m) => m.points)];
  return schemaPoint(
    "score_daily",
    ns(at),
    { ...place, department: subject.department, subject_kind: subject.kind, subject: subject.id },
    {
      score: baseline + points.reduce((a, b) => a + b, 0),
      deductions: points.filter((p) => p < 0).reduce((a, b) => a + b, 0),
      bonuses: points.filter((p) => p > 0).reduce((a, b) => a + b, 0),
    },
  );
}

/** The month's score so far per person and window unit of a site: baseline plus every deduction and bonus. */
export async function monthlyScorePoints(
  influx: InfluxDB,
  registry: Registry,
  site: Site,
  month: string,
  baseline: number,
): Promise<{ points: SchemaPoint<"score_monthly">[]; from: number }> {
  const { from, to } = monthRange(month, site.tz);
  const rows = await influx.query<{ subject_kind: string; subject: string; points: number }>(
    `SELECT ${deduction.points} FROM ${deduction.FROM} WHERE ${deduction.site} = ${lit(site.id)} AND time >= ${ns(from)} AND time < ${ns(to)} GROUP BY ${deduction.subject_kind}, ${deduction.subject}`,
  );
  const town = registry.towns.get(site.town);
  const place: Placement = { region: town?.region ?? "", town: site.town, site: site.id };
  /** The subject's deductions (sign -1) or bonuses (sign 1) this month. */
  const total = (kind: string, subject: string, sign: 1 | -1) =>
    rows
      .filter(
        (r) =>
          r.subject === subject && (kind === "window_unit") === (r.subject_kind === "window_unit") && Math.sign(Number(r.points)) === sign,
      )
      .reduce((a, r) => a + Number(r.points), 0);
  const subjects = [
    ...[...registry.people.values()]
      .filter((p) => p.site === site.id)
      .map((p) => ({ kind: p.role, id: p.id, department: (p.window && registry.windows.get(p.window)?.department) || "" })),
    ...[...registry.windows.values()]
      .filter((w) => w.site === site.id)
      .map((w) => ({ kind: "window_unit", id: w.id, department: w.department })),
  ];
  return {
    from,
    points: subjects.map((s) =>
      schemaPoint(
        "score_monthly",
        ns(from),
        { ...place, department: s.department, subject_kind: s.kind, subject: s.id },
        {
          score: baseline + total(s.kind, s.id, -1) + total(s.kind, s.id, 1),
          deductions: total(s.kind, s.id, -1),
          bonuses: total(s.kind, s.id, 1),
          month,
        },
      ),
    ),
  };
}
