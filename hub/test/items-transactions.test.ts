/** The transactions served at windows, paired from the queue system's events (pure). */
import { describe, expect, it } from "vitest";
import type { StoredQueueEvent } from "../src/items/read.ts";
import { servedTransactions } from "../src/items/transactions.ts";

const MIN = 60_000;
const event = (type: StoredQueueEvent["type"], txn: string, minute: number, extra: Partial<StoredQueueEvent> = {}): StoredQueueEvent => ({
  time: minute * MIN,
  type,
  txn,
  window: type === "ticket" ? undefined : "w1",
  application: undefined,
  clerk: type === "ticket" ? undefined : "c1",
  item: undefined,
  ...extra,
});

describe("servedTransactions", () => {
  it("pairs a whole transaction in any order: waiting from ticket to call, service from start to finish", () => {
    const events = [
      event("finished", "T1", 30, { item: "I-1" }),
      event("called", "T1", 12),
      event("ticket", "T1", 2),
      event("started", "T1", 13),
    ];
    expect(servedTransactions(events)).toEqual([
      { txn: "T1", window: "w1", clerk: "c1", item: "I-1", application: undefined, finishedAt: 30 * MIN, waitingS: 600, serviceS: 1020 },
    ]);
  });

  it("keeps the first call and start when they are repeated or replayed, so a second call does not shorten the wait", () => {
    const events = [
      event("ticket", "T1", 0),
      event("called", "T1", 5),
      event("called", "T1", 9),
      event("started", "T1", 10),
      event("started", "T1", 10),
      event("finished", "T1", 20),
    ];
    expect(servedTransactions(events)).toMatchObject([{ waitingS: 300, serviceS: 600 }]);
  });

  it("serves from the call when no start was reported, and leaves the wait unknown without a ticket", () => {
    expect(servedTransactions([event("called", "T1", 5), event("finished", "T1", 20)])).toMatchObject([
      { waitingS: undefined, serviceS: 900 },
    ]);
  });

  it("leaves out transactions not finished, finished without a window, and refuses times running backwards", () => {
    const events = [
      event("ticket", "T1", 0),
      event("called", "T1", 3),
      event("finished", "T2", 8, { window: undefined }),
      event("ticket", "T3", 10),
      event("called", "T3", 12),
      event("finished", "T3", 11), // a clock step back: finished before it was called
    ];
    expect(servedTransactions(events)).toEqual([expect.objectContaining({ txn: "T3", waitingS: 120, serviceS: undefined })]);
  });
});
