import type { CardEvent, WarningEvent } from "../../../controller/extension.ts";
import { answerableFor, buildCases, type ItemCase } from "../../../items/cases.ts";
import { servedTransactions } from "../../../items/transactions.ts";
import { ns } from "../../../influx/query.ts";
import { readingTimestampNs } from "../../../ingest/points.ts";
import { schemaPoint, type SchemaPoint } from "../../../schema/index.ts";
import type { ItemText } from "../../messages.ts";
import type { Deduction, Findings, Placement, SiteRule, WarningFinding } from "../rule.ts";
import type { ItemRuleSettings } from "./settings.ts";

/** How far an application has gone at `now` (or at its completion): what it earned. */
export interface ItemStage {
  reminded: boolean;
  late: boolean;
  red: boolean;
  /** Red because its handler has too many overdue items. */
  handlerMany: boolean;
}

/** The stage of each case; `overdueByHandler` counts the open overdue applications of each handler. */
export function stageOf(c: ItemCase, settings: ItemRuleSettings, overdueByHandler: ReadonlyMap<string, number>): ItemStage {
  const late = c.timeliness === "overdue";
  const open = c.state !== "completed";
  const reminded = c.due !== undefined && (late || c.left <= settings.remindDaysLeft || c.used >= settings.remindShare);
  const handlerMany =
    open && late && settings.redWhenHandlerOverdue > 0 && (overdueByHandler.get(c.handler) ?? 0) >= settings.redWhenHandlerOverdue;
  return { reminded, late, red: late && (c.overdueDays > settings.redAfterOverdueDays || handlerMany), handlerMany };
}

export function overdueByHandler(cases: readonly ItemCase[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const c of cases) if (c.state !== "completed" && c.timeliness === "overdue") counts.set(c.handler, (counts.get(c.handler) ?? 0) + 1);
  return counts;
}

