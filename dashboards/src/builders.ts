/**
 * Small typed builders for Grafana dashboard JSON (the subset these dashboards use). Every query is raw
 * InfluxQL against hub/SCHEMA.md's measurements through one InfluxDB data source.
 */

export const DATASOURCE_UID = "supervision-influxdb";
/** The central InfluxDB's data source, as the hub provisions it (the region data sources' names start the same way). */
export const DATASOURCE_NAME = "Supervision InfluxDB";
export const DATASOURCE = { type: "influxdb", uid: DATASOURCE_UID } as const;
export interface DataSourceRef {
  type: "influxdb";
  uid: string;
}
/** The data source variable's name: the per-region dashboards query `${datasource}` (withDatasourceVariable). */
export const DATASOURCE_VARIABLE = "datasource";
/** What a per-region dashboard's panels, targets and tag variables query: the data source chosen in its variable. */
export const CHOSEN_DATASOURCE: DataSourceRef = { type: "influxdb", uid: `\${${DATASOURCE_VARIABLE}}` };

/** Card colours, so green/yellow/red mean the same thing on every panel as on the cards themselves. */
export const COLORS = { green: "green", yellow: "yellow", red: "red", neutral: "blue" } as const;

export interface Target {
  refId: string;
  datasource: DataSourceRef;
  rawQuery: true;
  query: string;
  resultFormat: "time_series" | "table";
}

export interface Threshold {
  value: number | null;
  color: string;
}

export interface GridPos {
  h: number;
  w: number;
  x: number;
  y: number;
}

/** Grafana's schema gives panel data links the dashboard-link shape. */
export type PanelLink = DashboardLink;

export type PanelType = "stat" | "timeseries" | "table" | "barchart" | "state-timeline" | "gauge";

export interface Panel {
  id: number;
  type: PanelType;
  title: string;
  description?: string;
  datasource: DataSourceRef;
  gridPos: GridPos;
  targets: Target[];
  fieldConfig: {
    defaults: {
      unit?: string;
      decimals?: number;
      min?: number;
      max?: number;
      thresholds?: { mode: "absolute" | "percentage"; steps: Threshold[] };
      color?: { mode: "thresholds" | "palette-classic" | "fixed"; fixedColor?: string };
      links?: PanelLink[];
      noValue?: string;
      mappings?: ValueMapping[];
    };
    overrides: FieldOverride[];
  };
  options: Record<string, unknown>;
  /** Panel links (the panel header's link menu): where its details are. `fieldConfig.defaults.links` are data links. */
  links?: PanelLink[];
}

/** A value shown as a text (and colour): the data's stable English words, read in the dashboard's language. */
export interface ValueMapping {
  type: "value";
  options: Record<string, { text: string; color?: string; index: number }>;
}

/** Settings for one column (a tag column, named by InfluxDB after the tag): its header, and the texts of its values. */
export interface FieldOverride {
  matcher: { id: "byName"; options: string };
  properties: Array<{ id: "displayName"; value: string } | { id: "mappings"; value: ValueMapping[] } | { id: "links"; value: PanelLink[] }>;
}

/** One value mapping from `value → [text, colour?]`, in the order given. */
export function valueMapping(texts: Record<string, readonly [string, string?]>): ValueMapping {
  const options: ValueMapping["options"] = {};
  Object.entries(texts).forEach(([value, [text, color]], index) => {
    options[value] = color === undefined ? { text, index } : { text, color, index };
  });
  return { type: "value", options };
}

export interface Variable {
  type: "query";
  name: string;
  label: string;
  datasource: DataSourceRef;
  query: string;
  refresh: 1 | 2;
  multi: boolean;
  includeAll: boolean;
  allValue: string;
  sort: 1;
  current: { text: string; value: string };
}

/** A variable of fixed choices (`text : value`), one chosen at a time. */
export interface CustomVariable {
  type: "custom";
  name: string;
  label: string;
  query: string;
  options: { text: string; value: string; selected: boolean }[];
  multi: false;
  includeAll: false;
  current: { text: string; value: string };
}

/**
 * Grafana's data source variable: the supervision InfluxDB data sources (the central one and each region's, whose
 * names start with DATASOURCE_NAME), the central one chosen.
 */
export interface DatasourceVariable {
  type: "datasource";
  name: string;
  label: string;
  query: "influxdb";
  regex: string;
  refresh: 1;
  multi: false;
  includeAll: false;
  current: { text: string; value: string };
}

export type TemplateVariable = Variable | CustomVariable | DatasourceVariable;

/**
 * Fixed choices, the first chosen. Grafana splits the query at commas and at " : ", so neither may be in a text or value;
 * a value not used inside a regex is put in the query as it is.
 */
