/**
 * The items dashboard at a scripted moment: a hall's applications as events in InfluxDB, judged by the real items
 * rule (which writes `item_state`, as the running hub does), then each panel's query as Grafana sends it for a
 * chosen department, state and application must return exactly the rows a supervisor would write down by hand, and
 * the same applications `hub items --near / --overdue` lists (one way to say what is near or overdue).
 */
import { allDashboards, dashboardMessages, ITEM_STATE_FILTERS, UIDS } from "@supervision/dashboards";
import { startInfluxd, type TestInfluxd } from "@supervision/test-support";
import { InfluxDB } from "influx";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureDatabase } from "../src/influx/setup.ts";
import { buildCases } from "../src/items/cases.ts";
import { queryItemEvents } from "../src/items/read.ts";
import { at, itemReading, itemsRegistry } from "./items-fixtures.ts";
import { judge, writeReadings } from "./supervision-fixtures.ts";

const { registry } = itemsRegistry();
// Monday 13 April 2026, 09:30 in the hall (Qingming: Saturday 4 to Monday 6 April off). XK-001: 3 working days.
const NOW = at("2026-04-13", "09:30");
const ACCEPTED = {
  "XK-A1": at("2026-04-03", "10:30"), // due Thursday 9 April: 2 working days overdue (Friday 10, Monday 13)
  "XK-A2": at("2026-04-08", "10:00"), // due today, Monday 13: 1 day left, about to expire
  "XK-A3": at("2026-04-09", "10:00"), // due Tuesday 14: 2 days left
  "XK-A4": at("2026-04-07", "09:00"), // completed Thursday 9, before its due date (Friday 10): early
  "XK-A5": at("2026-04-07", "09:30"), // refused on Friday 10, its due date
  "XK-A6": at("2026-04-08", "11:00"), // suspended on Thursday 9 and not resumed: no deadline while suspended
  "SB-B1": at("2026-04-10", "10:00"), // another department's (social) item
} as const;

const readings = [
  itemReading("accepted", "XK-A1", ACCEPTED["XK-A1"], { windowId: "w1", clerkId: "c1" }),
  itemReading("step", "XK-A1", at("2026-04-07", "15:00"), { step: "审核", handler: "张办", result: "材料齐全" }),
  itemReading("accepted", "XK-A2", ACCEPTED["XK-A2"], { windowId: "w1", clerkId: "c1" }),
  itemReading("accepted", "XK-A3", ACCEPTED["XK-A3"], { windowId: "w1", clerkId: "c1" }),
  itemReading("step", "XK-A3", at("2026-04-10", "14:00"), { step: "现场核查", handler: "李审", result: "通过" }),
  itemReading("accepted", "XK-A4", ACCEPTED["XK-A4"], { windowId: "w1", clerkId: "c1" }),
  itemReading("completed", "XK-A4", at("2026-04-09", "16:00"), { outcome: "approved" }),
  itemReading("accepted", "XK-A5", ACCEPTED["XK-A5"], { windowId: "w1", clerkId: "c1" }),
  itemReading("completed", "XK-A5", at("2026-04-10", "11:00"), { outcome: "refused", reason: "经营场所不符合要求" }),
  itemReading("accepted", "XK-A6", ACCEPTED["XK-A6"], { windowId: "w1", clerkId: "c1" }),
  itemReading("suspended", "XK-A6", at("2026-04-09", "11:00"), { step: "受理", reason: "补正材料" }),
  itemReading("accepted", "SB-B1", ACCEPTED["SB-B1"], { itemCode: "SB-002", windowId: "w2", clerkId: "c2" }),
];

let influxd: TestInfluxd;
let influx: InfluxDB;

beforeAll(async () => {
  influxd = await startInfluxd();
  influx = new InfluxDB({ host: "127.0.0.1", port: influxd.port, database: "supervision" });
  await ensureDatabase(influx, "supervision", pino({ level: "silent" }));
  await writeReadings(influx, registry, readings);
  await judge({ influx, registry, now: NOW });
}, 60_000);

afterAll(async () => {
  await influxd?.close();
});

const m = dashboardMessages("en");
const board = allDashboards("en").find((d) => d.uid === UIDS.items)!;
const query = (title: string) => board.panels.find((p) => p.title === title)!.targets[0]!.query;

/**
 * Grafana's interpolation: a chosen value inside a regex is regex-escaped, "All" (`allValue`, `.*`) and the state
 * filter go in as they are.
 */
function asSent(q: string, vars: { department: string; state: keyof typeof ITEM_STATE_FILTERS; application?: string }): string {
  const escape = (v: string) => v.replace(/[\\^$*+?.()|[\]{}/]/g, "\\$&");
  return q
    .replaceAll("$department", vars.department === ".*" ? ".*" : escape(vars.department))
    .replaceAll("$application", escape(vars.application ?? ""))
    .replaceAll("$state", ITEM_STATE_FILTERS[vars.state]);
}

