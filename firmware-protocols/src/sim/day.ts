import type { EventKind } from "../topics.ts";
import { localTimeToUtc, weekday } from "../time.ts";
import type { Scenario } from "./scenario.ts";

/** One device event of the simulated day: when it happens and its kind-specific fields (seq and ts are the player's). */
export interface TimelineEvent {
  at: number;
  deviceId: string;
  kind: EventKind;
  fields: Record<string, unknown>;
}

export interface DayOptions {
  /** Local date in the site's zone, YYYY-MM-DD. */
  date: string;
  seed: number;
  /** IANA zone the day's clock times are read in; defaults to the scenario site's zone. */
  tz?: string;
}

/** mulberry32: small, fast, and the same sequence on every machine for a seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hashSeed(...parts: (string | number)[]): number {
  let h = 2166136261;
  for (const ch of parts.join("|")) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
  return h >>> 0;
}

const MINUTE = 60_000;
const LEVELS_FOUR = ["very_satisfied", "satisfied", "average", "dissatisfied"] as const;

/**
 * A realistic working day for one hall or site, deterministic for (scenario, date, seed): people sign in around
 * each shift's start (some late, a few absent), transactions arrive at random and most are rated positively,
 * cameras see motion while a window is staffed, every device sends heartbeats. Sorted by time.
 */
