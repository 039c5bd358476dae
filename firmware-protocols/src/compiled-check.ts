import type { z } from "zod";

/**
 * A zod schema compiled into one plain function that answers "does this value certainly pass?", for the hub's hot
 * path: zod spends about 1.2 µs on a reading, the compiled check about a tenth of that. Zod stays the single source
 * of truth: the function is generated from the schema's own definition (fields, types, ranges, patterns, enums,
 * literals, strictness, and the schema's custom checks, which are called as they are), and `false` means only "not
 * certainly": the caller then asks zod, which gives the verdict and the error. So a value gets the same verdict and
 * the same error either way (compiled-check.test.ts feeds both random and hostile readings and compares).
 *
 * Only what the reading schemas use is compiled: strict objects, arrays (length), strings (length, regex), numbers
 * (integer, range), enums, literals, optional fields. A schema with anything else is not compiled (`compileCheck` returns undefined)
 * and the caller uses zod alone.
 */
export type FastCheck = (value: unknown) => boolean;

/** The parts of zod's internal definitions the compiler reads (zod 4). */
interface ZodInternals {
  _zod: {
    def: {
      type: string;
      shape?: Record<string, ZodInternals>;
      catchall?: ZodInternals;
      innerType?: ZodInternals;
      checks?: CheckInternals[];
      format?: string;
      entries?: Record<string, unknown>;
      values?: unknown[];
      element?: ZodInternals;
    };
  };
}
interface CheckInternals {
  _zod: {
    def: {
      check: string;
      value?: unknown;
      inclusive?: boolean;
      minimum?: number;
      maximum?: number;
      format?: string;
      pattern?: RegExp;
      when?: unknown;
    };
    check(payload: { value: unknown; issues: unknown[] }): void;
  };
}

class Unsupported extends Error {}

