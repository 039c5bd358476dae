import { z } from "zod";
import type { WarningEvent } from "../controller/extension.ts";
import type { Row } from "../influx/query.ts";

/**
 * The supervision centre's handling record of a warning: acknowledged (someone has seen it), handled (what was done,
 * in a note), closed. Every step is a `warning_action` point with who did it and when, kept as the written record
 * the seeds' centres keep; the warning point itself carries its current state so one query shows both.
 */
export const HANDLING_STATES = ["open", "acknowledged", "handled", "closed"] as const;
export type HandlingState = (typeof HANDLING_STATES)[number];
export const HANDLING_ACTIONS = ["acknowledge", "handle", "close"] as const;
export type HandlingAction = (typeof HANDLING_ACTIONS)[number];

export const HandlingSettings = z.strictObject({
  /** A warning nobody has acknowledged this long after it was raised is overdue. */
  acknowledgeWithinMinutes: z.int().min(1).max(10_080).default(30),
  /** A warning not handled (or closed) this long after it was raised is overdue. */
  handleWithinHours: z.int().min(1).max(720).default(24),
});
export type HandlingSettings = z.infer<typeof HandlingSettings>;

/** Where a warning stands, by whom and when its last step was taken. */
export interface Handling {
  state: HandlingState;
  by: string;
  at: number;
  note: string;
}

const ACTION_STATE: Record<HandlingAction, HandlingState> = { acknowledge: "acknowledged", handle: "handled", close: "closed" };
/** The states each action may follow: handling implies having seen it; only a handled warning is closed. */
const ALLOWED_FROM: Record<HandlingAction, readonly HandlingState[]> = {
  acknowledge: ["open"],
  handle: ["open", "acknowledged"],
  close: ["handled"],
};

/** The state after `action`, or why the action does not apply. */
export function nextState(current: HandlingState, action: HandlingAction): { state: HandlingState } | { error: string } {
  if (ALLOWED_FROM[action].includes(current)) return { state: ACTION_STATE[action] };
  const hint =
    action === "close"
      ? "handle it first (with a note saying what was done)"
      : current === "closed"
        ? "it is closed"
        : `it is already ${current}`;
  return { error: `cannot ${action} a warning that is ${current}: ${hint}` };
}

/**
 * A warning's id: its site, rule, subject and start time (ms), joined by ':' (ids have no ':'). Stable across
 * runs of the rules, which rewrite the same warning at the same time.
 */
export const warningId = (w: Pick<WarningEvent, "site" | "rule" | "subject" | "ts">): string => `${w.site}:${w.rule}:${w.subject}:${w.ts}`;

const ID = /^([a-z0-9][a-z0-9_.-]{0,63}):([a-z0-9_]{1,64}):([a-z0-9][a-z0-9_.-]{0,63}):(\d{1,15})$/;
export function parseWarningId(id: string): { site: string; rule: string; subject: string; ts: number } | undefined {
  const m = ID.exec(id);
  return m ? { site: m[1]!, rule: m[2]!, subject: m[3]!, ts: Number(m[4]) } : undefined;
}

/** The current handling of each warning (by id) from its `warning_action` rows, in time order. */
export function handlingOf(site: string, actions: Row[]): Map<string, Handling> {
  const out = new Map<string, Handling>();
  const sorted = [...actions].sort((a, b) => a.time.getTime() - b.time.getTime());
  for (const a of sorted) {
    const action = String(a.action) as HandlingAction;
    if (!HANDLING_ACTIONS.includes(action)) continue;
    const id = warningId({ site, rule: String(a.rule), subject: String(a.subject), ts: Number(a.warning_ts) });
    out.set(id, { state: ACTION_STATE[action], by: String(a.by ?? ""), at: a.time.getTime(), note: String(a.note ?? "") });
  }
  return out;
}

/** Is a warning raised at `raisedAt` overdue for its next step at `now`? */
export function handlingOverdue(raisedAt: number, handling: Handling | undefined, now: number, limits: HandlingSettings): boolean {
  const state = handling?.state ?? "open";
  if (state === "handled" || state === "closed") return false;
  if (state === "open" && now - raisedAt > limits.acknowledgeWithinMinutes * 60_000) return true;
  return now - raisedAt > limits.handleWithinHours * 3_600_000;
}