export function generateDay(scenario: Scenario, opts: DayOptions): TimelineEvent[] {
  const rnd = seededRandom(hashSeed(opts.seed, scenario.site.id, opts.date));
  const uniform = (lo: number, hi: number) => lo + rnd() * (hi - lo);
  const tz = opts.tz ?? scenario.site.tz;
  const at = (hhmm: string) => localTimeToUtc(opts.date, hhmm, tz);
  const events: TimelineEvent[] = [];
  const terminal = scenario.devices.find((d) => d.kind === "terminal");
  const b = scenario.behaviour;
  const working = scenario.roster.workingDays.includes(weekday(opts.date));
  const shifts = scenario.roster.shifts.map((s) => ({ start: at(s.start), end: at(s.end) }));
  const dayStart = shifts[0]!.start - 60 * MINUTE;
  const dayEnd = shifts[shifts.length - 1]!.end + 60 * MINUTE;

  for (const device of scenario.devices) {
    for (let t = dayStart + uniform(0, device.heartbeatS * 1000); t < dayEnd; t += device.heartbeatS * 1000) {
      events.push({
        at: Math.round(t),
        deviceId: device.id,
        kind: "heartbeat",
        fields: {
          intervalS: device.heartbeatS,
          uptimeS: Math.round((t - dayStart) / 1000) + 3600,
          fw: "sim-1.0",
          rssi: -40 - Math.round(rnd() * 30),
        },
      });
    }
  }
  if (!working) return events.sort((x, y) => x.at - y.at);

  let txn = 0;
  const queue = transactionsOf(scenario, opts, events);
  for (const person of scenario.people) {
    if (rnd() < b.absentRate) continue;
    const keypad = scenario.devices.find((d) => d.kind === "keypad" && d.windowId === person.windowId);
    const camera = scenario.devices.find((d) => d.kind === "camera" && d.windowId === person.windowId);
    const location =
      scenario.site.lat !== undefined && scenario.site.lon !== undefined
        ? {
            lat: scenario.site.lat + uniform(-0.0005, 0.0005),
            lon: scenario.site.lon! + uniform(-0.0005, 0.0005),
            accuracyM: Math.round(uniform(3, 25)),
          }
        : undefined;
    for (const shift of shifts) {
      const late = rnd() < b.lateRate;
      const arrive = late ? shift.start + uniform(scenario.roster.graceMinutes + 1, 40) * MINUTE : shift.start - uniform(2, 15) * MINUTE;
      const leave = rnd() < 0.03 ? shift.end - uniform(10, 40) * MINUTE : shift.end + uniform(0, 10) * MINUTE;
      if (terminal) {
        const method = ["card", "face", "fingerprint"][Math.floor(rnd() * 3)];
        events.push({
          at: Math.round(arrive),
          deviceId: terminal.id,
          kind: "signin",
          fields: { personId: person.id, method, direction: "in", ...(location ? { location } : {}) },
        });
        events.push({
          at: Math.round(leave),
          deviceId: terminal.id,
          kind: "signin",
          fields: { personId: person.id, method, direction: "out", ...(location ? { location } : {}) },
        });
      }
      // Presence at the window: the shift minus breaks away from the post.
      const present: [number, number][] = [];
      let from = arrive + uniform(1, 4) * MINUTE;
      for (let hour = from; hour < leave; hour += 60 * MINUTE) {
        if (rnd() < b.breakRatePerHour) {
          const away = hour + uniform(0, 30) * MINUTE;
          const back = away + uniform(10, 50) * MINUTE;
          if (away > from && back < leave) {
            present.push([from, away]);
            from = back;
          }
        }
      }
      present.push([from, leave - uniform(1, 3) * MINUTE]);
      for (const [start, end] of present) {
        if (camera) {
          // A camera's motion detection re-triggers every few minutes while someone moves at the window.
          for (let t = start; t < end - MINUTE; t += uniform(3, 6) * MINUTE) {
            events.push({
              at: Math.round(t),
              deviceId: camera.id,
              kind: "motion",
              fields: { cameraId: camera.cameraId ?? camera.id, state: "start", source: "vmd" },
            });
          }
          events.push({
            at: Math.round(end),
            deviceId: camera.id,
            kind: "motion",
            fields: { cameraId: camera.cameraId ?? camera.id, state: "end", source: "vmd" },
          });
        }
        if (!keypad || b.transactionsPerHour <= 0) continue;
        // Poisson arrivals: exponential gaps.
        for (
          let t = start - (Math.log(1 - rnd()) * 60 * MINUTE) / b.transactionsPerHour;
          t < end;
          t -= (Math.log(1 - rnd()) * 60 * MINUTE) / b.transactionsPerHour
        ) {
          const txnId = `t${opts.date.replaceAll("-", "")}-${++txn}`;
          const base = { windowId: person.windowId, clerkId: person.id, txnId, scale: "four" };
          // With a queue system the rating answers the prompt its "finished" brings: a key a few seconds later, or
          // the prompt's timeout.
          const answer = queue?.served(t, txnId, person.windowId!, person.id);
          if (rnd() < b.ratedRate) {
            const level = pickLevel(rnd(), b.levelWeights);
            events.push({
              at: Math.round(answer?.keyAt ?? t),
              deviceId: keypad.id,
              kind: "rating",
              fields: { ...base, outcome: "rated", key: LEVELS_FOUR.indexOf(level) + 1, level },
            });
          } else {
            events.push({
              at: Math.round(answer?.timeoutAt ?? t),
              deviceId: keypad.id,
              kind: "rating",
              fields: { ...base, outcome: "timeout" },
            });
          }
          if (rnd() < 0.02) {
            const level = pickLevel(rnd(), b.levelWeights);
            events.push({
              at: Math.round(t + 20_000),
              deviceId: keypad.id,
              kind: "rating",
              fields: {
                windowId: person.windowId,
                clerkId: person.id,
                scale: "four",
                outcome: "unsolicited",
                key: LEVELS_FOUR.indexOf(level) + 1,
                level,
              },
            });
          }
        }
      }
    }
  }
  // Keypads beyond each window's first (load testing) rate at the same pace through the shifts, clerk unknown.
  const primary = new Set(scenario.windows.map((w) => scenario.devices.find((d) => d.kind === "keypad" && d.windowId === w.id)?.id));
  for (const keypad of scenario.devices.filter((d) => d.kind === "keypad" && !primary.has(d.id))) {
    for (const shift of shifts) {
      for (let t = shift.start; t < shift.end; t -= (Math.log(1 - rnd()) * 60 * MINUTE) / Math.max(b.transactionsPerHour, 1)) {
        const level = pickLevel(rnd(), b.levelWeights);
        events.push({
          at: Math.round(t),
          deviceId: keypad.id,
          kind: "rating",
          fields: { windowId: keypad.windowId, scale: "four", outcome: "rated", key: LEVELS_FOUR.indexOf(level) + 1, level },
        });
      }
    }
  }
  return events.sort((x, y) => x.at - y.at);
}

