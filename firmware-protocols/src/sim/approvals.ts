import { localDate, localTimeToUtc, weekday } from "../time.ts";
import { generateDay, seededRandom } from "./day.ts";
import type { Scenario } from "./scenario.ts";

/** One event a department's approval system reports to the hub's API (PROTOCOL.md 2.4 `item`, without v, deviceId, seq). */
export interface ApprovalEvent {
  at: number;
  systemId: string;
  event: Record<string, unknown> & { type: string; applicationNo: string; itemCode: string; ts: number };
}

const MINUTE = 60_000;

function hashSeed(...parts: (string | number)[]): number {
  let h = 2166136261;
  for (const ch of parts.join("|")) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
  return h >>> 0;
}

/** The next calendar date after `date` (YYYY-MM-DD): date arithmetic, no zone needed. */
export function nextDate(date: string): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
}

/**
 * What the departments' approval systems report about the applications the hall accepted on `date` (its queue
 * system's "accepted" events of that day, `generateDay`): the acceptance itself (the same event, so the hub counts
 * one application), a review step, now and then a suspension while the applicant completes the materials, and the
 * decision. Most finish early, a few late (past their promised limit), a few are refused, a few stay open until
 * they are overdue. Deterministic for (scenario, date, seed); office work happens on the calendar's working days.
 */
export function approvalEvents(scenario: Scenario, opts: { date: string; seed: number }): ApprovalEvent[] {
  const tz = scenario.site.tz;
  const calendar = scenario.itemCalendar ?? { workingDays: ["mon", "tue", "wed", "thu", "fri"], holidays: [] };
  const isOfficeDay = (d: string) => calendar.workingDays.includes(weekday(d)) && !calendar.holidays.includes(d);
  const out: ApprovalEvent[] = [];
  const accepted = generateDay(scenario, opts).filter((e) => e.kind === "item" && e.fields.type === "accepted");
  for (const acceptance of accepted) {
    const applicationNo = String(acceptance.fields.applicationNo);
    const itemCode = String(acceptance.fields.itemCode);
    const item = scenario.items?.find((i) => i.code === itemCode);
    const system = item && scenario.approvalSystems?.find((s) => s.departmentId === item.departmentId);
    if (!item || !system) continue;
    const rnd = seededRandom(hashSeed(opts.seed, applicationNo));
    /** A moment in office hours `days` office days after the date of `from` (0: later the same day, if an office day). */
    const officeTime = (from: number, days: number): number => {
      let d = localDate(from, tz);
      // Bounded: a calendar without office days still ends (a year on).
      for (let n = 0, guard = 0; (n < days || !isOfficeDay(d)) && guard < 366; guard++) {
        d = nextDate(d);
        if (isOfficeDay(d)) n++;
      }
      const at = localTimeToUtc(d, "09:00", tz) + Math.round(rnd() * 8 * 60) * MINUTE;
      return Math.max(at, from + 30 * MINUTE);
    };
    const base = { applicationNo, itemCode };
    const push = (at: number, fields: Record<string, unknown> & { type: string }) =>
      out.push({ at, systemId: system.id, event: { ...fields, ...base, ts: at } });
    // The acceptance as the hall's queue system reported it: one application, counted once.
    const { type: _type, applicationNo: _a, itemCode: _i, ...acceptedFields } = acceptance.fields;
    push(acceptance.at, { type: "accepted", ...acceptedFields });
    const review = officeTime(acceptance.at, 1);
    push(review, { type: "step", step: "审查", handler: item.handler.name, result: "pass" });
    const plan = rnd();
    let clock = review;
    if (plan < 0.15) {
      // Suspended for the applicant to complete the materials: the clock stops for 2 to 3 days.
      push(review + MINUTE, { type: "suspended", step: "审查", reason: "申请材料不齐全，待补正" });
      clock = officeTime(review, 2 + Math.floor(rnd() * 2));
      push(clock, { type: "resumed", step: "审查" });
    }
    if (plan >= 0.15 && plan < 0.165) continue; // still open: it will pass its limit
    const late = plan >= 0.165 && plan < 0.195;
    const refused = plan >= 0.195 && plan < 0.275;
    // Early or on time: within the promised days; late: a few office days past them.
    const days = late ? item.promisedDays + 3 + Math.floor(rnd() * 4) : 1 + Math.floor(rnd() * Math.max(1, item.promisedDays - 1));
    const decided = officeTime(clock, Math.max(0, days - 1));
    push(decided, { type: "step", step: "决定", handler: item.head.name, result: refused ? "不予许可" : "准予许可" });
    push(decided + 10 * MINUTE, {
      type: "completed",
      outcome: refused ? "refused" : "approved",
      ...(refused ? { reason: "申请材料不符合法定条件" } : {}),
    });
  }
  return out.sort((a, b) => a.at - b.at);
}

