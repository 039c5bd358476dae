/** A warning's handling record: the steps allowed, its id, and when it is overdue (pure logic). */
import { describe, expect, it } from "vitest";
import { handlingOf, handlingOverdue, HandlingSettings, nextState, parseWarningId, warningId } from "../src/supervision/handling.ts";

const limits = HandlingSettings.parse({});
const MIN = 60_000;

describe("warning handling steps", () => {
  it("goes open → acknowledged → handled → closed, and handling may skip acknowledging", () => {
    expect(nextState("open", "acknowledge")).toEqual({ state: "acknowledged" });
    expect(nextState("acknowledged", "handle")).toEqual({ state: "handled" });
    expect(nextState("handled", "close")).toEqual({ state: "closed" });
    expect(nextState("open", "handle")).toEqual({ state: "handled" });
  });

  it("refuses steps out of order, saying what to do", () => {
    expect(nextState("open", "close")).toEqual({ error: expect.stringMatching(/handle it first/) });
    expect(nextState("acknowledged", "acknowledge")).toEqual({ error: expect.stringMatching(/already acknowledged/) });
    expect(nextState("closed", "handle")).toEqual({ error: expect.stringMatching(/it is closed/) });
    expect(nextState("handled", "handle")).toEqual({ error: expect.stringMatching(/already handled/) });
  });
});

describe("warning ids", () => {
  it("round-trip site, rule, subject and start time", () => {
    const id = warningId({ site: "hall-1", rule: "unattended", subject: "w1", ts: 1_763_427_000_000 });
    expect(id).toBe("hall-1:unattended:w1:1763427000000");
    expect(parseWarningId(id)).toEqual({ site: "hall-1", rule: "unattended", subject: "w1", ts: 1_763_427_000_000 });
  });

  it("refuse malformed, oversized and hostile ids", () => {
    for (const bad of [
      "",
      "hall-1:unattended:w1",
      "hall-1:unattended:w1:abc",
      "Hall:unattended:w1:1",
      `${"a".repeat(65)}:r:w1:1`,
      "h:r:w1:1' OR 1=1",
      "h:r:w1:1\n",
      "h:r:../x:1",
    ])
      expect(parseWarningId(bad), JSON.stringify(bad)).toBeUndefined();
  });
});

describe("overdue handling", () => {
  const raised = 1_000_000_000_000;
  it("an open warning is overdue after the acknowledgement limit, an acknowledged one after the handling limit", () => {
    expect(handlingOverdue(raised, undefined, raised + 29 * MIN, limits)).toBe(false);
    expect(handlingOverdue(raised, undefined, raised + 31 * MIN, limits)).toBe(true);
    const acknowledged = { state: "acknowledged" as const, by: "王主任", at: raised + 5 * MIN, note: "" };
    expect(handlingOverdue(raised, acknowledged, raised + 23 * 60 * MIN, limits)).toBe(false);
    expect(handlingOverdue(raised, acknowledged, raised + 25 * 60 * MIN, limits)).toBe(true);
  });

  it("a handled or closed warning is never overdue", () => {
    expect(handlingOverdue(raised, { state: "handled", by: "x", at: raised, note: "n" }, raised + 100 * 60 * MIN, limits)).toBe(false);
    expect(handlingOverdue(raised, { state: "closed", by: "x", at: raised, note: "" }, raised + 100 * 60 * MIN, limits)).toBe(false);
  });

  it("the latest step of each warning is its state, whatever order the rows come in", () => {
    const row = (action: string, minute: number, by: string) => ({
      time: new Date(raised + minute * MIN),
      rule: "unattended",
      subject: "w1",
      action,
      warning_ts: raised,
      by,
      note: "",
    });
    const of = handlingOf("hall-1", [row("handle", 20, "李科长"), row("acknowledge", 5, "王主任"), row("bogus", 30, "x")] as never);
    expect(of.get(`hall-1:unattended:w1:${raised}`)).toEqual({ state: "handled", by: "李科长", at: raised + 20 * MIN, note: "" });
  });
});