/** The prompt's timeout the gateway sends (gateway/src/devices/commands.ts PROMPT_TIMEOUT_S). */
const PROMPT_TIMEOUT_MS = 60_000;

/**
 * The hall's queue system, when the scenario has one (a device of kind `queue`): each transaction at a window is a
 * ticket taken, called, served and finished (`queue` events, PROTOCOL.md 2.4); a share of those at windows whose
 * department has items accept an application (an `item` event "accepted" with the transaction id). Its own random
 * sequence, so a scenario without a queue system plays the same day as before.
 */
function transactionsOf(scenario: Scenario, opts: DayOptions, events: TimelineEvent[]) {
  const device = scenario.devices.find((d) => d.kind === "queue");
  if (!device) return undefined;
  const rnd = seededRandom(hashSeed(opts.seed, scenario.site.id, opts.date, "queue"));
  const uniform = (lo: number, hi: number) => lo + rnd() * (hi - lo);
  const rate = scenario.behaviour.applicationRate ?? 0;
  const compact = opts.date.replaceAll("-", "");
  let tickets = 0;
  const push = (at: number, kind: "queue" | "item", fields: Record<string, unknown>) =>
    events.push({ at: Math.round(at), deviceId: device.id, kind, fields });
  return {
    /** A transaction finished at `finishedAt`: its queue events; when the keypad's key and the prompt's timeout come. */
    served(finishedAt: number, txnId: string, windowId: string, clerkId: string): { keyAt: number; timeoutAt: number } {
      const started = finishedAt - uniform(4, 12) * MINUTE;
      const called = started - uniform(0.5, 2) * MINUTE;
      const ticketAt = called - uniform(2, 25) * MINUTE;
      const ticket = `A${String(++tickets).padStart(3, "0")}`;
      const department = scenario.windows.find((w) => w.id === windowId)?.departmentId;
      const items = (scenario.items ?? []).filter((i) => i.departmentId === department);
      const item = items.length > 0 && rnd() < rate ? items[Math.floor(rnd() * items.length)] : undefined;
      const application = item ? { applicationNo: `YW${compact}-${String(tickets).padStart(4, "0")}`, itemCode: item.code } : {};
      push(ticketAt, "queue", { type: "ticket", ticket, txnId });
      push(called, "queue", { type: "called", ticket, txnId, windowId, clerkId });
      push(started, "queue", { type: "started", ticket, txnId, windowId, clerkId, ...application });
      if (item)
        push(started + uniform(1, 3) * MINUTE, "item", {
          type: "accepted",
          ...application,
          windowId,
          clerkId,
          applicantType: rnd() < 0.4 ? "company" : "person",
          txnId,
        });
      push(finishedAt, "queue", { type: "finished", ticket, txnId, windowId, clerkId, ...application });
      return { keyAt: finishedAt + uniform(3, 20) * 1000, timeoutAt: finishedAt + PROMPT_TIMEOUT_MS };
    },
  };
}

function pickLevel(r: number, weights: readonly number[]): (typeof LEVELS_FOUR)[number] {
  const total = weights.reduce((a, w) => a + w, 0);
  let acc = 0;
  for (let i = 0; i < LEVELS_FOUR.length; i++) {
    acc += weights[i]! / total;
    if (r < acc) return LEVELS_FOUR[i]!;
  }
  return LEVELS_FOUR[LEVELS_FOUR.length - 1]!;
}

/** The scenario with `count` extra keypads (kp-load-001...) on its windows, for load tests (register them too). */
export function withExtraKeypads(scenario: Scenario, count: number): Scenario {
  if (count <= 0 || scenario.windows.length === 0) return scenario;
  const extra = Array.from({ length: count }, (_, i) => {
    const id = `kp-load-${String(i + 1).padStart(3, "0")}`;
    return {
      id,
      kind: "keypad" as const,
      windowId: scenario.windows[i % scenario.windows.length]!.id,
      secret: `demo-${id}`,
      heartbeatS: 60,
    };
  });
  return { ...scenario, devices: [...scenario.devices, ...extra] };
}
