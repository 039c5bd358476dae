/**
 * Items in the scoring, on a real influxd through the running supervision extension: a handler with several overdue
 * items gets a red card for each, every overdue item costs its responsible person `scoring.itemOverdue` points in the
 * month's score, and the monthly report takes the person out of the year's awards (three overdue items in a year, or
 * one more than three days overdue: seed 002, art. 25 (3)).
 */
import { EventEmitter } from "node:events";
import { startInfluxd, type TestInfluxd } from "@supervision/test-support";
import { InfluxDB } from "influx";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HubEvents } from "../src/controller/extension.ts";
import { ensureDatabase } from "../src/influx/setup.ts";
import { noAwardForItems } from "../src/items/awards.ts";
import { createSupervisionExtension, SupervisionSettings } from "../src/supervision/index.ts";
import { monthlyReport } from "../src/supervision/report.ts";
import { ScoringRules } from "../src/supervision/settings.ts";
import { at, itemReading, itemsRegistry } from "./items-fixtures.ts";
import { type Routes, rulesContext, runNow, writeReadings } from "./supervision-fixtures.ts";

describe("items in the cards and the scoring", () => {
  let influxd: TestInfluxd;
  let influx: InfluxDB;
  // XK-001's responsible person is the clerk c1.
  const { registry } = itemsRegistry({ handlerPerson: "c1" });

  beforeAll(async () => {
    influxd = await startInfluxd();
    influx = new InfluxDB({ host: "127.0.0.1", port: influxd.port, database: "supervision" });
    await ensureDatabase(influx, "supervision", pino({ level: "silent" }));
  });
  afterAll(() => influxd.close());

  it("gives a red card for each overdue item of a handler with three, deducts each from the responsible person, and excludes them from the awards", async () => {
    // Promised 3 working days: accepted Monday 13 April, due Thursday 16; accepted Tuesday 14, due Friday 17.
    await writeReadings(influx, registry, [
      itemReading("accepted", "XK-A1", at("2026-04-13", "10:00")),
      itemReading("accepted", "XK-A2", at("2026-04-13", "11:00")),
      itemReading("accepted", "XK-A3", at("2026-04-14", "10:00")),
      itemReading("accepted", "XK-A4", at("2026-04-14", "11:00")),
      // Completed early: never overdue, never deducted.
      itemReading("completed", "XK-A4", at("2026-04-15", "16:00")),
    ]);
    const settings = SupervisionSettings.parse({
      intervalMs: 3_600_000,
      items: { redAfterOverdueDays: 10, redWhenHandlerOverdue: 3 },
      scoring: { itemOverdue: -3 },
    });
    const clock = { influx, registry, now: at("2026-04-17", "10:00"), routes: new Map() as Routes, events: new EventEmitter<HubEvents>() };
    const cards: string[] = [];
    clock.events.on("card", (c) => c.subjectKind === "item" && cards.push(`${c.subject}:${c.color}`));
    const extension = createSupervisionExtension(settings);
    await extension.start(rulesContext(clock));
    const run = async (now: number) => {
      clock.now = now;
      await runNow(clock.routes);
      expect(extension.status().error).toBeNull();
    };
    const query = (q: string) => influx.query<Record<string, unknown>>(q);
    try {
      // Friday 17: A1 and A2 one working day overdue, A3 due today: two overdue, yellow cards only.
      await run(at("2026-04-17", "10:00"));
      expect(cards.sort()).toEqual(["XK-A1:yellow", "XK-A2:yellow"]);
      expect(await query(`SELECT * FROM "raw"."card" WHERE "subject_kind" = 'item' AND "color" = 'red'`)).toHaveLength(0);

      // Monday 20: A3 overdue too. The handler has three overdue: each gets a red card naming why.
      await run(at("2026-04-20", "10:00"));
      expect(cards.filter((c) => c.endsWith(":red")).sort()).toEqual(["XK-A1:red", "XK-A2:red", "XK-A3:red"]);
      const red = await query(`SELECT "reasons" FROM "raw"."card" WHERE "subject_kind" = 'item' AND "color" = 'red' GROUP BY "subject"`);
      expect(red.map((r) => r.subject).sort()).toEqual(["XK-A1", "XK-A2", "XK-A3"]);
      for (const r of red) expect(String(r.reasons)).toContain("承办人 张办 共有 3 件事项超期");
      const state = await query(`SELECT "stage" FROM "raw"."item_state" GROUP BY "item"`);
      expect(state.map((s) => s.stage).sort()).toEqual(["none", "red", "red", "red"]);

      // One deduction per overdue item, to c1, at its deadline; rewriting them each run doubles nothing.
      await run(at("2026-04-20", "11:00"));
      const deductions = await query(
        `SELECT "points", "reason" FROM "raw"."deduction" WHERE "rule" = 'item_overdue' GROUP BY "subject_kind", "subject"`,
      );
      expect(deductions.map((d) => [d.subject_kind, d.subject, d.points])).toEqual([
        ["clerk", "c1", -3],
        ["clerk", "c1", -3],
        ["clerk", "c1", -3],
      ]);
      expect(deductions.map((d) => String(d.reason)).sort()[0]).toMatch(/黄牌.*XK-A1/);
      // The month's score takes them in beside the other rules' deductions (the hall's attendance judges c1 too).
      const byRule = await query(
        `SELECT sum("points") AS points FROM "raw"."deduction" WHERE "subject" = 'c1' AND time >= '2026-03-31T16:00:00Z' AND time < '2026-04-30T16:00:00Z' GROUP BY "rule"`,
      );
      const others = byRule.filter((r) => r.rule !== "item_overdue").reduce((a, r) => a + Number(r.points), 0);
      expect(byRule.find((r) => r.rule === "item_overdue")?.points).toBe(-9);
      const monthly = await query(`SELECT "score", "deductions" FROM "raw"."score_monthly" WHERE "subject" = 'c1' AND "month" = '2026-04'`);
      expect(monthly.map((m) => [m.score, m.deductions])).toEqual([[100 - 9 + others, -9 + others]]);
    } finally {
      await extension.stop();
    }

    // The month's report: c1 answers for three overdue items this year, out of the awards; c2 for none.
    const report = await monthlyReport(influx, registry, "2026-04", ScoringRules.parse({}));
    const clerk = (id: string) => report.clerks.find((c) => c.id === id)!;
    expect([clerk("c1").overdueItems, clerk("c1").noAward]).toEqual([3, true]);
    expect([clerk("c2").overdueItems, clerk("c2").noAward]).toEqual([0, false]);
    // By the days alone: at April's end A1 is 10 working days overdue, more than 3 (counting the items is switched off).
    const byDays = await monthlyReport(influx, registry, "2026-04", ScoringRules.parse({ noAwardOverdueItems: 0 }));
    expect(byDays.clerks.find((c) => c.id === "c1")!.noAward).toBe(true);
    const lenient = await monthlyReport(
      influx,
      registry,
      "2026-04",
      ScoringRules.parse({ noAwardOverdueItems: 4, noAwardOverdueDays: 30 }),
    );
    expect(lenient.clerks.find((c) => c.id === "c1")!.noAward).toBe(false);
  });

  it("judges the award exclusion at its bounds, with the seed's values as defaults", () => {
    const seed = ScoringRules.parse({});
    expect([seed.itemOverdue, seed.noAwardOverdueItems, seed.noAwardOverdueDays]).toEqual([-2, 3, 3]);
    expect(noAwardForItems(undefined, seed)).toBe(false);
    expect(noAwardForItems({ overdue: 2, longestDays: 3 }, seed)).toBe(false);
    expect(noAwardForItems({ overdue: 3, longestDays: 1 }, seed)).toBe(true);
    expect(noAwardForItems({ overdue: 1, longestDays: 4 }, seed)).toBe(true);
    expect(noAwardForItems({ overdue: 5, longestDays: 1 }, { ...seed, noAwardOverdueItems: 0 })).toBe(false);
    expect(() => ScoringRules.parse({ noAwardOverdueItems: -1 })).toThrow();
    expect(() => ScoringRules.parse({ noAwardOverdueDays: 2.5 })).toThrow();
    expect(() => ScoringRules.parse({ itemOverdue: "two" })).toThrow();
  });
});
