import { readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { isNode, LineCounter, parseDocument } from "yaml";
import type { z } from "zod";
import { type Registry, RegistryFile } from "./schema.ts";

/** Registry files are hand-written lists; anything larger is a mistake or an attack. */
export const MAX_REGISTRY_FILE_BYTES = 1024 * 1024;

/** One problem found in the registry, pointing at the file and line to fix. */
export interface RegistryError {
  code: "unreadable" | "too_large" | "yaml" | "schema" | "duplicate" | "reference" | "empty";
  file: string;
  line: number;
  message: string;
}

export class RegistryLoadError extends Error {
  constructor(readonly errors: RegistryError[]) {
    super(`registry has ${errors.length} error(s):\n${errors.map(formatRegistryError).join("\n")}`);
    this.name = "RegistryLoadError";
  }
}

export function formatRegistryError(error: RegistryError): string {
  return `${error.file}:${error.line}: ${error.message}`;
}

type ListName = keyof RegistryFile;
const LISTS: ListName[] = ["regions", "towns", "departments", "sites", "windows", "people", "rosters", "gateways", "devices"];

/** Where each entity came from, so cross-file errors can still point at a line. */
interface Located<T> {
  value: T;
  file: string;
  line: number;
  index: number;
  list: ListName;
}

interface ParsedFile {
  file: string;
  entries: Located<unknown>[];
  lineOf(path: (string | number)[]): number;
}

function parseFile(file: string, errors: RegistryError[]): ParsedFile | undefined {
  let text: string;
  try {
    if (statSync(file).size > MAX_REGISTRY_FILE_BYTES) {
      errors.push({
        code: "too_large",
        file,
        line: 1,
        message: `file is larger than ${MAX_REGISTRY_FILE_BYTES} bytes; split it into several files`,
      });
      return undefined;
    }
    text = readFileSync(file, "utf8");
  } catch (err) {
    errors.push({ code: "unreadable", file, line: 1, message: `cannot read the file (${(err as Error).message}); check its permissions` });
    return undefined;
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      errors.push({ code: "yaml", file, line: lineCounter.linePos(e.pos[0]).line, message: `invalid YAML: ${e.message.split("\n")[0]}` });
    }
    return undefined;
  }
  const lineOf = (path: (string | number)[]): number => {
    for (let n = path.length; n >= 0; n--) {
      const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
      if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
    }
    return 1;
  };
  let data: unknown;
  try {
    // maxAliasCount stops "billion laughs" alias bombs from expanding.
    data = doc.toJS({ maxAliasCount: 50 });
  } catch (err) {
    errors.push({ code: "yaml", file, line: 1, message: `${(err as Error).message}; write the values out instead of using aliases` });
    return undefined;
  }
  if (data === null || data === undefined) return { file, entries: [], lineOf };
  const parsed = RegistryFile.safeParse(data);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) errors.push(schemaError(file, lineOf, issue));
    return undefined;
  }
  const entries: Located<unknown>[] = [];
  for (const list of LISTS) {
    (parsed.data[list] ?? []).forEach((value, index) => {
      entries.push({ value, file, line: lineOf([list, index]), index, list });
    });
  }
  return { file, entries, lineOf };
}

