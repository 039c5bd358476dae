import type { EventEmitter } from "node:events";
import type { CardEvent, HubEvents, WarningEvent } from "../controller/extension.ts";

/**
 * Events for what changed since the last run only, so Grafana annotations and notifications are not repeated:
 * a card when its colour changes (a first card only when it is not green), a warning once.
 */
export function createAnnouncer(events: () => EventEmitter<HubEvents>) {
  const lastCards = new Map<string, string>();
  const lastWarnings = new Set<string>();
  return {
    cards(date: string, cards: CardEvent[]): void {
      for (const card of cards) {
        const key = `${date}/${card.subjectKind}/${card.subject}`;
        if (lastCards.get(key) === card.color) continue;
        if (lastCards.has(key) || card.color !== "green") events().emit("card", card);
        lastCards.set(key, card.color);
      }
    },
    warnings(warnings: WarningEvent[]): void {
      for (const warning of warnings) {
        const key = `${warning.site}/${warning.subject}/${warning.rule}/${warning.ts}`;
        if (lastWarnings.has(key)) continue;
        lastWarnings.add(key);
        events().emit("warning", warning);
      }
    },
    /** Forgets a site's warnings (a site this copy does not hold, or whose notification it was fenced from): announced again. */
    forgetWarnings(site: string): void {
      for (const key of lastWarnings) if (key.startsWith(`${site}/`)) lastWarnings.delete(key);
    },
  };
}
export type Announcer = ReturnType<typeof createAnnouncer>;