/** An application's (or a transaction's) identity in the nanoseconds of its points: many fall in the same millisecond. */
function applicationHash(application: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < application.length; i++) h = Math.imul(h ^ application.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** The `item_state` point of a case: one per application, at its acceptance, rewritten each run. */
export function itemStatePoint(
  place: Placement,
  c: ItemCase,
  stage: ItemStage,
  settings: ItemRuleSettings,
  complaints = 0,
): SchemaPoint<"item_state"> {
  const open = c.state !== "completed";
  return schemaPoint(
    "item_state",
    readingTimestampNs(c.acceptedAt, applicationHash(c.application)),
    { ...place, department: c.item.department, item: c.code },
    {
      application: c.application,
      state: c.state,
      stage: stage.red ? "red" : stage.late ? "overdue" : stage.reminded ? "reminded" : "none",
      open: open ? 1 : 0,
      near: open && !stage.late && c.due !== undefined && c.left <= Math.max(1, settings.remindDaysLeft) ? 1 : 0,
      overdue: stage.late ? 1 : 0,
      left: c.left,
      overdue_days: c.overdueDays,
      due: c.due?.dueAt,
      due_date: c.due?.dueDate,
      handler: c.handler,
      completed_at: c.completedAt,
      timeliness: c.timeliness,
      outcome: c.outcome,
      complaints,
    },
  );
}

/**
 * Follows every application of the site's approval items (README.md): reminds the handler before the promised limit,
 * warns and gives a yellow card when it passes, a red card escalated to the department head when it is overdue too
 * long or its handler has several overdue. Warnings are stamped at the application's acceptance, cards at its
 * deadline, so each run rewrites the same points; a completed application's warnings are written inactive.
 */
export const items: SiteRule = {
  scope: "site",
  name: "items",
  deductionRules: ["item_overdue"],
  async judge({ registry, site, place, now, settings, text, readings }): Promise<Findings> {
    const { cases } = buildCases(registry, await readings.itemEvents(), now);
    const byHandler = overdueByHandler(cases);
    // Dissatisfied ratings tied to an application by its transactions (the item events' and the queue system's).
    const queue = await readings.queueEvents();
    const complained = new Map<string, number>();
    for (const txn of await readings.complainedTxns()) complained.set(txn, (complained.get(txn) ?? 0) + 1);
    const queueTxns = new Map<string, string[]>();
    for (const q of queue) if (q.application !== undefined) queueTxns.set(q.application, [...(queueTxns.get(q.application) ?? []), q.txn]);
    const complaintsOf = (c: ItemCase) =>
      [...new Set([...c.txns, ...(queueTxns.get(c.application) ?? [])])].reduce((n, t) => n + (complained.get(t) ?? 0), 0);
    const warnings: WarningFinding[] = [];
    const cards: NonNullable<Findings["cards"]> = [];
    const records: SchemaPoint[] = [];
    const deductions: Deduction[] = [];
    for (const c of cases) {
      const stage = stageOf(c, settings.items, byHandler);
      records.push(itemStatePoint(place, c, stage, settings.items, complained.size === 0 ? 0 : complaintsOf(c)));
      if (!c.due) continue; // suspended: the clock stands still, nothing is reminded
      const open = c.state !== "completed";
      const unit = c.item.promisedLimit.unit;
      const about: ItemText = { item: c.item.name, application: c.application, handler: c.handler, due: c.due.dueDate };
      const person = (p: { name: string; phone?: string | undefined }) => (p.phone ? [{ name: p.name, phone: p.phone }] : []);
      const contacts = person(c.item.handler);
      const escalationContacts = person(c.item.head);
      const warn = (rule: string, severity: WarningEvent["severity"], active: boolean, message: string) =>
        warnings.push({
          event: {
            ts: c.acceptedAt,
            site: site.id,
            category: "items",
            subjectKind: "item",
            subject: c.application,
            rule,
            severity,
            active,
            message,
            contacts,
            escalationContacts,
          },
          active: active ? 1 : 0,
        });
      const card = (color: CardEvent["color"], reasons: string[]) =>
        cards.push({
          event: { ts: c.due!.dueAt, site: site.id, subjectKind: "item", subject: c.application, color, reasons },
          point: schemaPoint(
            "card",
            ns(c.due!.dueAt),
            { ...place, department: c.item.department, subject_kind: "item", subject: c.application, color },
            { level: color === "yellow" ? 1 : 2, reasons: reasons.join("; ") },
          ),
        });
      if (stage.reminded) warn("item_reminder", "warning", open && !stage.late, text.itemReminder({ ...about, left: c.left, unit }));
      if (stage.late) {
        const overdue = text.itemOverdue(about);
        warn("item_overdue", "warning", open, overdue);
        card("yellow", [overdue]);
        // One deduction per overdue application, at its deadline (its own nanoseconds: several fall due together).
        const answerable = answerableFor(registry, c);
        if (answerable && settings.scoring.itemOverdue !== 0)
          deductions.push({
            subjectKind: answerable.kind,
            subject: answerable.id,
            rule: "item_overdue",
            points: settings.scoring.itemOverdue,
            at: c.due.dueAt,
            atNs: readingTimestampNs(c.due.dueAt, applicationHash(c.application)),
            reason: overdue,
          });
      }
      if (stage.red) {
        const red = text.itemRed({ ...about, overdueDays: c.overdueDays, unit });
        warn("item_red", "escalation", open, red);
        card("red", stage.handlerMany ? [red, text.handlerOverdue({ handler: c.handler, count: byHandler.get(c.handler) ?? 0 })] : [red]);
      }
    }
    // Each transaction finished at a window, with its waiting and service time (the hall dashboard averages them).
    for (const t of servedTransactions(queue))
      records.push(
        schemaPoint(
          "transaction",
          readingTimestampNs(t.finishedAt, applicationHash(t.txn)),
          { ...place, department: registry.windows.get(t.window)?.department, window: t.window },
          { txn: t.txn, clerk: t.clerk, item: t.item, application: t.application, waiting_s: t.waitingS, service_s: t.serviceS },
        ),
      );
    return { records, warnings, cards, deductions };
  },
};
