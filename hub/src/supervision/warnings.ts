import { ns } from "../influx/query.ts";
import { type SchemaPoint, schemaPoint } from "../schema/index.ts";
import type { Placement, WarningFinding } from "./rules/rule.ts";

/** The `warning` point of a rule's warning, stamped at the warning's time (the start of its episode). */
export function warningPoint(place: Placement, { event, active, figures }: WarningFinding): SchemaPoint<"warning"> {
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
    { active, message: event.message, ...figures },
  );
}
