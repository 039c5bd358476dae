import type { InfluxDB } from "influx";
import type { Registry } from "../registry/schema.ts";
import { monthRange } from "../supervision/calendar.ts";
import { answerableFor, buildCases } from "./cases.ts";
import { ITEM_LOOKBACK_DAYS, queryItemEvents } from "./read.ts";

/** A person's overdue approval items in a calendar year, up to a month's end: how many, and the longest overdue. */
export interface OverdueRecord {
  overdue: number;
  /** Days of the limit's unit the longest-overdue of them was (or is) past its deadline. */
  longestDays: number;
}

/**
 * The overdue applications each person answers for (the item's responsible person, `handler.person`) whose deadline
 * fell in the year of `month`, up to that month's end: what the award exclusion (three overdue items in a year, or
 * one more than three days overdue) is judged by.
 */
export async function overdueInYear(
  influx: InfluxDB,
  registry: Registry,
  month: string,
  /** Each hall's database (influx.regions); default `influx`. */
  influxOf: (site: string) => InfluxDB = () => influx,
): Promise<Map<string, OverdueRecord>> {
  const out = new Map<string, OverdueRecord>();
  for (const site of registry.sites.values()) {
    if (![...(registry.items?.values() ?? [])].some((i) => i.site === site.id)) continue;
    const { from: yearFrom } = monthRange(`${month.slice(0, 4)}-01`, site.tz);
    const { to } = monthRange(month, site.tz);
    const events = await queryItemEvents(influxOf(site.id), {
      site: site.id,
      from: yearFrom - ITEM_LOOKBACK_DAYS * 86_400_000,
      to: to - 1,
    });
    for (const c of buildCases(registry, events, to - 1).cases) {
      if (c.timeliness !== "overdue" || !c.due || c.due.dueAt < yearFrom) continue;
      const who = answerableFor(registry, c);
      if (!who || who.kind === "window_unit") continue;
      const record = out.get(who.id) ?? { overdue: 0, longestDays: 0 };
      record.overdue++;
      record.longestDays = Math.max(record.longestDays, c.overdueDays);
      out.set(who.id, record);
    }
  }
  return out;
}

/** Out of the year's awards for overdue items: `items` or more overdue (0: never for this), or one past `days`. */
export function noAwardForItems(
  record: OverdueRecord | undefined,
  rules: { noAwardOverdueItems: number; noAwardOverdueDays: number },
): boolean {
  if (!record) return false;
  return (rules.noAwardOverdueItems > 0 && record.overdue >= rules.noAwardOverdueItems) || record.longestDays > rules.noAwardOverdueDays;
}
