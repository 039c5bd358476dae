import { allDashboards, ITEM_STATE_FILTERS } from "@supervision/dashboards";

/**
 * A panel query as Grafana sends it: All for every variable (every application for the items dashboard's one, its
 * state filter's "all"), and the dashboard's range as a time filter (`todayHours` back for day-scale dashboards, 400
 * days for month-scale ones).
 */
export function asGrafanaSends(query: string, range: string, todayHours = 6): string {
  const since = range.includes("M") ? "now() - 400d" : `now() - ${todayHours}h`;
  return query
    .replaceAll("$timeFilter", `time >= ${since}`)
    .replaceAll("$__interval", "5m")
    .replaceAll("$state", ITEM_STATE_FILTERS.all)
    .replace(/\$(region|town|site|window|department|application)\b/g, ".*");
}

/**
 * Every panel target of every dashboard: [name, query as sent, panel type, what the panel shows when the query
 * finds nothing (undefined: Grafana's "No data")].
 */
export function panelQueries(todayHours = 6): (readonly [string, string, string, string | undefined])[] {
  return allDashboards().flatMap((d) =>
    d.panels.flatMap((panel) =>
      panel.targets.map(
        (t) =>
          [
            `${d.uid} / ${panel.title} / ${t.refId}`,
            asGrafanaSends(t.query, d.time.from, todayHours),
            panel.type,
            panel.fieldConfig.defaults.noValue,
          ] as const,
      ),
    ),
  );
}
