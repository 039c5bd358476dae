import { z } from "zod";

/** When the items rule reminds, warns and gives a red card (`supervision.items`). */
export const ItemRuleSettings = z.strictObject({
  /** Remind the handler once this share of the promised limit is used (0.8: four days into five)... */
  remindShare: z.number().gt(0).max(1).default(0.8),
  /** ...or once this many days of the limit's unit are left, counting today (1: on the due date). */
  remindDaysLeft: z.int().min(0).max(365).default(1),
  /** A red card, escalated to the department head, once an item is overdue by more than this many days. */
  redAfterOverdueDays: z.int().min(0).max(365).default(3),
  /** A red card for each overdue item of a handler who has at least this many overdue (0: never for this reason). */
  redWhenHandlerOverdue: z.int().min(0).max(1000).default(3),
});
export type ItemRuleSettings = z.infer<typeof ItemRuleSettings>;
