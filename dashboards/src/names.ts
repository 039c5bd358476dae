/**
 * Names instead of ids. InfluxDB keeps registry ids in its tags (short, stable, the schema's rule), and a table
 * shows a tag as a column named after the tag. Each such column gets a header from the catalogue here, and, when the
 * hub provisions the dashboards, value mappings from its registry turning each id into the person's, window's,
 * department's or site's name (`withNames`): a rename in the registry shows on every day already stored, and the
 * data carries no copies of names that could disagree. See README.md, "Names instead of ids".
 */
import { type Dashboard, type FieldOverride, type Panel, type ValueMapping, valueMapping } from "./builders.ts";
import type { DashboardMessages } from "./messages.ts";

/** The registry's names by id, as the hub provisions them (`hub/src/grafana`). */
export interface RegistryNames {
  regions: Record<string, string>;
  towns: Record<string, string>;
  sites: Record<string, string>;
  departments: Record<string, string>;
  windows: Record<string, string>;
  people: Record<string, string>;
  /** Approval items by code (the registry's catalogue). */
  items?: Record<string, string>;
}

/** Which names a tag column shows; `subject` is a clerk's, a supervisor's or a window's id. */
const NAMED: Record<string, readonly (keyof RegistryNames)[]> = {
  region: ["regions"],
  town: ["towns"],
  site: ["sites"],
  department: ["departments"],
  window: ["windows"],
  person: ["people"],
  clerk: ["people"],
  subject: ["people", "windows"],
  item: ["items"],
};

type TagColumn = keyof DashboardMessages["tags"];

/** Panels that show tag values as text: a table's columns, a bar chart's categories, a stat's block titles. */
const showsTags = (panel: Panel) => panel.type === "table" || panel.type === "barchart" || (panel.type === "stat" && hasRowValues(panel));
const hasRowValues = (panel: Panel) => (panel.options.reduceOptions as { values?: boolean } | undefined)?.values === true;

/** The tag columns a panel's queries return: quoted tags after GROUP BY, or selected by name in the outer SELECT. */
export function shownTags(panel: Panel, m: DashboardMessages): TagColumn[] {
  const known = new Set(Object.keys(m.tags));
  const found = new Set<string>();
  for (const { query } of panel.targets) {
    const clauses = [...query.matchAll(/GROUP BY ([^)]*?)(?= fill\(|\)|$)/g)].map((g) => g[1] ?? "");
    clauses.push(/^SELECT (.*?) FROM /.exec(query)?.[1] ?? "");
    for (const clause of clauses)
      for (const [, name] of clause.matchAll(/"([a-z_]+)"(?! AS)/g)) if (name && known.has(name)) found.add(name);
  }
  return [...found] as TagColumn[];
}

/** Headers of the tag columns, and the words of `subject_kind`, from the catalogue (the dashboards' own language). */
export function labelTagColumns(panel: Panel, m: DashboardMessages): Panel {
  if (!showsTags(panel)) return panel;
  const overrides: FieldOverride[] = shownTags(panel, m).map((tag) => ({
    matcher: { id: "byName", options: tag },
    properties: [
      { id: "displayName", value: m.tags[tag] },
      ...(tag === "subject_kind"
        ? [
            {
              id: "mappings" as const,
              value: [valueMapping(Object.fromEntries(Object.entries(m.subjectKinds).map(([k, v]) => [k, [v] as const])))],
            },
          ]
        : []),
    ],
  }));
  return overrides.length === 0
    ? panel
    : { ...panel, fieldConfig: { ...panel.fieldConfig, overrides: [...panel.fieldConfig.overrides, ...overrides] } };
}

/** The names of the ids a column may hold, as one value mapping (ids without a name are shown as they are). */
function namesMapping(column: string, names: RegistryNames): ValueMapping | undefined {
  const sources = NAMED[column];
  if (!sources) return undefined;
  const texts: Record<string, readonly [string]> = {};
  for (const source of sources) for (const [id, name] of Object.entries(names[source] ?? {})) texts[id] ??= [name];
  return Object.keys(texts).length === 0 ? undefined : valueMapping(texts);
}

/** The dashboards with each tag column's ids shown as the registry's names (the hub calls this when it provisions). */
export function withNames(dashboards: readonly Dashboard[], names: RegistryNames): Dashboard[] {
  return dashboards.map((d) => ({
    ...d,
    panels: d.panels.map((panel) => ({
      ...panel,
      fieldConfig: {
        ...panel.fieldConfig,
        overrides: panel.fieldConfig.overrides.map((o) => {
          const mapping = namesMapping(o.matcher.options, names);
          return mapping ? { ...o, properties: [...o.properties, { id: "mappings" as const, value: [mapping] }] } : o;
        }),
      },
    })),
  }));
}
