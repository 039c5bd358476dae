import { localTimeToUtc, weekday } from "@supervision/firmware-protocols";
import type { Person, Roster } from "../registry/schema.ts";

export interface Period {
  /** 0-based index of the roster's shift: each is a half day for absence. */
  index: number;
  start: number;
  end: number;
}

export type DayKind = { working: true } | { working: false; reason: "weekend" | "holiday" | string };

/** Whether `person` works on local `date` under `roster`: working days, holidays, make-up days, leave. */
export function dayKind(roster: Roster, person: Person, date: string): DayKind {
  const leave = roster.exceptions.find((e) => e.person === person.id && e.from <= date && date <= e.to);
  if (leave) return { working: false, reason: leave.reason };
  return calendarDayKind(roster, date);
}

/** Whether local `date` is a working day of the roster's calendar (its weekdays, holidays and make-up days), for anyone. */
export function calendarDayKind(roster: Roster, date: string): DayKind {
  if (roster.holidays.includes(date)) return { working: false, reason: "holiday" };
  if (roster.workdays.includes(date)) return { working: true };
  return roster.workingDays.includes(weekday(date) as Roster["workingDays"][number])
    ? { working: true }
    : { working: false, reason: "weekend" };
}

/** The roster's shift periods on local `date` in `tz`, in UTC; a shift whose end is before its start ends the next day. */
export function periods(roster: Roster, date: string, tz: string): Period[] {
  return roster.shifts.map((shift, index) => {
    const start = localTimeToUtc(date, shift.start, tz);
    let end = localTimeToUtc(date, shift.end, tz);
    if (end <= start) end = localTimeToUtc(nextDate(date), shift.end, tz);
    return { index, start, end };
  });
}

export function nextDate(date: string): string {
  return new Date(Date.parse(`${date}T12:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
}

/** A month (YYYY-MM) as UTC milliseconds from its first local midnight in `tz` to the next month's. */
export function monthRange(month: string, tz: string): { from: number; to: number } {
  const [y, m] = month.split("-").map(Number) as [number, number];
  const next = m === 12 ? `${y + 1}-01` : `${y}-${String(m + 1).padStart(2, "0")}`;
  return { from: localTimeToUtc(`${month}-01`, "00:00", tz), to: localTimeToUtc(`${next}-01`, "00:00", tz) };
}
