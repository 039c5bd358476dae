import type { CardEvent } from "../controller/extension.ts";
import { ns } from "../influx/query.ts";
import { type SchemaPoint, schemaPoint } from "../schema/index.ts";
import type { Placement } from "./rules/rule.ts";

export type CardColor = CardEvent["color"];

export function cardColor(faults: number, cards: { yellowAfter: number; redAfter: number }): CardColor {
  return faults >= cards.redAfter ? "red" : faults >= cards.yellowAfter ? "yellow" : "green";
}

/** A subject's card of the day from its faults (one reason each), and its `card` point. */
export function dayCard(
  place: Placement,
  at: number,
  /** `department`: the subject's (a clerk's or window's), "" when it has none (a site supervisor). */
  subject: { kind: CardEvent["subjectKind"]; id: string; department: string; reasons: string[] },
  cards: { yellowAfter: number; redAfter: number },
): { event: CardEvent; point: SchemaPoint<"card"> } {
  const color = cardColor(subject.reasons.length, cards);
  return {
    event: { ts: at, site: place.site, subjectKind: subject.kind, subject: subject.id, color, reasons: subject.reasons },
    point: schemaPoint(
      "card",
      ns(at),
      { ...place, department: subject.department, subject_kind: subject.kind, subject: subject.id, color },
      { level: color === "green" ? 0 : color === "yellow" ? 1 : 2, reasons: subject.reasons.join("; ") },
    ),
  };
}
