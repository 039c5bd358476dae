import type { StoredQueueEvent } from "./read.ts";

/** One transaction served at a window, from the queue system's events (ticket → called → started → finished). */
export interface ServedTransaction {
  txn: string;
  window: string;
  clerk: string | undefined;
  item: string | undefined;
  application: string | undefined;
  finishedAt: number;
  /** Ticket taken to first call; undefined when the ticket was taken before the events read (or never reported). */
  waitingS: number | undefined;
  /** Service started (else first call) to finished. */
  serviceS: number | undefined;
}

const seconds = (from: number | undefined, to: number) => (from === undefined || from > to ? undefined : Math.round((to - from) / 1000));

/**
 * The transactions finished in `events` (any order): each finished one at its window with its waiting and service
 * time. A transaction called again (a second call after a no-show) waits until its first call; a repeated event of the
 * same type keeps its first time, so a replay changes nothing. Pure.
 */
export function servedTransactions(events: readonly StoredQueueEvent[]): ServedTransaction[] {
  const byTxn = new Map<string, { [K in StoredQueueEvent["type"]]?: StoredQueueEvent }>();
  for (const e of [...events].sort((a, b) => a.time - b.time)) {
    const steps = byTxn.get(e.txn) ?? {};
    steps[e.type] ??= e;
    byTxn.set(e.txn, steps);
  }
  const out: ServedTransaction[] = [];
  for (const [txn, steps] of byTxn) {
    const finished = steps.finished;
    const window = finished?.window ?? steps.started?.window ?? steps.called?.window;
    if (!finished || window === undefined) continue;
    const pick = <K extends "clerk" | "item" | "application">(key: K) =>
      finished[key] ?? steps.started?.[key] ?? steps.called?.[key] ?? steps.ticket?.[key];
    const calledAt = steps.called?.time;
    out.push({
      txn,
      window,
      clerk: pick("clerk"),
      item: pick("item"),
      application: pick("application"),
      finishedAt: finished.time,
      waitingS: calledAt === undefined ? undefined : seconds(steps.ticket?.time, calledAt),
      serviceS: seconds(steps.started?.time ?? calledAt, finished.time),
    });
  }
  return out.sort((a, b) => a.finishedAt - b.finishedAt || (a.txn < b.txn ? -1 : 1));
}
