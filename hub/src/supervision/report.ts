import type { InfluxDB } from "influx";
import { ns } from "../influx/query.ts";
import type { Registry } from "../registry/schema.ts";
import { INFLUXQL } from "../schema/index.ts";
import { dayKind, monthRange, nextDate } from "./calendar.ts";
import type { BulletinRules, ScoringRules } from "./settings.ts";
import type { Locale } from "@supervision/dashboards";
import { reportTexts } from "./messages.ts";
import { itemMonth, type ItemMonth } from "../items/counts.ts";
import { noAwardForItems, overdueInYear } from "../items/awards.ts";

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
  /** Approval items the clerk answers for that fell overdue this year, up to the month's end. */
  overdueItems: number;
  /**
   * Out of this year's awards (seed 002, art. 25): two verified complaints within 22 working days, or
   * `scoring.noAwardOverdueItems` overdue items this year, or one overdue by more than `scoring.noAwardOverdueDays`.
   */
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

/** A department's month: its clerks' and window units' average scores, ratings and points. */
export interface DepartmentLine {
  id: string;
  name: string;
  clerks: number;
  units: number;
  clerkAverage: number | null;
  unitAverage: number | null;
  rated: number;
  satisfaction: number | null;
  deductions: number;
  /** What departments are ranked by: the average score of their window units (the clerks' when they have none). */
  score: number | null;
}

/** A place in a ranking: competition ranks (1, 2, 2, 4), so equal scores share a place. */
export interface Ranked<T> {
  rank: number;
  line: T;
}

/** Who is commended and who is called in, and why, by the bulletin's rules (`supervision.bulletin`). */
export interface Circulation {
  commended: { kind: "clerk"; id: string; name: string; score: number; why: "top" }[];
  calledIn: { kind: "window_unit" | "department"; id: string; name: string; score: number; why: ("below" | "bottom")[] }[];
}

