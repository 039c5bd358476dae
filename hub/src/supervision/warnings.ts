import { ns } from "../influx/query.ts";
import { type SchemaPoint, schemaPoint } from "../schema/index.ts";
import { type Handling, handlingOverdue, type HandlingSettings, warningId } from "./handling.ts";
import type { Placement, WarningFinding } from "./rules/rule.ts";

/** What a warning's point says of its handling: its state, who took the last step, and whether it is overdue. */
export interface HandlingView {
  of: ReadonlyMap<string, Handling>;
  now: number;
  limits: HandlingSettings;
}

/** The `warning` point of a rule's warning, stamped at the warning's time (the start of its episode). */
export function warningPoint(
  place: Placement,
  { event, active, figures }: WarningFinding,
  handling?: HandlingView,
): SchemaPoint<"warning"> {
  const h = handling?.of.get(warningId(event));
  return schemaPoint(
    "warning",
    ns(event.ts),
    {
      ...place,
      category: event.category,
      subject_kind: event.subjectKind,
      subject: event.subject,
      rule: event.rule,
      severity: event.severity,
    },
    {
      active,
      message: event.message,
      ...figures,
      ...(handling
        ? {
            handling: h?.state ?? "open",
            handled_by: h?.by ?? "",
            handling_overdue: handlingOverdue(event.ts, h, handling.now, handling.limits) ? 1 : 0,
          }
        : {}),
    },
  );
}
