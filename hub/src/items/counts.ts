import type { InfluxDB } from "influx";
import { lit, ns, type Row } from "../influx/query.ts";
import type { Registry } from "../registry/schema.ts";
import { INFLUXQL } from "../schema/index.ts";
import { monthRange } from "../supervision/calendar.ts";
import { buildCases, type ItemCase } from "./cases.ts";
import { ITEM_LOOKBACK_DAYS, queryItemEvents, queryQueueEvents, type StoredQueueEvent } from "./read.ts";

const { rating } = INFLUXQL;

/**
 * A month's figures of approval items, for one department of one hall (README.md, "Monthly counts"):
 * - accepted: applications accepted in the month; completed / refused: completed (refused) in the month;
 * - early / onTime / late: the completed ones by how they kept the promised limit;
 * - inProgress: accepted by the month's end and not completed then; overdue: completed late in the month plus those
 *   in progress at its end past their deadline;
 * - processingDays: mean days (24 h) from acceptance to completion of the completed ones;
 * - waitingMinutes: mean minutes from ticket to call of the month's transactions at the department's windows;
 * - rated / positive: ratings of the month tied (by transaction) to the department's applications.
 */
export interface ItemCounts {
  site: string;
  department: string;
  accepted: number;
  completed: number;
  refused: number;
  early: number;
  onTime: number;
  late: number;
  inProgress: number;
  overdue: number;
  processingDays: number | null;
  waitingMinutes: number | null;
  rated: number;
  positive: number;
}

/** Satisfaction with one item in the month, from the ratings tied to its applications' transactions. */
export interface ItemSatisfaction {
  site: string;
  department: string;
  item: string;
  name: string;
  rated: number;
  positive: number;
  /** Dissatisfied ratings: what the item was complained about. */
  negative: number;
}

export interface ItemMonth {
  month: string;
  counts: ItemCounts[];
  items: ItemSatisfaction[];
}

const mean = (values: number[]): number | null => (values.length === 0 ? null : values.reduce((a, b) => a + b, 0) / values.length);

/**
 * Counts the month of every hall in the registry from InfluxDB: `influx`, or with influx.regions the database of
 * each hall's region (`influxOf`).
 */
export async function itemMonth(
  influx: InfluxDB,
  registry: Registry,
  month: string,
  influxOf: (site: string) => InfluxDB = () => influx,
): Promise<ItemMonth> {
  const out: ItemMonth = { month, counts: [], items: [] };
  for (const site of registry.sites.values()) {
    if (site.kind !== "hall" || ![...(registry.items?.values() ?? [])].some((i) => i.site === site.id)) continue;
    const { from, to } = monthRange(month, site.tz);
    const db = influxOf(site.id);
    const [events, queue, ratings] = await Promise.all([
      queryItemEvents(db, { site: site.id, from: from - ITEM_LOOKBACK_DAYS * 86_400_000, to: to - 1 }),
      queryQueueEvents(db, { site: site.id, from, to: to - 1 }),
      db.query<Row>(
        `SELECT ${rating.txn}, ${rating.rated}, ${rating.positive}, ${rating.negative} FROM ${rating.FROM} WHERE ${rating.site} = ${lit(site.id)} AND time >= ${ns(from)} AND time < ${ns(to)} AND ${rating.txn} != ''`,
      ),
    ]);
    const { cases } = buildCases(registry, events, to - 1);
    const figures = countMonth(
      registry,
      site.id,
      cases,
      queue,
      ratings.map((r) => ({ txn: String(r.txn), rated: Number(r.rated), positive: Number(r.positive), negative: Number(r.negative ?? 0) })),
      from,
      to,
    );
    out.counts.push(...figures.counts);
    out.items.push(...figures.items);
  }
  return out;
}

/** The month's counts from the cases (followed to the month's end), the queue's transactions and the ratings. Pure. */
export function countMonth(
  registry: Registry,
  site: string,
  cases: readonly ItemCase[],
  queue: readonly StoredQueueEvent[],
  ratings: readonly { txn: string; rated: number; positive: number; negative: number }[],
  from: number,
  to: number,
): { counts: ItemCounts[]; items: ItemSatisfaction[] } {
  const inMonth = (t: number | undefined) => t !== undefined && t >= from && t < to;
  const byDepartment = new Map<string, ItemCounts>();
  const processing = new Map<string, number[]>();
  const row = (department: string): ItemCounts => {
    let r = byDepartment.get(department);
    if (!r) {
      r = {
        site,
        department,
        accepted: 0,
        completed: 0,
        refused: 0,
        early: 0,
        onTime: 0,
        late: 0,
        inProgress: 0,
        overdue: 0,
        processingDays: null,
        waitingMinutes: null,
        rated: 0,
        positive: 0,
      };
      byDepartment.set(department, r);
    }
    return r;
  };
  for (const d of registry.departments.keys())
    if ([...(registry.items?.values() ?? [])].some((i) => i.site === site && i.department === d)) row(d);
  // Transactions tie ratings to applications: the queue's own, and those the item events name.
  const txnCase = new Map<string, ItemCase>();
  const byApplication = new Map(cases.map((c) => [c.application, c]));
  for (const c of cases) for (const t of c.txns) txnCase.set(t, c);
  for (const q of queue) {
    const c = q.application === undefined ? undefined : byApplication.get(q.application);
    if (c) txnCase.set(q.txn, c);
  }
  for (const c of cases) {
    const r = row(c.item.department);
    if (inMonth(c.acceptedAt)) r.accepted++;
    if (inMonth(c.completedAt)) {
      r.completed++;
      if (c.outcome === "refused") r.refused++;
      if (c.timeliness === "early") r.early++;
      else if (c.timeliness === "on_time") r.onTime++;
      else {
        r.late++;
        r.overdue++;
      }
      processing.set(c.item.department, [...(processing.get(c.item.department) ?? []), (c.completedAt! - c.acceptedAt) / 86_400_000]);
    }
    if (c.acceptedAt < to && c.completedAt === undefined) {
      r.inProgress++;
      if (c.timeliness === "overdue") r.overdue++;
    }
  }
  for (const [department, days] of processing) row(department).processingDays = mean(days);
  // Waiting: ticket to call, per transaction, at the windows of each department.
  const tickets = new Map<string, number>();
  for (const q of queue) if (q.type === "ticket") tickets.set(q.txn, q.time);
  const waits = new Map<string, number[]>();
  for (const q of queue) {
    const taken = tickets.get(q.txn);
    const department = q.window ? registry.windows.get(q.window)?.department : undefined;
    if (q.type !== "called" || taken === undefined || department === undefined) continue;
    waits.set(department, [...(waits.get(department) ?? []), (q.time - taken) / 60_000]);
  }
  for (const [department, minutes] of waits) row(department).waitingMinutes = mean(minutes);
  const items = new Map<string, ItemSatisfaction>();
  for (const r of ratings) {
    const c = txnCase.get(r.txn);
    if (!c) continue;
    const d = row(c.item.department);
    d.rated += r.rated;
    d.positive += r.positive;
    const s = items.get(c.code) ?? {
      site,
      department: c.item.department,
      item: c.code,
      name: c.item.name,
      rated: 0,
      positive: 0,
      negative: 0,
    };
    s.rated += r.rated;
    s.positive += r.positive;
    s.negative += r.negative;
    items.set(c.code, s);
  }
  return { counts: [...byDepartment.values()], items: [...items.values()] };
}