function schemaError(file: string, lineOf: (path: (string | number)[]) => number, issue: z.core.$ZodIssue): RegistryError {
  const path = issue.path.filter((p): p is string | number => typeof p !== "symbol");
  const where = path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`)).join("");
  let message = issue.message;
  if (issue.code === "unrecognized_keys") {
    message = `unknown key(s) ${issue.keys.map((k) => `"${k}"`).join(", ")}; remove or fix the spelling`;
    return { code: "schema", file, line: lineOf([...path, issue.keys[0] ?? ""]), message: where ? `${where}: ${message}` : message };
  }
  return { code: "schema", file, line: lineOf(path), message: `${where || "(top level)"}: ${message}` };
}

function known(ids: Iterable<string>): string {
  const list = [...ids];
  if (list.length === 0) return "none defined";
  return list.length > 20 ? `${list.slice(0, 20).join(", ")}, ...` : list.join(", ");
}

/**
 * Loads, validates and cross-checks every *.yaml / *.yml file in `dir`. Throws RegistryLoadError listing every
 * problem (not just the first) so one edit can fix them all.
 */
export function loadRegistry(dir: string, version = 1): Registry {
  const errors: RegistryError[] = [];
  let names: string[];
  try {
    names = readdirSync(dir)
      .filter((n) => /\.ya?ml$/.test(n))
      .sort();
  } catch (err) {
    throw new RegistryLoadError([
      {
        code: "unreadable",
        file: dir,
        line: 1,
        message: `cannot read the registry directory (${(err as Error).message}); pass an existing directory`,
      },
    ]);
  }
  if (names.length === 0) {
    throw new RegistryLoadError([
      { code: "empty", file: dir, line: 1, message: "no *.yaml files; add the registry files (see config/registry)" },
    ]);
  }
  const files = names.map((n) => parseFile(join(dir, n), errors)).filter((f): f is ParsedFile => f !== undefined);

  const registry: Registry = {
    version,
    regions: new Map(),
    towns: new Map(),
    departments: new Map(),
    sites: new Map(),
    windows: new Map(),
    people: new Map(),
    rosters: new Map(),
    gateways: new Map(),
    devices: new Map(),
  };
  const origin = new Map<unknown, Located<unknown>>();
  for (const file of files) {
    for (const entry of file.entries) {
      const map = registry[entry.list] as Map<string, unknown>;
      const id = (entry.value as { id: string }).id;
      const earlier = map.get(id);
      if (earlier !== undefined) {
        const first = origin.get(earlier);
        errors.push({
          code: "duplicate",
          file: entry.file,
          line: entry.line,
          message: `${entry.list}[${entry.index}].id "${id}" is already defined at ${first ? `${basename(first.file)}:${first.line}` : "another file"}; ids must be unique`,
        });
        continue;
      }
      map.set(id, entry.value);
      origin.set(entry.value, entry);
    }
  }

  const ref = (entity: unknown, field: string, value: string | undefined, target: Map<string, unknown>, kind: string, extra = ""): void => {
    if (value === undefined || target.has(value)) return;
    const at = origin.get(entity);
    if (!at) return;
    errors.push({
      code: "reference",
      file: at.file,
      line: at.line,
      message: `${at.list}[${at.index}].${field} "${value}" is not a ${kind}${extra}; known: ${known(target.keys())}`,
    });
  };
  const mismatch = (entity: unknown, message: string): void => {
    const at = origin.get(entity);
    if (at) errors.push({ code: "reference", file: at.file, line: at.line, message: `${at.list}[${at.index}]${message}` });
  };

  for (const t of registry.towns.values()) ref(t, "region", t.region, registry.regions, "region");
  for (const s of registry.sites.values()) {
    ref(s, "town", s.town, registry.towns, "town");
    ref(s, "gateway", s.gateway, registry.gateways, "gateway");
    const gw = registry.gateways.get(s.gateway);
    if (gw && gw.site !== s.id) mismatch(s, `.gateway "${s.gateway}" serves site "${gw.site}", not "${s.id}"; one gateway per site`);
  }
  for (const w of registry.windows.values()) {
    ref(w, "site", w.site, registry.sites, "site");
    ref(w, "department", w.department, registry.departments, "department");
  }
  const gatewayOfSite = new Map<string, string>();
  for (const g of registry.gateways.values()) {
    ref(g, "site", g.site, registry.sites, "site");
    const other = gatewayOfSite.get(g.site);
    if (other) mismatch(g, `.site "${g.site}" is already served by gateway "${other}"; one gateway per site`);
    gatewayOfSite.set(g.site, g.id);
    if (!g.secret && !g.secretHash) mismatch(g, `: gateway "${g.id}" needs secretHash (from \`hub hash-secret\`) or secret`);
  }
  for (const r of registry.rosters.values()) {
    for (const e of r.exceptions) ref(r, "exceptions.person", e.person, registry.people, "person");
  }
  for (const p of registry.people.values()) {
    ref(p, "site", p.site, registry.sites, "site");
    ref(p, "roster", p.roster, registry.rosters, "roster");
    ref(p, "window", p.window, registry.windows, "window");
    const w = p.window ? registry.windows.get(p.window) : undefined;
    if (w && w.site !== p.site) mismatch(p, `.window "${w.id}" belongs to site "${w.site}", not "${p.site}"`);
  }
  for (const d of registry.devices.values()) {
    ref(d, "site", d.site, registry.sites, "site");
    ref(d, "window", d.window, registry.windows, "window");
    const w = d.window ? registry.windows.get(d.window) : undefined;
    if (w && w.site !== d.site) mismatch(d, `.window "${w.id}" belongs to site "${w.site}", not "${d.site}"`);
    if (d.kind === "keypad" && !d.window) mismatch(d, `: keypad "${d.id}" needs a window`);
  }

  if (errors.length > 0) throw new RegistryLoadError(errors);
  return registry;
}
