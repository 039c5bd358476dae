import { readFileSync, statSync } from "node:fs";
import { type Document, isMap, isNode, isScalar, isSeq, LineCounter, parseDocument } from "yaml";
import type { z } from "zod";

/**
 * The one way a hand-written YAML file (gateway settings, hub settings, registry files) is read: one size limit,
 * one alias limit, every problem at once with the file and line, one error type.
 */

/** Settings and registry files are written by hand; anything larger is the wrong file or an attack. Split large registries. */
export const MAX_CONFIG_FILE_BYTES = 256 * 1024;
/** Aliases a file may expand: a few are handy, thousands are a "billion laughs" bomb. */
export const MAX_CONFIG_ALIASES = 50;
/** Log levels, the same key (`logLevel`) and values in the gateway's and the hub's settings. */
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

export type ConfigProblemCode =
  | "unreadable"
  | "too_large"
  | "yaml"
  | "schema"
  | "renamed"
  // the registry's cross-file checks
  | "empty"
  | "duplicate"
  | "reference"
  | "secret"
  | "gateway";

/** One thing to fix: where (file, line, key path) and what. */
export interface ConfigProblem {
  code: ConfigProblemCode;
  file: string;
  line: number;
  /** The key path, e.g. `broker.port` or `devices[2].serial.port`; absent or "" for the whole file. */
  path?: string;
  /** What is wrong and what to do, without the file and line. */
  message: string;
}

export function formatConfigProblem(problem: ConfigProblem): string {
  return `${problem.file}:${problem.line}: ${problem.message}`;
}

/** Every problem found in a configuration file or folder. */
export class ConfigError extends Error {
  /** Each problem as `file:line: message`. */
  readonly problems: string[];
  /** The first problem's file, key path and line. */
  readonly file: string;
  readonly path: string | undefined;
  readonly line: number | undefined;

  constructor(readonly errors: ConfigProblem[]) {
    const problems = errors.map(formatConfigProblem);
    super(problems.join("\n"));
    this.name = "ConfigError";
    this.problems = problems;
    this.file = errors[0]?.file ?? "";
    this.path = errors[0]?.path || undefined;
    this.line = errors[0]?.line;
  }
}

export interface ConfigFileOptions {
  /** Where the keys are documented, named in "unknown key" problems (e.g. "hub/README.md"). */
  docs?: string;
  /** What to do when the file cannot be read (e.g. "pass --settings <file>"). */
  unreadableHint?: string;
  /** Keys that were renamed, old path → new path (e.g. "log.level" → "logLevel"): the old key names the new one. */
  renamed?: Readonly<Record<string, string>>;
}

/** A parsed YAML file and a way back from key paths to lines. */
export interface ConfigDocument {
  file: string;
  text: string;
  data: unknown;
  /** The line of the deepest node that exists on `path` (1 when none does). */
  lineOf(path: readonly (string | number)[]): number;
}

/** "towns[0].name" */
export function formatKeyPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join("");
}

/** Parses YAML text; problems (broken YAML, alias bombs) are added to `problems` and the result is undefined. */
export function parseConfigText(text: string, file: string, problems: ConfigProblem[]): ConfigDocument | undefined {
  if (Buffer.byteLength(text) > MAX_CONFIG_FILE_BYTES) {
    problems.push(tooLarge(file));
    return undefined;
  }
  const lineCounter = new LineCounter();
  // resolveKnownTags: false keeps YAML 1.1 tags (!!binary, !!set, !!timestamp...) from turning values into
  // Buffers, Sets or Dates that a schema for plain data might take for objects.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, resolveKnownTags: false });
  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      problems.push({
        code: "yaml",
        file,
        line: lineCounter.linePos(e.pos[0]).line,
        path: "",
        message: `invalid YAML: ${e.message.split("\n")[0]}`,
      });
    }
    return undefined;
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_CONFIG_ALIASES });
  } catch (err) {
    problems.push({
      code: "yaml",
      file,
      line: 1,
      path: "",
      message: `${(err as Error).message}; write the values out instead of using aliases`,
    });
    return undefined;
  }
  return { file, text, data, lineOf: (path) => lineOf(doc, lineCounter, path) };
}

/** Reads and parses a YAML file, refusing an oversized one before reading it. */
export function readConfigFile(file: string, problems: ConfigProblem[], options: ConfigFileOptions = {}): ConfigDocument | undefined {
  let text: string;
  try {
    if (statSync(file).size > MAX_CONFIG_FILE_BYTES) {
      problems.push(tooLarge(file));
      return undefined;
    }
    text = readFileSync(file, "utf8");
  } catch (err) {
    problems.push({
      code: "unreadable",
      file,
      line: 1,
      path: "",
      message: `cannot read it (${(err as Error).message}); ${options.unreadableHint ?? "check the path and its permissions"}`,
    });
    return undefined;
  }
  return parseConfigText(text, file, problems);
}