/** The compiled check of `schema`, or undefined when it uses something the compiler does not know. */
export function compileCheck(schema: z.ZodType): FastCheck | undefined {
  const constants: unknown[] = [];
  let names = 0;
  const constant = (value: unknown) => `k[${constants.push(value) - 1}]`;
  const variable = () => `v${names++}`;

  /** Statements that `return false` unless `value` (a variable name) passes `node`. */
  function check(node: ZodInternals, value: string): string {
    const def = node._zod.def;
    switch (def.type) {
      case "object":
        return objectCheck(node, value);
      case "string":
        return `if (typeof ${value} !== "string") return false;\n${def.checks?.map((c) => stringCheck(c, value)).join("") ?? ""}`;
      case "number": {
        let code = `if (typeof ${value} !== "number") return false;\n`;
        if (def.format === "safeint") code += `if (!Number.isSafeInteger(${value})) return false;\n`;
        else if (def.format === undefined) code += `if (!Number.isFinite(${value})) return false;\n`;
        else throw new Unsupported(`number format ${def.format}`);
        return code + (def.checks?.map((c) => numberCheck(c, value)).join("") ?? "");
      }
      case "enum":
        return `if (${oneOf(Object.values(def.entries ?? {}), value)}) return false;\n${noChecks(def)}`;
      case "literal":
        return `if (${oneOf(def.values ?? [], value)}) return false;\n${noChecks(def)}`;
      case "array": {
        if (!def.element) throw new Unsupported("an array without its element");
        const item = variable();
        // Plain arrays only, every index present (a hole is undefined to zod): anything else goes to zod.
        return (
          `if (!Array.isArray(${value}) || Object.getPrototypeOf(${value}) !== Array.prototype) return false;\n` +
          (def.checks?.map((c) => lengthCheck(c, value)).join("") ?? "") +
          `for (let i = 0; i < ${value}.length; i++) { if (!Object.hasOwn(${value}, i)) return false; const ${item} = ${value}[i];\n${check(def.element, item)}}\n`
        );
      }
      default:
        throw new Unsupported(`schema type ${def.type}`);
    }
  }

  function objectCheck(node: ZodInternals, value: string): string {
    const def = node._zod.def;
    if (def.catchall?._zod.def.type !== "never") throw new Unsupported("an object that is not strict");
    const present = variable();
    // JSON objects only: anything with another prototype (arrays, class instances, null prototype) goes to zod.
    let code = `if (typeof ${value} !== "object" || ${value} === null || Object.getPrototypeOf(${value}) !== Object.prototype) return false;\nlet ${present} = 0;\n`;
    for (const [key, field] of Object.entries(def.shape ?? {})) {
      if (key in Object.prototype) throw new Unsupported(`field named ${key}`);
      const optional = field._zod.def.type === "optional";
      const inner = optional ? (field._zod.def.innerType as ZodInternals) : field;
      if (optional && field._zod.def.checks?.length) throw new Unsupported("checks on an optional");
      const v = variable();
      code += `const ${v} = ${value}[${JSON.stringify(key)}];\n`;
      code += `if (${v} === undefined) { ${optional ? "" : "return false;"} } else {\n${present}++;\n${check(inner, v)}}\n`;
    }
    // A key the schema does not name (or a named one holding undefined) makes the counts differ: zod decides.
    code += `if (Object.keys(${value}).length !== ${present}) return false;\n`;
    for (const c of def.checks ?? []) {
      if (c._zod.def.check !== "custom" || c._zod.def.when !== undefined) throw new Unsupported(`object check ${c._zod.def.check}`);
      // The schema's own refinement, run on the value as zod runs it; any issue means "ask zod".
      code += `{ const p = { value: ${value}, issues: [] }; ${constant(c)}._zod.check(p); if (p.issues.length > 0) return false; }\n`;
    }
    return code;
  }

  function lengthCheck(c: CheckInternals, value: string): string {
    const d = c._zod.def;
    if (d.check === "min_length") return failUnless(c, value, `${value}.length >= ${Number(d.minimum)}`);
    if (d.check === "max_length") return failUnless(c, value, `${value}.length <= ${Number(d.maximum)}`);
    throw new Unsupported(`length check ${d.check}`);
  }

  function stringCheck(c: CheckInternals, value: string): string {
    const d = c._zod.def;
    if (d.check === "min_length" || d.check === "max_length") return lengthCheck(c, value);
    if (d.check === "string_format" && d.format === "regex" && d.pattern instanceof RegExp) {
      const re = constant(d.pattern);
      return failUnless(c, value, `(${re}.lastIndex = 0, ${re}.test(${value}))`);
    }
    throw new Unsupported(`string check ${d.check} ${d.format ?? ""}`);
  }

  function numberCheck(c: CheckInternals, value: string): string {
    const d = c._zod.def;
    if (typeof d.value !== "number") throw new Unsupported("number check");
    if (d.check === "greater_than") return failUnless(c, value, `${value} ${d.inclusive ? ">=" : ">"} ${d.value}`);
    if (d.check === "less_than") return failUnless(c, value, `${value} ${d.inclusive ? "<=" : "<"} ${d.value}`);
    throw new Unsupported(`number check ${d.check}`);
  }

  /** `return false` unless `passes`; a check with a `when` (zod's length checks have one) applies only when it says so. */
  function failUnless(c: CheckInternals, value: string, passes: string): string {
    if (typeof c._zod.def.when !== "function") return `if (!(${passes})) return false;\n`;
    return `if (${constant(c._zod.def.when)}({ value: ${value}, issues: [] }) && !(${passes})) return false;\n`;
  }

  /** A condition true when `value` is none of `options` (strings, finite numbers, booleans). */
  function oneOf(options: unknown[], value: string): string {
    if (options.length === 0) return "true";
    return options
      .map((o) => {
        if (typeof o === "string" || typeof o === "boolean" || (typeof o === "number" && Number.isFinite(o) && !Object.is(o, -0)))
          return `${value} !== ${JSON.stringify(o)}`;
        throw new Unsupported(`literal ${String(o)}`);
      })
      .join(" && ");
  }

  function noChecks(def: ZodInternals["_zod"]["def"]): string {
    if (def.checks?.length) throw new Unsupported(`checks on ${def.type}`);
    return "";
  }

  try {
    const body = `${check(schema as unknown as ZodInternals, "input")}return true;`;
    return new Function("k", `return function compiledCheck(input) {\n${body}\n};`)(constants) as FastCheck;
  } catch (e) {
    if (e instanceof Unsupported) return undefined;
    throw e;
  }
}
