import { ns, type Row } from "../influx/query.ts";
import { type SchemaPoint, schemaPoint } from "../schema/index.ts";
import { type Handling, handlingOverdue, type HandlingSettings, warningId } from "./handling.ts";
import type { Placement, WarningFinding } from "./rules/rule.ts";

/** What a warning's point says of its handling: its state, who took the last step, and whether it is overdue. */
export interface HandlingView {
  of: ReadonlyMap<string, Handling>;
  now: number;
  limits: HandlingSettings;
}

/** The snapshot kept as a warning's evidence: the camera and the image's SHA-256 (the hub's `/cameras/snapshot` page). */
export interface WarningSnapshot {
  device: string;
  sha256: string;
}

/**
 * The snapshots taken for unattended-window warnings (`camera_snapshot` rows with their `window` and `warning_ts`), by
 * warning id; a window with two cameras keeps the first.
 */
export function warningSnapshots(site: string, rows: readonly Row[]): Map<string, WarningSnapshot> {
  const byWarning = new Map<string, WarningSnapshot>();
  for (const r of rows) {
    const ts = Number(r.warning_ts);
    if (typeof r.window !== "string" || typeof r.device !== "string" || typeof r.sha256 !== "string" || !Number.isFinite(ts)) continue;
    const id = warningId({ site, rule: "unattended", subject: r.window, ts });
    if (!byWarning.has(id)) byWarning.set(id, { device: r.device, sha256: r.sha256 });
  }
  return byWarning;
}

/** The `warning` point of a rule's warning, stamped at the warning's time (the start of its episode). */
export function warningPoint(
  place: Placement,
  { event, active, figures, evidence }: WarningFinding,
  handling?: HandlingView,
  snapshots?: ReadonlyMap<string, WarningSnapshot>,
): SchemaPoint<"warning"> {
  const h = handling?.of.get(warningId(event));
  // The hub's snapshot taken for this warning (the window seen empty), else the one the rule rests on.
  const snapshot = snapshots?.get(warningId(event)) ?? evidence;
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
      ...(snapshot ? { snapshot_device: snapshot.device, snapshot_sha256: snapshot.sha256 } : {}),
    },
  );
}
