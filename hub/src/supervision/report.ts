import type { InfluxDB } from "influx";
import { ns } from "../influx/query.ts";
import type { Registry } from "../registry/schema.ts";
import { INFLUXQL } from "../schema/index.ts";
import { dayKind, monthRange, nextDate } from "./calendar.ts";
import type { ScoringRules } from "./settings.ts";

export { monthRange } from "./calendar.ts";

const { rating, attendance: attendanceSeries, deduction, warning, site_presence } = INFLUXQL;

export interface ClerkLine {
  id: string;
  name: string;
  site: string;
  department: string;
  rated: number;
  satisfaction: number | null;
  dissatisfied: number;
  attendance: Record<string, number>;
  deductions: number;
  bonuses: number;
  score: number;
  /** Two verified complaints within 22 working days: out of this year's awards. */
  noAward: boolean;
}

export interface UnitLine {
  id: string;
  name: string;
  site: string;
  department: string;
  unattended: number;
  deductions: number;
  score: number;
}

/** A satisfaction rate at one level of the hall's organisation. */
export interface RateLine {
  level: "window" | "department" | "site";
  id: string;
  name: string;
  rated: number;
  positive: number;
  satisfaction: number | null;
}

/** What a site's sign-ins proved in the month (site-presence rule): sign-ins outside its radius, check-ins missed. */
export interface SiteLine {
  id: string;
  name: string;
  outsideRadius: number;
  missedCheckins: number;
}

export interface MonthlyReport {
  month: string;
  from: number;
  to: number;
  clerks: ClerkLine[];
  units: UnitLine[];
  rates: RateLine[];
  /** Sites with a location or a check-in rule to judge by, in registry order. */
  sites: SiteLine[];
  byRule: { rule: string; count: number; points: number }[];
}

type Row = Record<string, unknown>;

/** Working days from `a` to `b` (YYYY-MM-DD, inclusive) under the person's roster. */
function workingDaysBetween(registry: Registry, personId: string, a: string, b: string): number {
  const person = registry.people.get(personId);
  const roster = person && registry.rosters.get(person.roster);
  if (!person || !roster) return Number.POSITIVE_INFINITY;
  let n = 0;
  for (let d = a; d <= b; d = nextDate(d)) if (dayKind(roster, person, d).working) n++;
  return n;
}

