/**
 * The items rule on a real influxd, through the running supervision extension: an application's deadline on the
 * hall's working-day calendar, the handler reminded, the overdue item warned with a yellow card, escalated to the
 * department head with a red card, each notification received once by a real local HTTP SMS gateway.
 */
import { EventEmitter } from "node:events";
import { createServer, type Server } from "node:http";
import { freePort, startInfluxd, type TestInfluxd } from "@supervision/test-support";
import type { Reading } from "@supervision/firmware-protocols";
import { InfluxDB } from "influx";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HubEvents } from "../src/controller/extension.ts";
import { ensureDatabase } from "../src/influx/setup.ts";
import { createSupervisionExtension, SupervisionSettings } from "../src/supervision/index.ts";
import { at, DUTY_PHONE, HANDLER_PHONE, HEAD_PHONE, itemReading, itemsRegistry } from "./items-fixtures.ts";
import { panelQueries } from "./grafana-queries.ts";
import { waitFor } from "./ingest-fixtures.ts";
import { type Routes, rulesContext, runNow, writeReadings } from "./supervision-fixtures.ts";

/** An SMS gateway that keeps the messages about items (the other rules warn about this hall's windows too). */
async function smsGateway() {
  const received: { to: string; text: string }[] = [];
  const port = await freePort();
  const server: Server = createServer((req, res) => {
    let data = "";
    req.on("data", (c) => (data += c));
    req.on("end", () => {
      const message = JSON.parse(data) as { to: string; text: string };
      if (message.text.includes("申请号")) received.push(message);
      res.writeHead(200).end("{}");
    });
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", () => r()));
  return { url: `http://127.0.0.1:${port}/send`, received, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** Waits for `condition` (polled by the hub tests' one waitFor), at most `timeoutMs`. */
const until = (condition: () => boolean, what: string, timeoutMs = 20_000): Promise<true> =>
  waitFor(() => (condition() ? true : undefined), timeoutMs, what);

describe("items rule on a real influxd", () => {
  let influxd: TestInfluxd;
  let influx: InfluxDB;
  const { registry } = itemsRegistry();

  beforeAll(async () => {
    influxd = await startInfluxd();
    influx = new InfluxDB({ host: "127.0.0.1", port: influxd.port, database: "supervision" });
    await ensureDatabase(influx, "supervision", pino({ level: "silent" }));
  });
  afterAll(() => influxd.close());

  it("reminds the handler one working day before, warns with a yellow card when overdue, escalates with a red card, once each", async () => {
    const sms = await smsGateway();
    const readings = [
      // Accepted on the Friday before Qingming (Monday 6 April off): due Thursday 9 April.
      itemReading("accepted", "XK2026-0001", at("2026-04-03", "10:30"), { windowId: "w1", clerkId: "c1", txnId: "T-0001" }),
      // The applicant of XK2026-0001 rated the transaction dissatisfied: the application was complained about.
      {
        kind: "rating",
        deviceId: "kp-w1",
        seq: 900,
        ts: at("2026-04-03", "10:32"),
        rxTs: at("2026-04-03", "10:32"),
        windowId: "w1",
        txnId: "T-0001",
        outcome: "rated",
        scale: "four",
        key: 4,
        level: "dissatisfied",
      } as Reading,
      itemReading("step", "XK2026-0001", at("2026-04-07", "15:00"), { handler: "张办" }),
      // Accepted the same day, suspended Tuesday to Thursday (2 working days): due Monday 13 April.
      itemReading("accepted", "XK2026-0002", at("2026-04-03", "11:00")),
      itemReading("suspended", "XK2026-0002", at("2026-04-07", "11:00"), { reason: "补正材料", step: "受理" }),
      itemReading("resumed", "XK2026-0002", at("2026-04-09", "09:00"), { step: "受理" }),
    ];
    await writeReadings(influx, registry, readings);
    await writeReadings(influx, registry, readings); // a replay changes nothing
    const settings = SupervisionSettings.parse({
      intervalMs: 3_600_000,
      items: { remindDaysLeft: 1, remindShare: 0.9, redAfterOverdueDays: 1 },
      notifications: { channels: [{ name: "sms", kind: "sms", url: sms.url, to: [DUTY_PHONE] }], retryBaseMs: 10 },
    });
    const clock = { influx, registry, now: at("2026-04-08", "10:00"), routes: new Map() as Routes, events: new EventEmitter<HubEvents>() };
    const cards: string[] = [];
    clock.events.on("card", (c) => c.subjectKind === "item" && cards.push(`${c.subject}:${c.color}`));
    const extension = createSupervisionExtension(settings);
    await extension.start(rulesContext(clock));
    const run = async (now: number) => {
      clock.now = now;
      await runNow(clock.routes);
      expect(extension.status().error).toBeNull();
    };
    const state = async (application: string) =>
      (await influx.query<Record<string, unknown>>(`SELECT * FROM "raw"."item_state" WHERE "application" = '${application}'`))[0];
    try {
      // Wednesday: two working days left, nothing to say.
      await run(at("2026-04-08", "10:00"));
      expect(await state("XK2026-0001")).toMatchObject({ due_date: "2026-04-09", left: 2, open: 1, near: 0, stage: "none" });
      expect(await state("XK2026-0002")).toMatchObject({ state: "suspended", open: 1 });
      expect((await state("XK2026-0002"))?.due_date).toBeNull(); // the clock stands still
      expect(sms.received).toEqual([]);

      // Thursday, the due date: one working day left, the handler is reminded (and the centre's duty phone).
      await run(at("2026-04-09", "09:30"));
      await until(() => sms.received.length >= 2, "the reminder");
      const reminder = sms.received.filter((m) => m.to === HANDLER_PHONE);
      expect(reminder).toHaveLength(1);
      expect(reminder[0]!.text).toContain("XK2026-0001");
      expect(reminder[0]!.text).toContain("食品经营许可");
      expect(reminder[0]!.text).toContain("张办");
      expect(reminder[0]!.text).toContain("2026-04-09");
      expect(reminder[0]!.text).toContain("剩余 1 个工作日");
      expect(await state("XK2026-0001")).toMatchObject({ near: 1, stage: "reminded" });
      expect(await state("XK2026-0002")).toMatchObject({ due_date: "2026-04-13", state: "in_progress", left: 3 });

      // Friday: overdue, the warning and a yellow card.
      await run(at("2026-04-10", "09:30"));
      await until(() => sms.received.length >= 4, "the overdue warning");
      const overdue = sms.received.slice(2);
      expect(overdue.map((m) => m.to).sort()).toEqual([HANDLER_PHONE, DUTY_PHONE].sort());
      expect(overdue[0]!.text).toMatch(/黄牌.*XK2026-0001.*2026-04-09/);
      expect(cards).toEqual(["XK2026-0001:yellow"]);

      // Monday 13 April: two working days overdue with the red card after one: the department head is escalated to.
      // XK2026-0002 is due today: its handler is reminded.
      await run(at("2026-04-13", "09:30"));
      await until(() => sms.received.length >= 9, "the escalation and the second reminder");
      const escalation = sms.received.filter((m) => m.text.includes("红牌"));
      expect(escalation.map((m) => m.to).sort()).toEqual([DUTY_PHONE, HANDLER_PHONE, HEAD_PHONE].sort());
      expect(escalation[0]!.text).toContain("超期 2 个工作日");
      expect(sms.received.filter((m) => m.text.includes("XK2026-0002") && m.to === HANDLER_PHONE)).toHaveLength(1);
      expect(cards).toEqual(["XK2026-0001:yellow", "XK2026-0001:red"]);
      const cardPoints = await influx.query<Record<string, unknown>>(
        `SELECT "level", "reasons" FROM "raw"."card" WHERE "subject_kind" = 'item' GROUP BY "subject", "color"`,
      );
      expect(cardPoints.map((c) => `${String(c.subject)}:${String(c.color)}`).sort()).toEqual(["XK2026-0001:red", "XK2026-0001:yellow"]);

      // The big screen's items panels, as Grafana sends them: per department, and the list with handler and days left.
      // The counts on the board (sv-centre), the list on its detail dashboard (sv-centre-detail).
      const panel = (title: string, uid = "sv-centre") => panelQueries().find(([name]) => name === `${uid} / ${title} / A`)![1];
      const byDepartment = await influx.query<Record<string, unknown>>(panel("各部门审批事项"));
      expect(byDepartment.map((r) => [r.department, r["在办"], r["临近时限"], r["超期"], r["被投诉"]])).toEqual([["market", 2, 1, 1, 1]]);
      const near = await influx.query<Record<string, unknown>>(panel("临近时限与超期的事项", "sv-centre-detail"));
      expect(near.map((r) => [r["申请号"], r["承办人"], r["办理时限"], r["剩余天数"], r["超期"]]).sort()).toEqual([
        ["XK2026-0001", "张办", "2026-04-09", 0, 2],
        ["XK2026-0002", "张办", "2026-04-13", 1, 0],
      ]);

      // Runs again: nothing new is sent.
      await run(at("2026-04-13", "10:30"));
      await run(at("2026-04-13", "11:30"));
      // Whatever the runs queued is delivered before counting: an outbox with nothing pending.
      await until(() => (extension.status().notifications as { pending: number }).pending === 0, "an empty outbox");
      expect(sms.received).toHaveLength(9);

      // Completed: the warnings close, the cards stay.
      await writeReadings(influx, registry, [itemReading("completed", "XK2026-0001", at("2026-04-13", "14:00"))]);
      await run(at("2026-04-13", "15:00"));
      const active = await influx.query<Record<string, unknown>>(
        `SELECT last("active") AS active FROM "raw"."warning" WHERE "subject" = 'XK2026-0001' GROUP BY "rule"`,
      );
      expect(active.map((w) => [w.rule, w.active]).sort()).toEqual([
        ["item_overdue", 0],
        ["item_red", 0],
        ["item_reminder", 0],
      ]);
      expect(await state("XK2026-0001")).toMatchObject({ state: "completed", open: 0, timeliness: "overdue", overdue_days: 2 });
    } finally {
      await extension.stop();
      await sms.close();
    }
  });
});