export function customVariable(name: string, label: string, choices: readonly (readonly [text: string, value: string])[]): CustomVariable {
  for (const [text, value] of choices)
    if (/,| : /.test(text) || /,| : /.test(value)) throw new Error(`variable ${name}: "${text}" / "${value}" holds a comma or " : "`);
  const [first] = choices;
  if (!first) throw new Error(`variable ${name}: no choices`);
  return {
    type: "custom",
    name,
    label,
    query: choices.map(([text, value]) => `${text} : ${value}`).join(","),
    options: choices.map(([text, value], i) => ({ text, value, selected: i === 0 })),
    multi: false,
    includeAll: false,
    current: { text: first[0], value: first[1] },
  };
}

/**
 * A variable listing what an InfluxQL SELECT returns (its first column after the time), one chosen at a time, none
 * chosen at first; used inside a regex (`=~ /^$name$/`), so Grafana escapes the chosen value.
 */
export function selectVariable(name: string, label: string, query: string): Variable {
  return {
    type: "query",
    name,
    label,
    datasource: DATASOURCE,
    query,
    refresh: 2,
    multi: false,
    includeAll: false,
    allValue: "",
    sort: 1,
    current: { text: "", value: "" },
  };
}

export interface DashboardLink {
  title: string;
  type: "link";
  icon: "dashboard";
  tooltip: string;
  url: string;
  tags: string[];
  asDropdown: false;
  targetBlank: false;
  includeVars: true;
  keepTime: true;
}

export interface Dashboard {
  uid: string;
  title: string;
  description: string;
  tags: string[];
  timezone: "browser";
  editable: boolean;
  graphTooltip: 1;
  time: { from: string; to: string };
  refresh: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: TemplateVariable[] };
  annotations: { list: AnnotationQuery[] };
  links: DashboardLink[];
}

export interface AnnotationQuery {
  name: string;
  datasource: { type: "grafana"; uid: "-- Grafana --" };
  enable: true;
  hide: boolean;
  iconColor: string;
  builtIn?: 1;
  type: "dashboard" | "tags";
  target?: { type: "tags"; tags: string[]; limit: number; matchAny: boolean };
}

/** Tag filter for the template variables a dashboard declares; `All` is the regex `.*`. */
export function tagFilter(tags: readonly string[]): string {
  return tags.map((tag) => `"${tag}" =~ /^$${tag}$/`).join(" AND ");
}

export function target(query: string, resultFormat: Target["resultFormat"] = "time_series", refId = "A"): Target {
  return { refId, datasource: DATASOURCE, rawQuery: true, query, resultFormat };
}

/** Thresholds from a base colour and ascending [value, colour] steps. */
export function thresholds(base: string, ...steps: Array<[number, string]>): NonNullable<Panel["fieldConfig"]["defaults"]["thresholds"]> {
  return { mode: "absolute", steps: [{ value: null, color: base }, ...steps.map(([value, color]) => ({ value, color }))] };
}

export interface PanelSpec {
  type: PanelType;
  title: string;
  description?: string;
  targets: Target[];
  unit?: string;
  decimals?: number;
  min?: number;
  max?: number;
  thresholds?: Panel["fieldConfig"]["defaults"]["thresholds"];
  links?: PanelLink[];
  /** Links of the panel itself (its header), not of its values: e.g. to the dashboard holding the rows behind a count. */
  panelLinks?: PanelLink[];
  /** What a stat shows when its query finds nothing: "0" for counts of people or windows, never "No data". */
  noValue?: string;
  mappings?: ValueMapping[];
  overrides?: FieldOverride[];
  options?: Record<string, unknown>;
  w: number;
  h: number;
}

/** Lays panels out left to right, wrapping at Grafana's 24-column grid, and numbers them. */
export function layout(specs: readonly PanelSpec[]): Panel[] {
  let x = 0;
  let y = 0;
  let rowHeight = 0;
  return specs.map((spec, index) => {
    if (x + spec.w > 24) {
      x = 0;
      y += rowHeight;
      rowHeight = 0;
    }
    const gridPos = { h: spec.h, w: spec.w, x, y };
    x += spec.w;
    rowHeight = Math.max(rowHeight, spec.h);
    const defaults: Panel["fieldConfig"]["defaults"] = {};
    if (spec.unit !== undefined) defaults.unit = spec.unit;
    if (spec.decimals !== undefined) defaults.decimals = spec.decimals;
    if (spec.min !== undefined) defaults.min = spec.min;
    if (spec.max !== undefined) defaults.max = spec.max;
    if (spec.thresholds !== undefined) {
      defaults.thresholds = spec.thresholds;
      defaults.color = { mode: "thresholds" };
    }
    if (spec.links !== undefined) defaults.links = spec.links;
    if (spec.noValue !== undefined) defaults.noValue = spec.noValue;
    if (spec.mappings !== undefined) defaults.mappings = spec.mappings;
    const panel: Panel = {
      id: index + 1,
      type: spec.type,
      title: spec.title,
      datasource: DATASOURCE,
      gridPos,
      targets: spec.targets,
      fieldConfig: { defaults, overrides: spec.overrides ?? [] },
      options: spec.options ?? {},
    };
    if (spec.description !== undefined) panel.description = spec.description;
    if (spec.panelLinks !== undefined) panel.links = spec.panelLinks;
    return panel;
  });
}

