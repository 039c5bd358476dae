import { localDate } from "@supervision/firmware-protocols";
import type { Item, Registry, Roster } from "../registry/schema.ts";
import { type Clock, daysLeft, daysOverdue, type Deadline, deadline, type Suspension } from "./deadline.ts";

/** One item event as stored (`item_event`), the fields the case needs. */
export interface StoredItemEvent {
  /** UTC ms (the event's device time). */
  time: number;
  type: "accepted" | "step" | "suspended" | "resumed" | "completed";
  application: string;
  item: string;
  device: string;
  outcome?: "approved" | "refused" | undefined;
  window?: string | undefined;
  clerk?: string | undefined;
  step?: string | undefined;
  handler?: string | undefined;
  result?: string | undefined;
  reason?: string | undefined;
  txn?: string | undefined;
}

export type CaseState = "in_progress" | "suspended" | "completed";
/** How the promised limit was kept: completed with at least a day of its unit to spare, on its last day, after it. */
export type Timeliness = "early" | "on_time" | "overdue";

/** An application of an item, followed from its events: its deadline, where it stands at `now`, and its trail. */
export interface ItemCase {
  application: string;
  code: string;
  item: Item;
  acceptedAt: number;
  completedAt: number | undefined;
  outcome: "approved" | "refused" | undefined;
  reason: string | undefined;
  /** The handler of its last step, else the catalogue's handler. */
  handler: string;
  window: string | undefined;
  txns: string[];
  suspensions: Suspension[];
  state: CaseState;
  /** The promised limit's deadline (undefined while suspended); the legal limit's. */
  due: Deadline | undefined;
  legalDue: Deadline | undefined;
  /** Days of the limit's unit left at `now` (1 on the due date), and past it (at completion, for completed ones). */
  left: number;
  overdueDays: number;
  /** At `now` for open cases (on_time meaning not yet past the deadline), at completion for completed ones. */
  timeliness: Timeliness;
  /** Share of the promised limit used at `now` (0..1 and beyond when overdue). */
  used: number;
  events: StoredItemEvent[];
}

/** The clock of an item: its calendar roster in its hall's zone; undefined when the registry lacks either. */
export function clockOf(registry: Registry, item: Item): (Clock & { roster: Roster }) | undefined {
  const roster = registry.rosters.get(item.calendar);
  const site = registry.sites.get(item.site);
  return roster && site ? { roster, tz: site.tz } : undefined;
}

/**
 * Who answers for an overdue application in the scores: the item's responsible person (the catalogue's
 * `handler.person`), else the window that accepted it; undefined when the registry names neither.
 */
export function answerableFor(registry: Registry, c: ItemCase): { kind: "clerk" | "supervisor" | "window_unit"; id: string } | undefined {
  const person = c.item.handler.person === undefined ? undefined : registry.people.get(c.item.handler.person);
  if (person) return { kind: person.role, id: person.id };
  if (c.window !== undefined && registry.windows.has(c.window)) return { kind: "window_unit", id: c.window };
  return undefined;
}

/**
 * Groups events by application and follows each from its acceptance. The same event arriving twice (resent through
 * the API, replayed by a gateway, or reported by both the hall's queue system and the department's system) is one
 * fact: the earliest acceptance counts, a second completion changes nothing. Applications without an acceptance, or
 * of an item the catalogue lacks, are left out (`orphans` counts them).
 */
export function buildCases(registry: Registry, events: readonly StoredItemEvent[], now: number): { cases: ItemCase[]; orphans: number } {
  const byApplication = new Map<string, StoredItemEvent[]>();
  for (const e of events) {
    if (e.time > now) continue; // not yet happened at `now` (a run judging an earlier moment)
    const list = byApplication.get(e.application);
    if (list) list.push(e);
    else byApplication.set(e.application, [e]);
  }
  const cases: ItemCase[] = [];
  let orphans = 0;
  for (const [application, list] of byApplication) {
    list.sort((a, b) => a.time - b.time);
    const accepted = list.find((e) => e.type === "accepted");
    const item = accepted ? registry.items?.get(accepted.item) : undefined;
    const clock = item ? clockOf(registry, item) : undefined;
    if (!accepted || !item || !clock) {
      orphans++;
      continue;
    }
    cases.push(followCase(application, item, clock, list, accepted, now));
  }
  cases.sort((a, b) => a.acceptedAt - b.acceptedAt || a.application.localeCompare(b.application));
  return { cases, orphans };
}

function followCase(
  application: string,
  item: Item,
  clock: Clock,
  list: StoredItemEvent[],
  accepted: StoredItemEvent,
  now: number,
): ItemCase {
  const suspensions: Suspension[] = [];
  let completed: StoredItemEvent | undefined;
  let handler = item.handler.name;
  const txns = new Set<string>();
  for (const e of list) {
    if (e.time < accepted.time || completed) continue;
    if (e.txn) txns.add(e.txn);
    if (e.type === "step" && e.handler) handler = e.handler;
    const open = suspensions.at(-1);
    if (e.type === "suspended" && (!open || open.to !== undefined)) suspensions.push({ from: e.time, to: undefined });
    if (e.type === "resumed" && open && open.to === undefined) open.to = e.time;
    if (e.type === "completed") completed = e;
  }
  // A completion ends an open suspension: the clock ran until then.
  const open = suspensions.at(-1);
  if (completed && open && open.to === undefined) open.to = completed.time;
  const due = deadline(clock, item.promisedLimit, accepted.time, suspensions);
  const legalDue = deadline(clock, item.legalLimit, accepted.time, suspensions);
  const at = completed?.time ?? now;
  const unit = item.promisedLimit.unit;
  const total = item.promisedLimit.days + (due?.suspended ?? 0);
  // On the day of acceptance (not counted) the whole limit is left.
  const left = due ? Math.min(total, daysLeft(clock, unit, at, due.dueDate)) : item.promisedLimit.days;
  const overdueDays = due ? daysOverdue(clock, unit, at, due.dueDate) : 0;
  const late = due !== undefined && at >= due.dueAt;
  return {
    application,
    code: item.code,
    item,
    acceptedAt: accepted.time,
    completedAt: completed?.time,
    outcome: completed?.outcome,
    reason: completed?.reason,
    handler,
    window: accepted.window,
    txns: [...txns],
    suspensions,
    state: completed ? "completed" : suspensions.at(-1)?.to === undefined && suspensions.length > 0 ? "suspended" : "in_progress",
    due,
    legalDue,
    left,
    overdueDays,
    timeliness: late ? "overdue" : completed && due && localDate(completed.time, clock.tz) < due.dueDate ? "early" : "on_time",
    used: late ? 1 + overdueDays / Math.max(1, total) : (total - left) / Math.max(1, total),
    events: list,
  };
}
