import { localDate, localTimeToUtc } from "@supervision/firmware-protocols";
import type { Registry, Site } from "../registry/schema.ts";
import { dayKind, monthRange, nextDate, periods } from "./calendar.ts";
import type { DaySpan, OnDuty, Placement } from "./rules/rule.ts";

/** A site's place in the registry's regions and towns: the tags of every point about it. */
export function placementOf(registry: Registry, site: Site): Placement {
  return { region: registry.towns.get(site.town)?.region ?? "", town: site.town, site: site.id };
}

/**
 * Who works at `site` on local `date` (roster working days, holidays, make-up days and leave), with their shift
 * periods, and the day's spans; `span` is undefined when nobody works, and then nothing is judged.
 */
export function dayOnDuty(
  registry: Registry,
  site: Site,
  date: string,
  earlySigninMinutes: number,
  /** A day whose first shift starts before this (when the site's devices were first heard) is not judged. */
  judgedFrom = Number.NEGATIVE_INFINITY,
): { onDuty: Map<string, OnDuty>; span: DaySpan | undefined } {
  const onDuty = new Map<string, OnDuty>();
  let from = Number.POSITIVE_INFINITY;
  let to = 0;
  let firstStart = Number.POSITIVE_INFINITY;
  for (const person of registry.people.values()) {
    if (person.site !== site.id) continue;
    const roster = registry.rosters.get(person.roster);
    if (!roster || !dayKind(roster, person, date).working) continue;
    const ps = periods(roster, date, site.tz);
    if (ps.length === 0) continue;
    for (const p of ps) {
      from = Math.min(from, p.start - earlySigninMinutes * 60_000);
      to = Math.max(to, p.end);
    }
    firstStart = Math.min(firstStart, ps[0]!.start);
    // Not judged, but the day's span stays: what an earlier run derived for it is replaced by nothing.
    if (ps[0]!.start >= judgedFrom) onDuty.set(person.id, { person, roster, periods: ps });
  }
  if (to === 0) return { onDuty, span: undefined };
  return {
    onDuty,
    span: {
      from,
      to,
      dayFrom: localTimeToUtc(date, "00:00", site.tz),
      dayTo: localTimeToUtc(nextDate(date), "00:00", site.tz),
      monthFrom: monthRange(date.slice(0, 7), site.tz).from,
      firstStart,
    },
  };
}

/** The local dates to (re)judge at `now`: today, and yesterday too, for sign-ins that arrive late from offline terminals. */
export function datesToJudge(now: number, tz: string): string[] {
  const today = localDate(now, tz);
  const yesterday = localDate(now - 86_400_000, tz);
  return yesterday === today ? [today] : [yesterday, today];
}
