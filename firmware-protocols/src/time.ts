/** Zone arithmetic shared by the simulators and the hub: store UTC, judge and schedule in the site's zone. */

/** Wall-clock fields of `t` in `tz`, read back as if they were UTC: their difference to `t` is the zone's offset then. */
function wallClockAsUtc(t: number, tz: string): number {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-US", {
      timeZone: tz,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    })
      .formatToParts(new Date(t))
      .map((p) => [p.type, Number(p.value)]),
  );
  return Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
}

/** UTC ms of a local wall-clock time (`date` YYYY-MM-DD, `hhmm` HH:MM) in `tz`; DST-correct. */
export function localTimeToUtc(date: string, hhmm: string, tz: string): number {
  const [y, m, d] = date.split("-").map(Number) as [number, number, number];
  const [hh, mm] = hhmm.split(":").map(Number) as [number, number];
  const wall = Date.UTC(y, m - 1, d, hh, mm);
  // Two passes: the offset at the guessed instant, then at the corrected one (they differ only around a DST change).
  let guess = wall - (wallClockAsUtc(wall, tz) - wall);
  guess = wall - (wallClockAsUtc(guess, tz) - guess);
  return guess;
}

/** The zone's offset from UTC at instant `t`, ms (whole seconds, as the zone database keeps them). */
export function zoneOffsetMs(t: number, tz: string): number {
  return wallClockAsUtc(t, tz) - Math.floor(t / 1000) * 1000;
}

/** The local calendar date (YYYY-MM-DD) of `t` in `tz`. */
export function localDate(t: number, tz: string): string {
  return new Date(wallClockAsUtc(t, tz)).toISOString().slice(0, 10);
}

/** Midnight of `now`'s calendar day in `tz`, as UTC ms. */
export function startOfLocalDay(now: number, tz: string): number {
  return localTimeToUtc(localDate(now, tz), "00:00", tz);
}

/** Three-letter weekday (mon..sun) of a YYYY-MM-DD date. */
export function weekday(date: string): string {
  return ["sun", "mon", "tue", "wed", "thu", "fri", "sat"][new Date(`${date}T12:00:00Z`).getUTCDay()]!;
}
