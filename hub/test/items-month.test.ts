/**
 * A simulated April of two departments' applications (weekends, the Qingming and May Day holidays, a make-up
 * working day, suspensions, refusals, completions in the next month) written as the ingest writes them into a real
 * influxd: the month's department counts match an independent recount from the raw item events.
 */
import type { Reading } from "@supervision/firmware-protocols";
import { startInfluxd, type TestInfluxd } from "@supervision/test-support";
import { InfluxDB } from "influx";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureDatabase } from "../src/influx/setup.ts";
import { itemMonth } from "../src/items/counts.ts";
import { monthlyReport, renderReport } from "../src/supervision/report.ts";
import { ScoringRules } from "../src/supervision/settings.ts";
import { at, itemReading, itemsRegistry, queueReading, TZ } from "./items-fixtures.ts";
import { writeReadings } from "./supervision-fixtures.ts";

/** A small seeded generator (mulberry32): the same month every run. */
function random(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// The test's own calendar, written again here on purpose (the recount must not use the code it checks).
const HOLIDAYS = new Set(["2026-04-04", "2026-04-05", "2026-04-06", "2026-05-01", "2026-05-02", "2026-05-03", "2026-05-04", "2026-05-05"]);
const MAKEUP = new Set(["2026-04-26", "2026-05-09"]);
const shanghaiDate = (ms: number) => new Date(ms + 8 * 3_600_000).toISOString().slice(0, 10); // Asia/Shanghai has no DST
const plusDays = (date: string, n: number) => new Date(Date.parse(`${date}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);
const working = (date: string) => MAKEUP.has(date) || (!HOLIDAYS.has(date) && ![0, 6].includes(new Date(`${date}T00:00:00Z`).getUTCDay()));
const counts = (unit: string, from: string, to: string) => {
  let n = 0;
  for (let d = from; d < to; d = plusDays(d, 1)) if (unit === "calendar" || working(d)) n++;
  return n;
};
const LIMITS: Record<string, { days: number; unit: string; department: string }> = {
  "XK-001": { days: 3, unit: "working", department: "market" },
  "SB-002": { days: 5, unit: "calendar", department: "social" },
};

describe("a month of approval items on a real influxd", () => {
  let influxd: TestInfluxd;
  let influx: InfluxDB;
  const { registry } = itemsRegistry();
  const readings: Reading[] = [];

  beforeAll(async () => {
    influxd = await startInfluxd();
    influx = new InfluxDB({ host: "127.0.0.1", port: influxd.port, database: "supervision" });
    await ensureDatabase(influx, "supervision", pino({ level: "silent" }));
    const rnd = random(15);
    const days: string[] = [];
    for (let d = "2026-03-23"; d <= "2026-04-30"; d = plusDays(d, 1)) if (working(d)) days.push(d);
    for (let i = 0; i < 80; i++) {
      const code = rnd() < 0.6 ? "XK-001" : "SB-002";
      const window = code === "XK-001" ? "w1" : "w2";
      const application = `A2026-${String(i).padStart(4, "0")}`;
      const txn = `T-${application}`;
      let t = at(
        days[Math.floor(rnd() * days.length)]!,
        `${String(9 + Math.floor(rnd() * 7)).padStart(2, "0")}:${String(Math.floor(rnd() * 60)).padStart(2, "0")}`,
      );
      readings.push(queueReading("ticket", txn, t - (5 + Math.floor(rnd() * 40)) * 60_000));
      readings.push(queueReading("called", txn, t - 2 * 60_000, { windowId: window }));
      readings.push(queueReading("finished", txn, t + 60_000, { windowId: window, applicationNo: application, itemCode: code }));
      readings.push(itemReading("accepted", application, t, { itemCode: code, windowId: window, txnId: txn }));
      if (rnd() < 0.7)
        readings.push({
          kind: "rating",
          deviceId: "kp-w1",
          seq: 1000 + i,
          ts: t + 90_000,
          rxTs: t + 90_000,
          windowId: window,
          txnId: txn,
          outcome: "rated",
          scale: "four",
          key: rnd() < 0.8 ? 1 : 4,
          level: "very_satisfied",
        } as Reading);
      if (rnd() < 0.25) {
        t += Math.floor(1 + rnd() * 2) * 86_400_000;
        readings.push(itemReading("suspended", application, t, { itemCode: code, step: "受理", reason: "补正材料" }));
        t += Math.floor(1 + rnd() * 4) * 86_400_000;
        readings.push(itemReading("resumed", application, t, { itemCode: code, step: "受理" }));
      }
      if (rnd() < 0.85) {
        t += Math.floor(rnd() * 7 * 86_400_000);
        const refused = rnd() < 0.15;
        readings.push(
          itemReading("completed", application, t, {
            itemCode: code,
            outcome: refused ? "refused" : "approved",
            ...(refused ? { reason: "不符合条件" } : {}),
          }),
        );
      }
    }
    // Ratings carry the level the key means.
    for (const r of readings) if (r.kind === "rating" && (r as { key?: number }).key === 4) Object.assign(r, { level: "dissatisfied" });
    await writeReadings(influx, registry, readings);
    await writeReadings(influx, registry, readings); // replayed: changes nothing
  });
  afterAll(() => influxd.close());

  it("counts April per department as a recount from the raw item events does", async () => {
    const month = await itemMonth(influx, registry, "2026-04");
    const from = at("2026-04-01", "00:00");
    const to = at("2026-05-01", "00:00");
    // The recount: raw rows, grouped by application, judged by the test's own calendar.
    const rows = await influx.query<Record<string, unknown> & { time: Date }>(`SELECT * FROM "raw"."item_event"`);
    const apps = new Map<
      string,
      { code: string; accepted?: number; completed?: number; outcome?: string; suspended: [number, number | undefined][] }
    >();
    for (const r of [...rows].sort((a, b) => a.time.getTime() - b.time.getTime())) {
      const t = r.time.getTime();
      if (t >= to) continue;
      const a = apps.get(String(r.application)) ?? { code: String(r.item), suspended: [] };
      apps.set(String(r.application), a);
      if (r.type === "accepted") a.accepted ??= t;
      if (r.type === "completed" && a.completed === undefined) [a.completed, a.outcome] = [t, String(r.outcome)];
      if (r.type === "suspended") a.suspended.push([t, undefined]);
      if (r.type === "resumed") a.suspended.at(-1)![1] = t;
    }
    const expected = new Map<string, Record<string, number>>();
    const processing = new Map<string, number[]>();
    for (const d of ["market", "social"])
      expected.set(d, { accepted: 0, completed: 0, refused: 0, early: 0, onTime: 0, late: 0, inProgress: 0, overdue: 0 });
    for (const a of apps.values()) {
      const limit = LIMITS[a.code]!;
      const e = expected.get(limit.department)!;
      let extra = 0;
      let open = false;
      for (const [s, r] of a.suspended) {
        const end = r ?? a.completed;
        if (end === undefined) open = true;
        else extra += counts(limit.unit, shanghaiDate(s), shanghaiDate(end));
      }
      // Due: the (days + extra)-th day of the unit after the acceptance date.
      let due = shanghaiDate(a.accepted!);
      for (let left = limit.days + extra; left > 0;) {
        due = plusDays(due, 1);
        if (limit.unit === "calendar" || working(due)) left--;
      }
      const dueAt = Date.parse(`${plusDays(due, 1)}T00:00:00+08:00`);
      if (a.accepted! >= from) e.accepted!++;
      if (a.completed !== undefined && a.completed >= from) {
        e.completed!++;
        if (a.outcome === "refused") e.refused!++;
        const day = shanghaiDate(a.completed);
        if (a.completed >= dueAt) {
          e.late!++;
          e.overdue!++;
        } else if (day < due) e.early!++;
        else e.onTime!++;
        processing.set(limit.department, [...(processing.get(limit.department) ?? []), (a.completed - a.accepted!) / 86_400_000]);
      }
      if (a.completed === undefined) {
        e.inProgress!++;
        if (!open && to - 1 >= dueAt) e.overdue!++;
      }
    }
    for (const d of ["market", "social"]) {
      const got = month.counts.find((c) => c.department === d)!;
      expect({ ...got, department: d }).toMatchObject({ ...expected.get(d), department: d });
      const days = processing.get(d)!;
      expect(got.processingDays).toBeCloseTo(days.reduce((x, y) => x + y, 0) / days.length, 6);
    }
    const total = (k: string) => [...expected.values()].reduce((n, e) => n + e[k]!, 0);
    expect(total("accepted")).toBeGreaterThan(40); // the month is not empty...
    expect(total("late")).toBeGreaterThan(0); // ...and has late, early, refused and open applications
    expect(total("early")).toBeGreaterThan(0);
    expect(total("refused")).toBeGreaterThan(0);
    expect(total("inProgress")).toBeGreaterThan(0);
  });

  it("measures waiting time and satisfaction per item from the transactions", async () => {
    const month = await itemMonth(influx, registry, "2026-04");
    const from = at("2026-04-01", "00:00");
    const to = at("2026-05-01", "00:00");
    const f = (r: Reading) => r as unknown as Record<string, string | number>;
    const inApril = readings.filter((r) => r.ts >= from && r.ts < to);
    const ticket = new Map(inApril.filter((r) => r.kind === "queue" && f(r).type === "ticket").map((r) => [f(r).txnId, r.ts]));
    const waits = inApril
      .filter((r) => r.kind === "queue" && f(r).type === "called" && f(r).windowId === "w1" && ticket.has(f(r).txnId!))
      .map((r) => (r.ts - ticket.get(f(r).txnId!)!) / 60_000);
    expect(month.counts.find((c) => c.department === "market")!.waitingMinutes).toBeCloseTo(
      waits.reduce((a, b) => a + b, 0) / waits.length,
      6,
    );
    const codeOf = new Map(readings.filter((r) => r.kind === "item").map((r) => [f(r).txnId, f(r).itemCode]));
    for (const code of ["XK-001", "SB-002"]) {
      const rated = inApril.filter((r) => r.kind === "rating" && codeOf.get(f(r).txnId!) === code);
      const got = month.items.find((i) => i.item === code)!;
      expect(got.rated).toBe(rated.length);
      expect(got.positive).toBe(rated.filter((r) => f(r).level === "very_satisfied").length);
      expect(got.negative).toBe(rated.filter((r) => f(r).level === "dissatisfied").length);
    }
    expect(TZ).toBe("Asia/Shanghai");
  });

  it("puts the month's counts per department in the monthly report", async () => {
    const report = await monthlyReport(influx, registry, "2026-04", ScoringRules.parse({}));
    const market = report.items!.counts.find((d) => d.department === "market")!;
    const html = renderReport(report, registry);
    expect(html).toContain("<h2>审批事项办理情况（按部门）</h2>");
    expect(html).toContain(
      `<td>市民中心</td><td>市场监管局</td><td>${market.accepted}</td><td>${market.completed}</td><td>${market.early}</td><td>${market.onTime}</td><td>${market.late}</td><td>${market.inProgress}</td><td>${market.overdue}</td><td>${market.refused}</td>`,
    );
    const socialCopy = renderReport(report, registry, { department: "social" });
    const itemsTable = /<table id="items">[\s\S]*?<\/table>/.exec(socialCopy)![0];
    expect(itemsTable).toContain("<td>人社局</td>");
    expect(itemsTable).not.toContain("<td>市场监管局</td>");
  });

  it("ranks the items by complaints in the report, each row recounted from the raw ratings", async () => {
    const report = await monthlyReport(influx, registry, "2026-04", ScoringRules.parse({}));
    const html = renderReport(report, registry);
    expect(html).toContain("<h2>各审批事项满意度（不满意多者在前）</h2>");
    const table = /<table id="item-satisfaction">[\s\S]*?<\/table>/.exec(html)![0];
    const f = (r: Reading) => r as unknown as Record<string, string | number>;
    const from = at("2026-04-01", "00:00");
    const to = at("2026-05-01", "00:00");
    const codeOf = new Map(readings.filter((r) => r.kind === "item").map((r) => [f(r).txnId, f(r).itemCode]));
    const expected = [...registry.items!.values()]
      .map((item) => {
        const rated = readings.filter((r) => r.kind === "rating" && r.ts >= from && r.ts < to && codeOf.get(f(r).txnId!) === item.code);
        const positive = rated.filter((r) => f(r).level === "very_satisfied").length;
        const negative = rated.filter((r) => f(r).level === "dissatisfied").length;
        return { item, rated: rated.length, positive, negative };
      })
      .filter((x) => x.rated > 0)
      .sort((a, b) => b.negative - a.negative || a.positive / a.rated - b.positive / b.rated);
    expect(expected.length).toBeGreaterThan(1);
    expect(expected.some((x) => x.negative > 0)).toBe(true);
    const rows = [...table.matchAll(/<tr><td>.*?<\/tr>/g)].map((m) => m[0]);
    expect(rows).toEqual(
      expected.map(
        (x) =>
          `<tr><td>市民中心</td><td>${registry.departments.get(x.item.department)!.name}</td><td>${x.item.name}</td><td>${x.rated}</td><td>${x.positive}</td><td>${x.negative}</td><td>${((x.positive / x.rated) * 100).toFixed(1)}%</td></tr>`,
      ),
    );
  });
});
