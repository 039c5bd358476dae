import { localTimeToUtc } from "@supervision/firmware-protocols";
import { describe, expect, it } from "vitest";
import { buildCases, type StoredItemEvent } from "../src/items/cases.ts";
import { addDays, deadline, daysLeft, daysOverdue } from "../src/items/deadline.ts";
import type { Item, Registry, Roster } from "../src/registry/schema.ts";

const TZ = "Asia/Shanghai";
// Qingming 2026: Saturday 4 April to Monday 6 April off; Friday 3 April is the last working day before it.
const roster: Roster = {
  id: "office",
  shifts: [{ start: "09:00", end: "17:00" }],
  workingDays: ["mon", "tue", "wed", "thu", "fri"],
  graceMinutes: 5,
  absentAfterMinutes: 60,
  holidays: ["2026-04-04", "2026-04-05", "2026-04-06"],
  workdays: ["2026-04-26"],
  exceptions: [],
};
const clock = { roster, tz: TZ };
const at = (date: string, hhmm: string) => localTimeToUtc(date, hhmm, TZ);
const item: Item = {
  code: "XK-001",
  name: "食品经营许可",
  department: "market",
  site: "hall-1",
  calendar: "office",
  legalLimit: { days: 20, unit: "working" },
  promisedLimit: { days: 3, unit: "working" },
  fee: 0,
  joint: false,
  handler: { name: "张办", phone: "+8613800000001" },
  head: { name: "李科", phone: "+8613800000002" },
};
const registry = {
  sites: new Map([["hall-1", { id: "hall-1", kind: "hall", name: "Hall", town: "t", tz: TZ, gateway: "gw" }]]),
  rosters: new Map([["office", roster]]),
  items: new Map([[item.code, item]]),
} as unknown as Registry;

describe("deadlines on working days", () => {
  it("a promised 3 working days accepted on the Friday before a public holiday is due on Thursday", () => {
    const due = deadline(clock, item.promisedLimit, at("2026-04-03", "10:30"), []);
    expect(due?.dueDate).toBe("2026-04-09");
    expect(due?.dueAt).toBe(at("2026-04-10", "00:00"));
    expect(due?.suspended).toBe(0);
  });

  it("a suspension of 2 working days moves the deadline by 2 working days", () => {
    const suspended = [{ from: at("2026-04-07", "11:00"), to: at("2026-04-09", "09:00") }];
    const due = deadline(clock, item.promisedLimit, at("2026-04-03", "10:30"), suspended);
    expect(due?.suspended).toBe(2);
    expect(due?.dueDate).toBe("2026-04-13"); // Thursday 9 + Friday 10 + Monday 13
  });

  it("a suspension over a weekend counts only its working days; an open one stops the clock", () => {
    const overWeekend = [{ from: at("2026-04-10", "16:00"), to: at("2026-04-14", "09:00") }]; // Fri, Mon
    expect(deadline(clock, item.promisedLimit, at("2026-04-08", "10:00"), overWeekend)?.suspended).toBe(2);
    expect(
      deadline(clock, item.promisedLimit, at("2026-04-08", "10:00"), [{ from: at("2026-04-09", "10:00"), to: undefined }]),
    ).toBeUndefined();
  });

  it("calendar-day limits count every day; make-up working days count as working days", () => {
    expect(deadline(clock, { days: 3, unit: "calendar" }, at("2026-04-03", "10:30"), [])?.dueDate).toBe("2026-04-06");
    // Friday 24 April + 1 working day: Sunday 26 April is a make-up working day.
    expect(addDays(clock, "working", "2026-04-24", 1)).toBe("2026-04-26");
  });

  it("counts days left (1 on the due date) and days overdue (working days after it)", () => {
    expect(daysLeft(clock, "working", at("2026-04-08", "09:00"), "2026-04-09")).toBe(2);
    expect(daysLeft(clock, "working", at("2026-04-09", "16:00"), "2026-04-09")).toBe(1);
    expect(daysLeft(clock, "working", at("2026-04-10", "09:00"), "2026-04-09")).toBe(0);
    expect(daysOverdue(clock, "working", at("2026-04-09", "23:00"), "2026-04-09")).toBe(0);
    expect(daysOverdue(clock, "working", at("2026-04-10", "09:00"), "2026-04-09")).toBe(1);
    expect(daysOverdue(clock, "working", at("2026-04-12", "09:00"), "2026-04-09")).toBe(1); // Sunday
    expect(daysOverdue(clock, "working", at("2026-04-13", "09:00"), "2026-04-09")).toBe(2);
  });
});

describe("cases from item events", () => {
  const ev = (type: StoredItemEvent["type"], time: number, extra: Partial<StoredItemEvent> = {}): StoredItemEvent => ({
    time,
    type,
    application: "A-1",
    item: "XK-001",
    device: "qs-1",
    ...extra,
  });

  it("follows an application: suspended, resumed, completed early, on time or late", () => {
    const events = [
      ev("accepted", at("2026-04-03", "10:30")),
      ev("step", at("2026-04-07", "10:00"), { step: "审核", handler: "王审", result: "pass" }),
      ev("suspended", at("2026-04-07", "11:00"), { reason: "补正材料" }),
      ev("resumed", at("2026-04-09", "09:00")),
    ];
    const open = buildCases(registry, events, at("2026-04-13", "10:00")).cases[0]!;
    expect(open).toMatchObject({ state: "in_progress", handler: "王审", left: 1, overdueDays: 0, timeliness: "on_time" });
    expect(open.due?.dueDate).toBe("2026-04-13");
    const late = buildCases(
      registry,
      [...events, ev("completed", at("2026-04-15", "10:00"), { outcome: "approved" })],
      at("2026-04-20", "10:00"),
    );
    expect(late.cases[0]).toMatchObject({ state: "completed", timeliness: "overdue", overdueDays: 2 });
    const early = buildCases(
      registry,
      [...events, ev("completed", at("2026-04-10", "10:00"), { outcome: "approved" })],
      at("2026-04-20", "10:00"),
    );
    expect(early.cases[0]).toMatchObject({ timeliness: "early", left: 2 });
  });

  it("counts an acceptance reported twice (hall and department) once, and skips applications it cannot place", () => {
    const twice = [ev("accepted", at("2026-04-03", "10:30")), ev("accepted", at("2026-04-03", "10:31"), { device: "dept-sys" })];
    const orphan = ev("step", at("2026-04-03", "11:00"), { application: "B-9", step: "x", handler: "y", result: "z" });
    const unknownItem = ev("accepted", at("2026-04-03", "11:00"), { application: "C-1", item: "NOPE" });
    const { cases, orphans } = buildCases(registry, [...twice, orphan, unknownItem], at("2026-04-03", "12:00"));
    expect(cases.map((c) => [c.application, c.acceptedAt])).toEqual([["A-1", at("2026-04-03", "10:30")]]);
    expect(cases[0]).toMatchObject({ left: 3, used: 0 });
    expect(orphans).toBe(2);
  });
});