export interface MonthlyReport {
  month: string;
  from: number;
  to: number;
  clerks: ClerkLine[];
  units: UnitLine[];
  departments: DepartmentLine[];
  rates: RateLine[];
  /** Sites with a location or a check-in rule to judge by, in registry order. */
  sites: SiteLine[];
  byRule: { rule: string; count: number; points: number }[];
  ranking: { clerks: Ranked<ClerkLine>[]; units: Ranked<UnitLine>[]; departments: Ranked<DepartmentLine>[] };
  circulation: Circulation;
  bulletin: BulletinRules;
  /** Approval items' counts per hall and department (absent in reports built without them). */
  items?: ItemMonth;
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
export async function monthlyReport(
  influx: InfluxDB,
  registry: Registry,
  month: string,
  scoring: ScoringRules,
  bulletin: BulletinRules = { commendTop: 10, callInBelow: 70, callInBottom: 3 },
  /**
   * With influx.regions: every database holding sites' points, and each site's. Each query below groups by (or lists)
   * a clerk, person, window, subject or site, which lives in one site, so the databases' rows are concatenated.
   */
  regions?: { all: readonly InfluxDB[]; of(site: string): InfluxDB },
): Promise<MonthlyReport> {
  const tz = [...registry.sites.values()][0]?.tz ?? "UTC";
  const { from, to } = monthRange(month, tz);
  const range = `time >= ${ns(from)} AND time < ${ns(to)}`;
  const databases = regions?.all ?? [influx];
  const query = async <T>(text: string): Promise<T[]> => (await Promise.all(databases.map((db) => db.query<T>(text)))).flat();
  const [ratings, byPlace, attendance, deductions, complaints, unattended, presence, overdueItems] = await Promise.all([
    query<Row>(
      `SELECT sum(${rating.rated}) AS rated, sum(${rating.positive}) AS positive, sum(${rating.negative}) AS negative FROM ${rating.FROM} WHERE ${range} GROUP BY ${rating.clerk}`,
    ),
    query<Row>(
      `SELECT sum(${rating.rated}) AS rated, sum(${rating.positive}) AS positive FROM ${rating.FROM} WHERE ${range} GROUP BY ${rating.window}, ${rating.department}, ${rating.site}`,
    ),
    query<Row>(
      `SELECT count(${attendanceSeries.minutes}) AS n FROM ${attendanceSeries.FROM} WHERE ${range} GROUP BY ${attendanceSeries.person}, ${attendanceSeries.status}`,
    ),
    query<Row>(
      `SELECT ${deduction.subject_kind}, ${deduction.subject}, ${deduction.rule}, ${deduction.points} FROM ${deduction.FROM} WHERE ${range}`,
    ),
    query<Row & { time: { toISOString(): string } }>(
      `SELECT ${deduction.subject}, ${deduction.points} FROM ${deduction.FROM} WHERE time >= ${ns(from - 40 * 86_400_000)} AND time < ${ns(to)} AND ${deduction.rule} = 'complaint' AND ${deduction.subject_kind} != 'window_unit'`,
    ),
    query<Row>(
      `SELECT count(${warning.minutes}) AS n FROM ${warning.FROM} WHERE ${range} AND ${warning.rule} = 'unattended' GROUP BY ${warning.subject}`,
    ),
    query<Row>(
      `SELECT sum(${site_presence.count}) AS n FROM ${site_presence.FROM} WHERE ${range} GROUP BY ${site_presence.site}, ${site_presence.finding}`,
    ),
    overdueInYear(influx, registry, month, regions?.of),
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
    const overdue = overdueItems.get(p.id);
    const noAward =
      marks.some((d, i) => i > 0 && workingDaysBetween(registry, p.id, marks[i - 1]!, d) <= 22) || noAwardForItems(overdue, scoring);
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
      overdueItems: overdue?.overdue ?? 0,
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
  const rateLines = [...rates.values()];
  const departments = departmentLines(registry, clerks, units, rateLines);
  const ranking = {
    clerks: rank(
      clerks,
      (c) => c.score,
      (c) => c.satisfaction,
    ),
    units: rank(
      units,
      (u) => u.score,
      () => null,
    ),
    departments: rank(
      departments.filter((d) => d.score !== null),
      (d) => d.score!,
      (d) => d.satisfaction,
    ),
  };
  return {
    month,
    from,
    to,
    clerks,
    units,
    departments,
    rates: rateLines,
    sites: judgedSites.map((site) => ({
      id: site.id,
      name: site.name,
      outsideRadius: presenceOf(site.id, "outside_radius"),
      missedCheckins: presenceOf(site.id, "missed_checkin"),
    })),
    byRule: [...rules].map(([rule, v]) => ({ rule, ...v })).sort((a, b) => a.rule.localeCompare(b.rule)),
    ranking,
    circulation: circulation(ranking, bulletin),
    bulletin,
    items: await itemMonth(influx, registry, month, regions?.of),
  };
}

const mean = (xs: number[]) => (xs.length === 0 ? null : Math.round((xs.reduce((a, b) => a + b, 0) / xs.length) * 10) / 10);

function departmentLines(registry: Registry, clerks: ClerkLine[], units: UnitLine[], rates: RateLine[]): DepartmentLine[] {
  return [...registry.departments.values()].map((d) => {
    const own = clerks.filter((c) => c.department === d.id);
    const windows = units.filter((u) => u.department === d.id);
    const rate = rates.find((r) => r.level === "department" && r.id === d.id);
    const clerkAverage = mean(own.map((c) => c.score));
    const unitAverage = mean(windows.map((u) => u.score));
    return {
      id: d.id,
      name: d.name,
      clerks: own.length,
      units: windows.length,
      clerkAverage,
      unitAverage,
      rated: rate?.rated ?? 0,
      satisfaction: rate?.satisfaction ?? null,
      deductions: own.reduce((s, c) => s + c.deductions, 0) + windows.reduce((s, u) => s + u.deductions, 0),
      score: unitAverage ?? clerkAverage,
    };
  });
}

/** Highest score first; equal scores by satisfaction, then name; equal scores share a competition rank. */
function rank<T extends { name: string }>(lines: T[], score: (x: T) => number, satisfaction: (x: T) => number | null): Ranked<T>[] {
  const sorted = [...lines].sort(
    (a, b) => score(b) - score(a) || (satisfaction(b) ?? -1) - (satisfaction(a) ?? -1) || a.name.localeCompare(b.name, "zh-CN"),
  );
  return sorted.map((line) => ({ rank: sorted.findIndex((x) => score(x) === score(line)) + 1, line }));
}

/**
 * The seed city's practice as configurable rules: commend the clerks ranked in the top `commendTop`; call in the
 * window units and departments scoring below `callInBelow` or ranked in the bottom `callInBottom` (by score, so
 * units tied with the bottom ones are called in too).
 */
function circulation(ranking: MonthlyReport["ranking"], rules: BulletinRules): Circulation {
  const commended = ranking.clerks
    .filter((r) => r.rank <= rules.commendTop)
    .map((r) => ({ kind: "clerk" as const, id: r.line.id, name: r.line.name, score: r.line.score, why: "top" as const }));
  const calledIn: Circulation["calledIn"] = [];
  const callIn = <T extends { id: string; name: string }>(
    kind: "window_unit" | "department",
    list: Ranked<T>[],
    score: (x: T) => number,
  ) => {
    // The bottom N only means something when there are more than N to rank.
    const ascending = [...list].sort((a, b) => score(a.line) - score(b.line));
    const cut =
      rules.callInBottom > 0 && ascending.length > rules.callInBottom
        ? score(ascending[rules.callInBottom - 1]!.line)
        : Number.NEGATIVE_INFINITY;
    for (const r of list) {
      const why: ("below" | "bottom")[] = [];
      if (score(r.line) < rules.callInBelow) why.push("below");
      if (score(r.line) <= cut) why.push("bottom");
      if (why.length > 0) calledIn.push({ kind, id: r.line.id, name: r.line.name, score: score(r.line), why });
    }
  };
  callIn("window_unit", ranking.units, (u) => u.score);
  callIn("department", ranking.departments, (d) => d.score ?? 0);
  return { commended, calledIn };
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
const pct = (x: number | null) => (x === null ? "–" : `${(x * 100).toFixed(1)}%`);
const num = (x: number | null) => (x === null ? "–" : String(x));

export interface RenderOptions {
  locale?: Locale;
  /** A department's copy: its own clerks and windows in the detail tables; the rankings stay whole. */
  department?: string;
}

/**
 * The monthly bulletin as a printable A4 page (HTML, in Chinese by default): who is commended and who is called in,
 * the rankings of clerks, window units and departments, then the detail a department needs to check its figures.
 */
export function renderReport(report: MonthlyReport, registry: Registry, options: RenderOptions = {}): string {
  const t = reportTexts(options.locale);
  const c = t.columns;
  const only = options.department;
  const dept = (id: string) => esc(registry.departments.get(id)?.name ?? id);
  const site = (id: string) => esc(registry.sites.get(id)?.name ?? id);
  const row = (cells: (string | number)[], cls = "") =>
    `<tr${cls ? ` class="${cls}"` : ""}>${cells.map((x) => `<td>${x}</td>`).join("")}</tr>`;
  const head = (cells: string[]) => `<thead><tr>${cells.map((x) => `<th>${x}</th>`).join("")}</tr></thead>`;
  const table = (id: string, cells: string[], rows: string[]) =>
    `<table id="${id}">${head(cells)}<tbody>${rows.length ? rows.join("\n") : `<tr><td colspan="${cells.length}">${t.none}</td></tr>`}</tbody></table>`;

  const clerks = report.clerks.filter((x) => !only || x.department === only);
  const units = report.units.filter((x) => !only || x.department === only);
  const max = Math.max(100, ...clerks.map((x) => x.score));
  const bars = clerks
    .map((x, i) => {
      const w = Math.max(0, (x.score / max) * 360);
      const color = x.score >= 95 ? "#3a7d44" : x.score >= 85 ? "#d4a017" : "#b23b3b";
      return `<text x="0" y="${i * 22 + 15}" font-size="12">${esc(x.name)}</text><rect x="140" y="${i * 22 + 3}" width="${w.toFixed(1)}" height="16" fill="${color}"/><text x="${(146 + w).toFixed(1)}" y="${i * 22 + 15}" font-size="12">${x.score}</text>`;
    })
    .join("");
  const why = (w: "below" | "bottom") =>
    w === "below" ? t.calledInBelow(report.bulletin.callInBelow) : t.calledInBottom(report.bulletin.callInBottom);
  const kind = (k: "window_unit" | "department") => (k === "department" ? c.department : c.window);

  return `<!doctype html>
<html lang="${t.lang}"><head><meta charset="utf-8"><title>${esc(t.title(report.month))}</title>
<style>
@page{size:A4;margin:15mm}
body{font-family:"Noto Sans CJK SC","WenQuanYi Micro Hei","Microsoft YaHei",system-ui,sans-serif;margin:0 auto;max-width:180mm;color:#222;font-size:10.5pt}
h1{font-size:16pt;text-align:center;margin:.4em 0}h2{font-size:12pt;margin:1.2em 0 .4em;border-left:4px solid #b23b3b;padding-left:.4em}
table{border-collapse:collapse;width:100%;font-size:9pt}th,td{border:1px solid #999;padding:2px 4px;text-align:left}th{background:#eee}
.flag{color:#b23b3b;font-weight:bold}p.copy{text-align:right;color:#555}
@media print{h2{page-break-after:avoid}table{page-break-inside:auto}tr{page-break-inside:avoid}}
</style></head><body>
<h1>${esc(t.title(report.month))}</h1>
${only ? `<p class="copy">${esc(t.departmentOnly(registry.departments.get(only)?.name ?? only))}</p>` : ""}
<p>${esc(t.intro)}</p>
<h2>${t.sections.commended}</h2>
${table(
  "commended",
  [c.clerk, c.department, c.score, c.why],
  report.circulation.commended.map((x) =>
    row([
      esc(x.name),
      dept(report.clerks.find((k) => k.id === x.id)?.department ?? ""),
      x.score,
      esc(t.commendWhy(report.bulletin.commendTop)),
    ]),
  ),
)}
<h2>${t.sections.calledIn}</h2>
${table(
  "called-in",
  [c.level, c.name, c.score, c.why],
  report.circulation.calledIn.map((x) => row([kind(x.kind), esc(x.name), x.score, esc(x.why.map(why).join("；"))])),
)}
<h2>${t.sections.departmentRanking}</h2>
${table(
  "ranking-departments",
  [c.rank, c.department, c.clerks, c.units, c.clerkAverage, c.unitAverage, c.ratings, c.rate, c.deductions],
  report.ranking.departments.map(({ rank: r, line: d }) =>
    row(
      [r, esc(d.name), d.clerks, d.units, num(d.clerkAverage), num(d.unitAverage), d.rated, pct(d.satisfaction), d.deductions],
      d.id === only ? "own" : "",
    ),
  ),
)}
<h2>${t.sections.unitRanking}</h2>
${table(
  "ranking-units",
  [c.rank, c.window, c.department, c.site, c.unattended, c.deductions, c.score],
  report.ranking.units.map(({ rank: r, line: u }) =>
    row([r, esc(u.name), dept(u.department), site(u.site), u.unattended, u.deductions, u.score]),
  ),
)}
<h2>${t.sections.clerkRanking}</h2>
${table(
  "ranking-clerks",
  [c.rank, c.clerk, c.department, c.ratings, c.rate, c.deductions, c.bonuses, c.score],
  report.ranking.clerks.map(({ rank: r, line: k }) =>
    row([r, esc(k.name), dept(k.department), k.rated, pct(k.satisfaction), k.deductions, k.bonuses, k.score]),
  ),
)}
<h2>${t.sections.chart}</h2>
<svg width="560" height="${clerks.length * 22 + 8}" role="img" aria-label="${esc(t.sections.chart)}">${bars}</svg>
<h2>${t.sections.clerks}</h2>
${table(
  "clerks",
  [
    c.clerk,
    c.department,
    c.ratings,
    c.rate,
    c.dissatisfied,
    c.onTime,
    c.late,
    c.earlyLeave,
    c.absent,
    c.deductions,
    c.bonuses,
    c.score,
    c.awards,
  ],
  clerks.map((k) =>
    row([
      esc(k.name),
      dept(k.department),
      k.rated,
      pct(k.satisfaction),
      k.dissatisfied,
      k.attendance.on_time ?? 0,
      k.attendance.late ?? 0,
      k.attendance.early_leave ?? 0,
      k.attendance.absent ?? 0,
      k.deductions,
      k.bonuses,
      k.score,
      k.noAward ? `<span class="flag">${esc(t.noAward)}</span>` : "",
    ]),
  ),
)}
<h2>${t.sections.units}</h2>
${table(
  "units",
  [c.window, c.department, c.unattended, c.deductions, c.score],
  units.map((u) => row([esc(u.name), dept(u.department), u.unattended, u.deductions, u.score])),
)}
<h2>${t.sections.rates}</h2>
${table(
  "rates",
  [c.level, c.name, c.ratings, c.satisfied, c.rate],
  report.rates.map((r) => row([t.levels[r.level], esc(r.name), r.rated, r.positive, pct(r.satisfaction)])),
)}
${
  report.items && report.items.counts.length > 0
    ? `<h2>${t.items.title}</h2>
${table(
  "items",
  [...t.items.columns],
  report.items.counts
    .filter((x) => !only || x.department === only)
    .map((x) =>
      row([
        site(x.site),
        dept(x.department),
        x.accepted,
        x.completed,
        x.early,
        x.onTime,
        x.late,
        x.inProgress,
        x.overdue,
        x.refused,
        x.processingDays === null ? "-" : x.processingDays.toFixed(1),
        x.waitingMinutes === null ? "-" : x.waitingMinutes.toFixed(1),
        x.rated === 0 ? "-" : pct(x.positive / x.rated),
      ]),
    ),
)}`
    : ""
}
${
  report.items && report.items.items.some((x) => !only || x.department === only)
    ? `<h2>${t.itemSatisfaction.title}</h2>
${table(
  "item-satisfaction",
  [...t.itemSatisfaction.columns],
  report.items.items
    .filter((x) => !only || x.department === only)
    .sort((a, b) => b.negative - a.negative || a.positive / a.rated - b.positive / b.rated || a.item.localeCompare(b.item))
    .map((x) => row([site(x.site), dept(x.department), esc(x.name), x.rated, x.positive, x.negative, pct(x.positive / x.rated)])),
)}`
    : ""
}
${
  report.sites.length > 0
    ? `<h2>${t.sections.sitePresence}</h2>
${table(
  "site-presence",
  [c.site, c.outsideRadius, c.missedCheckins],
  report.sites.map((x) => row([esc(x.name), x.outsideRadius, x.missedCheckins])),
)}`
    : ""
}
<h2>${t.sections.byRule}</h2>
${table(
  "by-rule",
  [c.rule, c.cases, c.points],
  report.byRule.map((r) => row([esc(t.rules[r.rule] ?? r.rule), r.count, r.points])),
)}
</body></html>
`;
}