/** Checks parsed data against a schema; each problem (all of them) names its line and key. */
export function checkConfig<S extends z.ZodType>(
  doc: ConfigDocument,
  schema: S,
  problems: ConfigProblem[],
  options: ConfigFileOptions = {},
  /** The data to check when not the document's own (e.g. `{}` for an empty settings file). */
  data: unknown = doc.data,
): z.output<S> | undefined {
  const renamed = renamedKeys(doc, data, options);
  problems.push(...renamed);
  const parsed = schema.safeParse(data);
  if (parsed.success && renamed.length === 0) return parsed.data;
  if (parsed.success) return undefined;
  const oldPaths = renamed.map((p) => p.path ?? "");
  const newPaths = renamed.map((p) => options.renamed?.[p.path ?? ""] ?? "");
  /** An issue a rename already explains: the old key is unknown, the new one missing. */
  const explained = (issue: z.core.$ZodIssue, path: readonly (string | number)[]): boolean =>
    issue.code === "unrecognized_keys"
      ? issue.keys.every((k) => oldPaths.includes(formatKeyPath([...path, k])))
      : issue.code === "invalid_type" && newPaths.includes(formatKeyPath(path));
  for (const { issue, path } of closestIssues(parsed.error.issues, [], explained)) {
    if (explained(issue, path)) continue;
    if (issue.code === "unrecognized_keys") {
      const keys = issue.keys.filter(
        (k) => !oldPaths.some((old) => old === formatKeyPath([...path, k]) || old.startsWith(`${formatKeyPath([...path, k])}.`)),
      );
      if (keys.length === 0) continue;
      const where = formatKeyPath(path);
      const see = options.docs ? ` (see ${options.docs})` : "";
      problems.push({
        code: "schema",
        file: doc.file,
        line: doc.lineOf([...path, keys[0] ?? ""]),
        path: formatKeyPath([...path, keys[0] ?? ""]),
        message: `${where ? `${where}: ` : ""}unknown key(s) ${keys.map((k) => `"${k}"`).join(", ")}; remove or fix the spelling${see}`,
      });
      continue;
    }
    const where = formatKeyPath(path);
    problems.push({
      code: "schema",
      file: doc.file,
      line: doc.lineOf(path),
      path: where,
      message: `${where || "(top level)"}: ${issue.message}`,
    });
  }
  return undefined;
}

/**
 * Reads a whole configuration file: YAML, size and alias limits, the schema. Throws ConfigError with every problem.
 * An empty file is `{}`, so a schema of defaults accepts it.
 */
export function loadConfigFile<S extends z.ZodType>(file: string, schema: S, options: ConfigFileOptions = {}): z.output<S> {
  const problems: ConfigProblem[] = [];
  const doc = readConfigFile(file, problems, options);
  const value = doc ? checkConfig(doc, schema, problems, options, doc.data ?? {}) : undefined;
  if (problems.length > 0 || value === undefined) throw new ConfigError(problems);
  return value;
}

/** The same, from text already in memory (`file` names it in problems). */
export function parseConfigFile<S extends z.ZodType>(text: string, file: string, schema: S, options: ConfigFileOptions = {}): z.output<S> {
  const problems: ConfigProblem[] = [];
  const doc = parseConfigText(text, file, problems);
  const value = doc ? checkConfig(doc, schema, problems, options, doc.data ?? {}) : undefined;
  if (problems.length > 0 || value === undefined) throw new ConfigError(problems);
  return value;
}

/**
 * Issues with their full paths; for a value that matches no branch of a union (e.g. the hub's two broker forms), the
 * issues of the branch it came closest to, instead of zod's bare "Invalid input".
 */
function closestIssues(
  issues: readonly z.core.$ZodIssue[],
  prefix: readonly (string | number)[],
  explained: (issue: z.core.$ZodIssue, path: readonly (string | number)[]) => boolean,
): { issue: z.core.$ZodIssue; path: (string | number)[] }[] {
  return issues.flatMap((issue) => {
    const path = [...prefix, ...issue.path.filter((p): p is string | number => typeof p !== "symbol")];
    if (issue.code === "invalid_union" && issue.errors.length > 0) {
      const branches = issue.errors.map((branch) => closestIssues(branch, path, explained));
      const score = (branch: { issue: z.core.$ZodIssue; path: (string | number)[] }[]) =>
        branch.filter((i) => !explained(i.issue, i.path)).length;
      const closest = branches.reduce((best, branch) => (score(branch) < score(best) ? branch : best));
      if (closest.length > 0) return closest;
    }
    return [{ issue, path }];
  });
}

function tooLarge(file: string): ConfigProblem {
  return {
    code: "too_large",
    file,
    line: 1,
    path: "",
    message: `file is larger than ${MAX_CONFIG_FILE_BYTES} bytes; is it the right file? (split a large registry into several files)`,
  };
}

function renamedKeys(doc: ConfigDocument, data: unknown, options: ConfigFileOptions): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const [old, now] of Object.entries(options.renamed ?? {})) {
    const path = old.split(".");
    let node: unknown = data;
    for (const key of path)
      node = node !== null && typeof node === "object" && !Array.isArray(node) ? (node as Record<string, unknown>)[key] : undefined;
    if (node === undefined) continue;
    const example = node !== null && typeof node === "object" ? "..." : JSON.stringify(node);
    problems.push({
      code: "renamed",
      file: doc.file,
      line: doc.lineOf(path),
      path: old,
      message: `${old} is now ${now}; write ${now}: ${example}${options.docs ? ` (see ${options.docs})` : ""}`,
    });
  }
  return problems;
}

/** The line of the key (or list item) at `path`, else of its nearest existing parent. */
function lineOf(doc: Document.Parsed, lineCounter: LineCounter, path: readonly (string | number)[]): number {
  const line = (offset: number | undefined) => (offset === undefined ? undefined : lineCounter.linePos(offset).line);
  for (let n = path.length; n >= 1; n--) {
    const parent = n === 1 ? doc.contents : doc.getIn(path.slice(0, n - 1), true);
    const key = path[n - 1];
    if (isMap(parent)) {
      const pair = parent.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === key);
      const at = line(isNode(pair?.key) ? pair.key.range?.[0] : undefined);
      if (at !== undefined) return at;
    } else if (isSeq(parent) && typeof key === "number") {
      const item = parent.items[key];
      const at = line(isNode(item) ? item.range?.[0] : undefined);
      if (at !== undefined) return at;
    }
  }
  return line(isNode(doc.contents) ? doc.contents.range?.[0] : undefined) ?? 1;
}
