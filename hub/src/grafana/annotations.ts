/** Supervision warnings and cards as Grafana annotations (tagged `supervision`, shown on every dashboard). */
import type { CardEvent, WarningEvent } from "../controller/extension.ts";
import type { Annotation } from "./client.ts";

export function warningAnnotation(event: WarningEvent): Annotation {
  const state = event.active ? "raised" : "cleared";
  return {
    time: event.ts,
    text: `${event.severity} ${state}: ${event.message} (${event.subjectKind} ${event.subject}, rule ${event.rule})`,
    tags: ["supervision", "warning", event.severity, `site:${event.site}`, `rule:${event.rule}`, event.category],
  };
}

export function cardAnnotation(event: CardEvent): Annotation {
  const reasons = event.reasons.length > 0 ? `: ${event.reasons.join("; ")}` : "";
  return {
    time: event.ts,
    text: `${event.color} card for ${event.subjectKind} ${event.subject}${reasons}`,
    tags: ["supervision", "card", event.color, `site:${event.site}`],
  };
}
