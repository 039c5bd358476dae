import { localDate, localTimeToUtc } from "@supervision/firmware-protocols";
import type { Roster, TimeLimit } from "../registry/schema.ts";
import { calendarDayKind, nextDate } from "../supervision/calendar.ts";

/**
 * Time limits of approval items, counted on the hall's calendar (the roster named by the item's `calendar`: its
 * working weekdays, public holidays and make-up working days, the same calendar attendance judges by).
 *
 * - The day of acceptance is not counted (a period starts the day after the event that opens it): a limit of 3
 *   working days accepted on a Friday runs Monday, Tuesday, Wednesday; with Monday a public holiday, Tuesday to
 *   Thursday. The item is due at the end of its last day (local midnight in the hall's zone).
 * - Calendar-day limits count every day.
 * - A suspension stops the clock: each day from the day it starts up to (not including) the day it is resumed moves
 *   the deadline by one day of the limit's unit (a working-day limit skips only the working days among them). A
 *   suspension not yet resumed has no end: the deadline is unknown until it is.
 */

export interface Suspension {
  /** UTC ms */
  from: number;
  /** UTC ms; undefined while still suspended. */
  to: number | undefined;
}

export interface Clock {
  roster: Roster;
  tz: string;
}

export const isWorkingDay = (roster: Roster, date: string): boolean => calendarDayKind(roster, date).working;

/** Counts the days of `unit` in the dates `from` (inclusive) to `to` (exclusive). */
export function daysBetween(clock: Clock, unit: TimeLimit["unit"], from: string, to: string): number {
  let n = 0;
  for (let d = from; d < to; d = nextDate(d)) if (unit === "calendar" || isWorkingDay(clock.roster, d)) n++;
  return n;
}

/** The date `days` days of `unit` after `date` (the start date not counted). */
export function addDays(clock: Clock, unit: TimeLimit["unit"], date: string, days: number): string {
  let d = date;
  let left = days;
  // A calendar that never works (no working weekday and no make-up day) would loop for ever: ten years is the bound.
  for (let guard = 0; left > 0 && guard < 3660 + days; guard++) {
    d = nextDate(d);
    if (unit === "calendar" || isWorkingDay(clock.roster, d)) left--;
  }
  return d;
}

/** The days of `unit` a suspension stops the clock for: its start date up to its resume date (exclusive). */
export function suspendedDays(clock: Clock, unit: TimeLimit["unit"], s: Suspension & { to: number }): number {
  return daysBetween(clock, unit, localDate(s.from, clock.tz), localDate(s.to, clock.tz));
}

export interface Deadline {
  /** The last local date of the limit (YYYY-MM-DD). */
  dueDate: string;
  /** The end of that date: local midnight, UTC ms. */
  dueAt: number;
  /** Days the suspensions added. */
  suspended: number;
}

/**
 * The deadline of an application accepted at `acceptedAt` under `limit`, moved by its finished suspensions;
 * undefined while one is still open (the clock is stopped).
 */
export function deadline(clock: Clock, limit: TimeLimit, acceptedAt: number, suspensions: readonly Suspension[]): Deadline | undefined {
  let suspended = 0;
  for (const s of suspensions) {
    if (s.to === undefined) return undefined;
    suspended += suspendedDays(clock, limit.unit, { from: s.from, to: s.to });
  }
  const dueDate = addDays(clock, limit.unit, localDate(acceptedAt, clock.tz), limit.days + suspended);
  return { dueDate, dueAt: localTimeToUtc(nextDate(dueDate), "00:00", clock.tz), suspended };
}

/**
 * Working days (or calendar days) left at `now` until the due date, counting today: 1 on the due date itself, 0 once
 * it has passed.
 */
export function daysLeft(clock: Clock, unit: TimeLimit["unit"], now: number, dueDate: string): number {
  const today = localDate(now, clock.tz);
  return today > dueDate ? 0 : daysBetween(clock, unit, today, nextDate(dueDate));
}

/** Days of `unit` past the due date at `now` (or at completion): 1 on the first such day after it, 0 until then. */
export function daysOverdue(clock: Clock, unit: TimeLimit["unit"], at: number, dueDate: string): number {
  const day = localDate(at, clock.tz);
  return day <= dueDate ? 0 : daysBetween(clock, unit, nextDate(dueDate), nextDate(day));
}