/** The month's figures per clerk and window unit, read from the raw and derived series in InfluxDB. */
export async function monthlyReport(influx: InfluxDB, registry: Registry, month: string, scoring: ScoringRules): Promise<MonthlyReport> {
  const tz = [...registry.sites.values()][0]?.tz ?? "UTC";
  const { from, to } = monthRange(month, tz);
  const range = `time >= ${ns(from)} AND time < ${ns(to)}`;
  const [ratings, byPlace, attendance, deductions, complaints, unattended, presence] = await Promise.all([
    influx.query<Row>(
      `SELECT sum(${rating.rated}) AS rated, sum(${rating.positive}) AS positive, sum(${rating.negative}) AS negative FROM ${rating.FROM} WHERE ${range} GROUP BY ${rating.clerk}`,
    ),
    influx.query<Row>(
      `SELECT sum(${rating.rated}) AS rated, sum(${rating.positive}) AS positive FROM ${rating.FROM} WHERE ${range} GROUP BY ${rating.window}, ${rating.department}, ${rating.site}`,
    ),
    influx.query<Row>(
      `SELECT count(${attendanceSeries.minutes}) AS n FROM ${attendanceSeries.FROM} WHERE ${range} GROUP BY ${attendanceSeries.person}, ${attendanceSeries.status}`,
    ),
    influx.query<Row>(
      `SELECT ${deduction.subject_kind}, ${deduction.subject}, ${deduction.rule}, ${deduction.points} FROM ${deduction.FROM} WHERE ${range}`,
    ),
    influx.query<Row & { time: { toISOString(): string } }>(
      `SELECT ${deduction.subject}, ${deduction.points} FROM ${deduction.FROM} WHERE time >= ${ns(from - 40 * 86_400_000)} AND time < ${ns(to)} AND ${deduction.rule} = 'complaint' AND ${deduction.subject_kind} != 'window_unit'`,
    ),
    influx.query<Row>(
      `SELECT count(${warning.minutes}) AS n FROM ${warning.FROM} WHERE ${range} AND ${warning.rule} = 'unattended' GROUP BY ${warning.subject}`,
    ),
    influx.query<Row>(
      `SELECT sum(${site_presence.count}) AS n FROM ${site_presence.FROM} WHERE ${range} GROUP BY ${site_presence.site}, ${site_presence.finding}`,
    ),
  ]);
  const sumFor = (kind: string, subject: string, sign: 1 | -1) =>
    deductions
      .filter(
        (d) => d.subject === subject && (kind === "window_unit" ? d.subject_kind === "window_unit" : d.subject_kind !== "window_unit"),
      )
      .reduce((s, d) => s + (Math.sign(Number(d.points)) === sign ? Number(d.points) : 0), 0);

  const clerks: ClerkLine[] = [...registry.people.values()].map((p) => {
    const r = ratings.find((x) => x.clerk === p.id);
    const rated = Number(r?.rated ?? 0);
    const marks = complaints
      .filter((c) => c.subject === p.id)
      .map((c) => c.time.toISOString().slice(0, 10))
      .sort();
    const noAward = marks.some((d, i) => i > 0 && workingDaysBetween(registry, p.id, marks[i - 1]!, d) <= 22);
    const minus = sumFor("clerk", p.id, -1);
    const plus = sumFor("clerk", p.id, 1);
    return {
      id: p.id,
      name: p.name,
      site: p.site,
      department: (p.window && registry.windows.get(p.window)?.department) || "",
      rated,
      satisfaction: rated > 0 ? Number(r?.positive ?? 0) / rated : null,
      dissatisfied: Number(r?.negative ?? 0),
      attendance: Object.fromEntries(attendance.filter((a) => a.person === p.id).map((a) => [String(a.status), Number(a.n)])),
      deductions: minus,
      bonuses: plus,
      score: scoring.baseline + minus + plus,
      noAward,
    };
  });
  const units: UnitLine[] = [...registry.windows.values()].map((w) => {
    const minus = sumFor("window_unit", w.id, -1) + sumFor("window_unit", w.id, 1);
    return {
      id: w.id,
      name: w.name,
      site: w.site,
      department: w.department,
      unattended: Number(unattended.find((u) => u.subject === w.id)?.n ?? 0),
      deductions: minus,
      score: scoring.baseline + minus,
    };
  });
  const rules = new Map<string, { count: number; points: number }>();
  for (const d of deductions) {
    const e = rules.get(String(d.rule)) ?? { count: 0, points: 0 };
    rules.set(String(d.rule), { count: e.count + 1, points: e.points + Number(d.points) });
  }
  const rates = new Map<string, RateLine>();
  for (const r of byPlace) {
    for (const level of ["window", "department", "site"] as const) {
      const id = r[level] ? String(r[level]) : "";
      if (!id) continue;
      const name =
        (level === "window"
          ? registry.windows.get(id)?.name
          : level === "department"
            ? registry.departments.get(id)?.name
            : registry.sites.get(id)?.name) ?? id;
      const line = rates.get(`${level}/${id}`) ?? { level, id, name, rated: 0, positive: 0, satisfaction: null };
      line.rated += Number(r.rated ?? 0);
      line.positive += Number(r.positive ?? 0);
      line.satisfaction = line.rated > 0 ? line.positive / line.rated : null;
      rates.set(`${level}/${id}`, line);
    }
  }
  const presenceOf = (site: string, finding: string) => Number(presence.find((p) => p.site === site && p.finding === finding)?.n ?? 0);
  const checkinRosters = new Set([...registry.rosters.values()].filter((r) => r.checkins).map((r) => r.id));
  const judgedSites = [...registry.sites.values()].filter(
    (site) => site.location || [...registry.people.values()].some((p) => p.site === site.id && checkinRosters.has(p.roster)),
  );
  return {
    month,
    from,
    to,
    clerks,
    units,
    rates: [...rates.values()],
    sites: judgedSites.map((site) => ({
      id: site.id,
      name: site.name,
      outsideRadius: presenceOf(site.id, "outside_radius"),
      missedCheckins: presenceOf(site.id, "missed_checkin"),
    })),
    byRule: [...rules].map(([rule, v]) => ({ rule, ...v })).sort((a, b) => a.rule.localeCompare(b.rule)),
  };
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
const pct = (x: number | null) => (x === null ? "–" : `${(x * 100).toFixed(1)}%`);

/** A printable HTML page: a bar chart of clerk scores (inline SVG) and the tables a supervision office circulates. */
export function renderReport(report: MonthlyReport, registry: Registry): string {
  const max = Math.max(100, ...report.clerks.map((c) => c.score));
  const bars = report.clerks
    .map((c, i) => {
      const w = Math.max(0, (c.score / max) * 360);
      const color = c.score >= 95 ? "#3a7d44" : c.score >= 85 ? "#d4a017" : "#b23b3b";
      return `<text x="0" y="${i * 22 + 15}" font-size="12">${esc(c.name)}</text><rect x="140" y="${i * 22 + 3}" width="${w.toFixed(1)}" height="16" fill="${color}"/><text x="${(146 + w).toFixed(1)}" y="${i * 22 + 15}" font-size="12">${c.score}</text>`;
    })
    .join("");
  const dept = (id: string) => esc(registry.departments.get(id)?.name ?? id);
  const row = (cells: (string | number)[]) => `<tr>${cells.map((c) => `<td>${typeof c === "number" ? c : c}</td>`).join("")}</tr>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Supervision report ${esc(report.month)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222}h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.6em}
table{border-collapse:collapse;width:100%;font-size:.9em}th,td{border:1px solid #bbb;padding:.3em .5em;text-align:left}th{background:#eee}
td:nth-child(n+3){text-align:right}.flag{color:#b23b3b;font-weight:bold}@media print{body{margin:1cm}h2{page-break-after:avoid}}
</style></head><body>
<h1>Electronic supervision: monthly assessment, ${esc(report.month)}</h1>
<p>Scores start at the baseline and move by deductions and bonuses (district rules). Dissatisfied ratings count only once verified.</p>
<h2>Clerk scores</h2>
<svg width="560" height="${report.clerks.length * 22 + 8}" role="img" aria-label="clerk scores">${bars}</svg>
<h2>Clerks</h2>
<table><tr><th>Clerk</th><th>Department</th><th>Ratings</th><th>Satisfied</th><th>Dissatisfied</th><th>On time</th><th>Late</th><th>Early leave</th><th>Absent (half days)</th><th>Deductions</th><th>Bonuses</th><th>Score</th><th>Awards</th></tr>
${report.clerks
  .map((c) =>
    row([
      esc(c.name),
      dept(c.department),
      c.rated,
      pct(c.satisfaction),
      c.dissatisfied,
      c.attendance.on_time ?? 0,
      c.attendance.late ?? 0,
      c.attendance.early_leave ?? 0,
      c.attendance.absent ?? 0,
      c.deductions,
      c.bonuses,
      c.score,
      c.noAward ? '<span class="flag">excluded: two complaints within 22 working days</span>' : "",
    ]),
  )
  .join("\n")}
</table>
<h2>Window units</h2>
<table><tr><th>Window</th><th>Department</th><th>Unattended</th><th>Deductions</th><th>Score</th></tr>
${report.units.map((u) => row([esc(u.name), dept(u.department), u.unattended, u.deductions, u.score])).join("\n")}
</table>
<h2>Satisfaction by window, department and hall</h2>
<table><tr><th>Level</th><th>Name</th><th>Ratings</th><th>Satisfied</th><th>Rate</th></tr>
${report.rates.map((r) => row([r.level === "site" ? "hall / site" : r.level, esc(r.name), r.rated, r.positive, pct(r.satisfaction)])).join("\n")}
</table>
<h2>Site presence: sign-ins outside the site, missed check-ins</h2>
<table><tr><th>Site</th><th>Sign-ins outside the radius</th><th>Missed check-ins</th></tr>
${report.sites.map((x) => row([esc(x.name), x.outsideRadius, x.missedCheckins])).join("\n")}
</table>
<h2>Deductions and bonuses by rule</h2>
<table><tr><th>Rule</th><th>Cases</th><th>Points</th></tr>
${report.byRule.map((r) => row([esc(r.rule), r.count, r.points])).join("\n")}
</table>
</body></html>
`;
}
