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
      partition: { index: 0, count: 1 },
      satisfaction: { warnBelow: 0.9, minRated: 10 },
      cards: { yellowAfter: 1, redAfter: 3 },
    });
  });

  it("reject unknown, malformed and hostile values, naming the setting", () => {
    const problem = (input: unknown) => {
      const result = SupervisionSettings.safeParse(input);
      return result.success ? "accepted" : result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    };
    expect(problem({ partition: { index: 2, count: 2 } })).toMatch(/^partition: partition.index is 0 to partition.count - 1/);
    expect(problem({ partition: { index: -1, count: 2 } })).toMatch(/^partition.index/);
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
    expect(problem({ partition: { index: 1, count: 2 } })).toBe("accepted");
  });
});
