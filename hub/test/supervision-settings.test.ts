import { describe, expect, it } from "vitest";
import { SupervisionSettings } from "../src/supervision/settings.ts";

describe("supervision settings", () => {
  it("ship the district rules and sensible defaults", () => {
    const s = SupervisionSettings.parse({});
    expect(s.scoring).toMatchObject({
      baseline: 100,
      late: -2,
      earlyLeave: -2,
      leftPost: -2,
      absentHalfDay: -5,
      unattended: -5,
      dissatisfiedClerk: -2,
      dissatisfiedUnit: -10,
      thanks: 2,
    });
    expect(s).toMatchObject({
      intervalMs: 60_000,
      leases: { seconds: 120, settleMs: 3000 },
      satisfaction: { warnBelow: 0.9, minRated: 10 },
      cards: { yellowAfter: 1, redAfter: 3 },
    });
  });

  it("reject unknown, malformed and hostile values, naming the setting", () => {
    const problem = (input: unknown) => {
      const result = SupervisionSettings.safeParse(input);
      return result.success ? "accepted" : result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    };
    // The static partition is gone: its settings name the keys that replaced it.
    expect(problem({ partition: { index: 0, count: 2 } })).toBe(
      "partition: no longer read: hub copies now share the sites by leases; remove it and set supervision.leases.enabled (true), supervision.leases.seconds and supervision.leases.settleMs if needed (hub/src/supervision/README.md)",
    );
    expect(problem({ leases: { seconds: 1 } })).toMatch(/^leases.seconds/);
    expect(problem({ leases: { seconds: 6, settleMs: 2000 } })).toMatch(/^leases: leases.settleMs must be under a third of leases.seconds/);
    expect(problem({ leases: { enabled: "yes" } })).toMatch(/^leases.enabled/);
    expect(problem({ leases: { owner: "hub-a" } })).toMatch(/owner/);
    expect(problem({ intervalMs: 10 })).toMatch(/^intervalMs/);
    expect(problem({ intervalMs: "60000" })).toMatch(/^intervalMs/);
    expect(problem({ scoring: { late: "-2" } })).toMatch(/^scoring.late/);
    expect(problem({ scoring: { lateness: -2 } })).toMatch(/lateness/);
    expect(problem({ satisfaction: { warnBelow: 90 } })).toMatch(/^satisfaction.warnBelow/);
    expect(problem({ __proto__: { enabled: false }, cards: { redAfter: 0 } })).toMatch(/^cards.redAfter/);
    expect(problem({ items: { remindShare: 1.5 } })).toMatch(/^items.remindShare/);
    expect(problem({ items: { remindShare: 0 } })).toMatch(/^items.remindShare/);
    expect(problem({ items: { redAfterOverdueDays: -1 } })).toMatch(/^items.redAfterOverdueDays/);
    expect(problem({ items: { remindDaysLeft: "1" } })).toMatch(/^items.remindDaysLeft/);
    expect(problem({ items: { redAfter: 2 } })).toMatch(/redAfter/);
    expect(SupervisionSettings.parse({}).items).toEqual({
      remindShare: 0.8,
      remindDaysLeft: 1,
      redAfterOverdueDays: 3,
      redWhenHandlerOverdue: 3,
    });
    expect(problem("supervision")).not.toBe("accepted");
    expect(problem({ leases: { enabled: true, seconds: 10, settleMs: 500 } })).toBe("accepted");
  });
});