const ALL = { text: "All", value: "$__all" };

/**
 * A SHOW TAG VALUES variable, narrowed by the variables before it (region → town → site → window). `from` is the
 * measurement as InfluxQL names it (`rating.NAME`, or `gateway_health.FROM` outside the default policy).
 */
export function tagVariable(name: string, label: string, from: string, narrowBy: readonly string[] = []): Variable {
  const where = narrowBy.length > 0 ? ` WHERE ${tagFilter(narrowBy)}` : "";
  return {
    type: "query",
    name,
    label,
    datasource: DATASOURCE,
    query: `SHOW TAG VALUES FROM ${from} WITH KEY = "${name}"${where}`,
    refresh: 1,
    multi: true,
    includeAll: true,
    allValue: ".*",
    sort: 1,
    current: ALL,
  };
}

export function dashboardLink(title: string, uid: string, tooltip: string, url = `/d/${uid}`): DashboardLink {
  return {
    title,
    type: "link",
    icon: "dashboard",
    tooltip,
    url,
    tags: [],
    asDropdown: false,
    targetBlank: false,
    includeVars: true,
    keepTime: true,
  };
}

/** The built-in annotations plus the hub's warning/card annotations (posted with these tags). */
export function annotations(warningsName: string): Dashboard["annotations"] {
  const grafana = { type: "grafana", uid: "-- Grafana --" } as const;
  return {
    list: [
      {
        name: "Annotations & Alerts",
        datasource: grafana,
        enable: true,
        hide: true,
        iconColor: "rgba(0, 211, 255, 1)",
        builtIn: 1,
        type: "dashboard",
      },
      {
        name: warningsName,
        datasource: grafana,
        enable: true,
        hide: false,
        iconColor: COLORS.red,
        type: "tags",
        target: { type: "tags", tags: ["supervision"], limit: 200, matchAny: true },
      },
    ],
  };
}

export interface DashboardSpec {
  uid: string;
  title: string;
  description: string;
  tags: string[];
  time: { from: string; to: string };
  refresh: string;
  variables: TemplateVariable[];
  panels: PanelSpec[];
  links?: DashboardLink[];
  editable?: boolean;
  /** The name of the hub's warning and card annotations, in the dashboard's language. */
  annotationsName: string;
}

export const SCHEMA_VERSION = 41;

export function dashboard(spec: DashboardSpec): Dashboard {
  return {
    uid: spec.uid,
    title: spec.title,
    description: spec.description,
    tags: ["supervision", ...spec.tags],
    timezone: "browser",
    editable: spec.editable ?? true,
    graphTooltip: 1,
    time: spec.time,
    refresh: spec.refresh,
    schemaVersion: SCHEMA_VERSION,
    panels: layout(spec.panels),
    templating: { list: spec.variables },
    annotations: annotations(spec.annotationsName),
    links: spec.links ?? [],
  };
}

/**
 * A dashboard that reads one region's data at a time: a data source variable first (the central InfluxDB chosen, each
 * region's to choose, hub/README.md "InfluxDB by region"), and every panel, target and tag variable on the chosen one.
 */
export function withDatasourceVariable(d: Dashboard, label: string): Dashboard {
  const variable: DatasourceVariable = {
    type: "datasource",
    name: DATASOURCE_VARIABLE,
    label,
    query: "influxdb",
    regex: `/^${DATASOURCE_NAME}/`,
    refresh: 1,
    multi: false,
    includeAll: false,
    current: { text: DATASOURCE_NAME, value: DATASOURCE_UID },
  };
  return {
    ...d,
    panels: d.panels.map((p) => ({
      ...p,
      datasource: CHOSEN_DATASOURCE,
      targets: p.targets.map((t) => ({ ...t, datasource: CHOSEN_DATASOURCE })),
    })),
    templating: { list: [variable, ...d.templating.list.map((v) => (v.type === "query" ? { ...v, datasource: CHOSEN_DATASOURCE } : v))] },
  };
}