export interface ApprovalPlayerOptions {
  /** The hub's API, e.g. http://127.0.0.1:8080 (events go to /api/items/events). */
  hubUrl: string;
  /** Each approval system's API token, by system id. */
  tokens: Record<string, string>;
  scenario: Scenario;
  seed: number;
  /** The first date (YYYY-MM-DD, the hall's zone) whose applications are reported. */
  fromDate: string;
  /** Where the play got to: a restarted player reports nothing twice (a resend would be a harmless duplicate). */
  position?: { read(): number | undefined; write(at: number): void };
  log?: (line: string) => void;
  /** How long to wait when caught up, or when the hub does not answer yet. */
  idleMs?: number;
}

/**
 * Plays the departments' approval systems against the hub's API: every event from `fromDate` on whose time has come,
 * oldest first, one request at a time, then whatever comes due as time goes on. An event the hub refuses is logged
 * and skipped; an unreachable hub or a token it does not know yet is waited for.
 */
export class ApprovalSystemsPlayer {
  readonly counts = { recorded: 0, duplicate: 0, refused: 0 };
  private stopped = false;
  private wake: (() => void) | undefined;
  private readonly days = new Map<string, ApprovalEvent[]>();

  constructor(private readonly opts: ApprovalPlayerOptions) {}

  /** The events of every date from `fromDate` to today, oldest first (a date's events are computed once). */
  private eventsUntil(now: number): ApprovalEvent[] {
    const tz = this.opts.scenario.site.tz;
    const today = localDate(now, tz);
    for (let d = this.opts.fromDate; d <= today; d = nextDate(d))
      if (!this.days.has(d)) this.days.set(d, approvalEvents(this.opts.scenario, { date: d, seed: this.opts.seed }));
    return [...this.days.values()].flat().sort((a, b) => a.at - b.at);
  }

  async run(): Promise<void> {
    const idle = this.opts.idleMs ?? 30_000;
    let playedUntil = this.opts.position?.read() ?? Number.NEGATIVE_INFINITY;
    while (!this.stopped) {
      const now = Date.now();
      const due = this.eventsUntil(now).filter((e) => e.at > playedUntil && e.at <= now);
      let waiting = false;
      for (const e of due) {
        if (this.stopped) break;
        const answer = await this.post(e);
        if (answer === "retry") {
          waiting = true;
          break;
        }
        playedUntil = e.at;
        this.opts.position?.write(playedUntil);
      }
      if (!waiting && due.length > 0)
        this.opts.log?.(
          `approval systems: ${this.counts.recorded} recorded, ${this.counts.duplicate} duplicates, ${this.counts.refused} refused`,
        );
      await new Promise<void>((r) => {
        this.wake = r;
        setTimeout(r, waiting ? Math.min(idle, 2000) : idle);
      });
    }
  }

  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  private async post(e: ApprovalEvent): Promise<"done" | "retry"> {
    const token = this.opts.tokens[e.systemId];
    if (!token) {
      this.counts.refused++;
      this.opts.log?.(`approval systems: no token for ${e.systemId}; its events are skipped`);
      return "done";
    }
    let status: number;
    let body = "";
    try {
      const res = await fetch(`${this.opts.hubUrl}/api/items/events`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify(e.event),
      });
      status = res.status;
      body = await res.text();
    } catch {
      return "retry"; // the hub is not up (yet)
    }
    if (status === 201) this.counts.recorded++;
    else if (status === 200) this.counts.duplicate++;
    else if (status === 401 || status === 503 || status >= 500)
      return "retry"; // a token the hub has not loaded yet
    else {
      this.counts.refused++;
      this.opts.log?.(
        `approval systems: ${e.systemId} ${e.event.type} ${e.event.applicationNo} refused (${status}): ${body.slice(0, 200)}`,
      );
    }
    return "done";
  }
}