/** The list as a table: accepted (the point's time), item, application, handler, deadline, state, outcome, days. */
async function list(department: string, state: keyof typeof ITEM_STATE_FILTERS) {
  const c = m.columns;
  const k = m.items.columns;
  const rows = await influx.query<Record<string, unknown>>(asSent(query(m.items.list.title), { department, state }));
  return rows
    .map((r) => [
      (r.time as Date).getTime(),
      r.department,
      r.item,
      r[c.application],
      r[c.handler],
      r[c.due],
      r[k.state],
      r[k.outcome],
      r[c.daysLeft],
      r[c.itemsOverdue],
    ])
    .sort((a, b) => String(a[3]).localeCompare(String(b[3])));
}

describe("the items dashboard on a real influxd", () => {
  // Days left count today (1 on the due date); a completed application keeps those it had left when completed, a
  // suspended one those left when its clock stopped.
  const row = {
    A1: [ACCEPTED["XK-A1"], "market", "XK-001", "XK-A1", "张办", "2026-04-09", "in_progress", null, 0, 2],
    A2: [ACCEPTED["XK-A2"], "market", "XK-001", "XK-A2", "张办", "2026-04-13", "in_progress", null, 1, 0],
    A3: [ACCEPTED["XK-A3"], "market", "XK-001", "XK-A3", "李审", "2026-04-14", "in_progress", null, 2, 0],
    A4: [ACCEPTED["XK-A4"], "market", "XK-001", "XK-A4", "张办", "2026-04-10", "completed", "approved", 2, 0], // Thursday and Friday were left
    A5: [ACCEPTED["XK-A5"], "market", "XK-001", "XK-A5", "张办", "2026-04-10", "completed", "refused", 1, 0], // refused on its due date
    A6: [ACCEPTED["XK-A6"], "market", "XK-001", "XK-A6", "张办", null, "suspended", null, 3, 0], // stopped the day after acceptance: none used
  };

  it("lists the department's applications by state: all, in progress, about to expire, overdue, completed, refused, suspended", async () => {
    expect(await list("market", "all")).toEqual([row.A1, row.A2, row.A3, row.A4, row.A5, row.A6]);
    expect(await list("market", "inProgress")).toEqual([row.A1, row.A2, row.A3, row.A6]);
    expect(await list("market", "nearLimit")).toEqual([row.A2]);
    expect(await list("market", "overdue")).toEqual([row.A1]);
    expect(await list("market", "completed")).toEqual([row.A4, row.A5]);
    expect(await list("market", "refused")).toEqual([row.A5]);
    expect(await list("market", "suspended")).toEqual([row.A6]);
    // Another department sees only its own; All departments (the regex .*) sees both.
    expect((await list("social", "all")).map((r) => r[3])).toEqual(["SB-B1"]);
    expect((await list(".*", "inProgress")).map((r) => r[3])).toEqual(["SB-B1", "XK-A1", "XK-A2", "XK-A3", "XK-A6"]);
  });

  it("about to expire and overdue are the applications hub items lists (--near, --overdue)", async () => {
    const { cases } = buildCases(registry, await queryItemEvents(influx, { from: NOW - 400 * 86_400_000, to: NOW }), NOW);
    const open = cases.filter((c) => c.state !== "completed" && c.item.department === "market");
    const overdue = open.filter((c) => c.timeliness === "overdue").map((c) => c.application);
    const near = open.filter((c) => c.timeliness !== "overdue" && c.due && c.left <= 1).map((c) => c.application);
    expect((await list("market", "overdue")).map((r) => r[3])).toEqual(overdue);
    expect((await list("market", "nearLimit")).map((r) => r[3])).toEqual(near);
  });

  it("the application variable lists the department's applications", async () => {
    const variable = board.templating.list.find((v) => v.name === "application")!;
    const rows = await influx.query<{ application: string }>(variable.query.replaceAll("$department", "social"));
    expect(rows.map((r) => r.application)).toEqual(["SB-B1"]);
  });

  it("shows one application's trail: every event with its time, step, handler, result and source", async () => {
    const k = m.items.columns;
    const trail = async (application: string) =>
      (
        await influx.query<Record<string, unknown>>(asSent(query(m.items.trail.title), { department: "market", state: "all", application }))
      ).map((r) => [
        (r.time as Date).getTime(),
        r.item,
        r[k.event],
        r[k.outcome],
        r[k.step],
        r[m.columns.handler],
        r[k.clerk],
        r[k.result],
        r[k.reason],
        r[k.source],
      ]);
    expect(await trail("XK-A1")).toEqual([
      [ACCEPTED["XK-A1"], "XK-001", "accepted", null, null, null, "c1", null, null, "qs-1"],
      [at("2026-04-07", "15:00"), "XK-001", "step", null, "审核", "张办", null, "材料齐全", null, "qs-1"],
    ]);
    expect(await trail("XK-A5")).toEqual([
      [ACCEPTED["XK-A5"], "XK-001", "accepted", null, null, null, "c1", null, null, "qs-1"],
      [at("2026-04-10", "11:00"), "XK-001", "completed", "refused", null, null, null, null, "经营场所不符合要求", "qs-1"],
    ]);
    expect(await trail("XK-A6")).toEqual([
      [ACCEPTED["XK-A6"], "XK-001", "accepted", null, null, null, "c1", null, null, "qs-1"],
      [at("2026-04-09", "11:00"), "XK-001", "suspended", null, "受理", null, null, null, "补正材料", "qs-1"],
    ]);
    // No application chosen: no rows (the regex /^$/ matches no application number).
    expect(await trail("")).toEqual([]);
  });
});
