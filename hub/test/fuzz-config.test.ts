/**
 * Fuzzing of the hub's entry points that read what people write and what the ingest writes: the settings loader,
 * the registry loader and the line-protocol encoder. Whatever they get, the loaders return a value or throw a
 * ConfigError whose every problem names file and line; the encoder returns one line that reads back as the point, or
 * throws UnwritablePointError. Never another error. A fixed small budget in CI; FUZZ_RUNS=100000 for a long run.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "@supervision/firmware-protocols";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { encodePoint, type FieldValue, UnwritablePointError } from "../src/influx/line-protocol.ts";
import { loadRegistry } from "../src/registry/loader.ts";
import { loadSettings } from "../src/settings/index.ts";

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const dir = mkdtempSync(join(tmpdir(), "hub-fuzz-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const EXAMPLE_REGISTRY = readFileSync(join(import.meta.dirname, "../../config/registry/example.yaml"), "utf8");
const EXAMPLE_SETTINGS = readFileSync(join(import.meta.dirname, "../../config/hub.yaml"), "utf8");

/** Hostile edits of a valid file: a line replaced, a slice cut out, bytes inserted, a value swapped for anything. */
function mutated(text: string): fc.Arbitrary<string> {
  const lines = text.split("\n");
  return fc.oneof(
    fc.constant(text),
    fc
      .tuple(fc.nat(lines.length - 1), fc.string({ unit: "binary", maxLength: 80 }))
      .map(([i, s]) => lines.map((l, j) => (j === i ? s : l)).join("\n")),
    fc.tuple(fc.nat(text.length), fc.nat(200)).map(([at, n]) => text.slice(0, at) + text.slice(at + n)),
    fc
      .tuple(fc.nat(text.length), fc.uint8Array({ minLength: 1, maxLength: 40 }))
      .map(([at, b]) => text.slice(0, at) + Buffer.from(b).toString("latin1") + text.slice(at)),
    fc
      .tuple(fc.nat(lines.length - 1), fc.jsonValue())
      .map(([i, v]) => lines.map((l, j) => (j === i ? l.replace(/:\s.*$/, `: ${JSON.stringify(v)}`) : l)).join("\n")),
    fc
      .tuple(
        fc.nat(lines.length - 1),
        fc.constantFrom("&a [1]", "*a", "!!binary AAAA", "!!js/function x", "<<: *a", "? [a]", "{{{", "- - -", "\t", "\u0000", "~"),
      )
      .map(([i, s]) => lines.map((l, j) => (j === i ? `${l} ${s}` : l)).join("\n")),
  );
}

/** Documents of the right outline with values of any kind, and anything at all. */
const registryDocument = fc.oneof(
  fc
    .dictionary(
      fc.constantFrom("regions", "towns", "departments", "sites", "windows", "rosters", "people", "gateways", "devices", "extra"),
      fc.oneof(
        fc.array(
          fc.dictionary(
            fc.constantFrom("id", "name", "site", "kind", "town", "region", "window", "secret", "gateway", "tz", "roster"),
            fc.anything(),
          ),
        ),
        fc.anything(),
      ),
    )
    .map((o) => stringify(o)),
  fc.anything().map((v) => stringify(v) ?? ""),
  fc.string({ unit: "binary", maxLength: 400 }),
);

const settingsDocument = fc.oneof(
  fc
    .dictionary(
      fc.constantFrom(
        "influx",
        "broker",
        "http",
        "registry",
        "dataDir",
        "serviceSecret",
        "logLevel",
        "supervision",
        "grafana",
        "log",
        "extra",
      ),
      fc.oneof(
        fc.dictionary(fc.constantFrom("url", "port", "host", "dir", "managedPort", "tls", "level", "database"), fc.anything()),
        fc.anything(),
      ),
    )
    .map((o) => stringify(o)),
  fc.anything().map((v) => stringify(v) ?? ""),
  fc.string({ unit: "binary", maxLength: 400 }),
);

/** A loader either answers (true) or throws a ConfigError whose problems each say file:line: what to do (false). */
function loadsOrExplains(load: () => unknown): boolean {
  try {
    load();
    return true;
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems.length).toBeGreaterThan(0);
    for (const problem of problems) expect(problem).toMatch(/^.+:\d+: \S/);
    return false;
  }
}

describe("fuzzing the hub settings loader", () => {
  it("answers settings or a ConfigError naming file and line, for mutated and random files", () => {
    const file = join(dir, "hub.yaml");
    let loaded = 0;
    fc.assert(
      fc.property(fc.oneof(mutated(EXAMPLE_SETTINGS), settingsDocument), (text) => {
        writeFileSync(file, text);
        if (loadsOrExplains(() => loadSettings(file))) loaded++;
      }),
      { numRuns: RUNS },
    );
    // The generator also makes files that are fine (the example, harmless edits): the loader is not refusing everything.
    expect(loaded).toBeGreaterThan(0);
  });
});

describe("fuzzing the registry loader", () => {
  it("answers a registry or a ConfigError naming file and line, for mutated and random folders", () => {
    let n = 0;
    let loaded = 0;
    fc.assert(
      fc.property(fc.array(fc.oneof(mutated(EXAMPLE_REGISTRY), registryDocument), { minLength: 1, maxLength: 3 }), (texts) => {
        const folder = join(dir, `registry-${n++}`);
        mkdirSync(folder);
        texts.forEach((text, i) => writeFileSync(join(folder, `part-${i}.yaml`), text));
        try {
          if (loadsOrExplains(() => loadRegistry(folder))) loaded++;
        } finally {
          rmSync(folder, { recursive: true, force: true });
        }
      }),
      { numRuns: RUNS },
    );
    expect(loaded).toBeGreaterThan(0);
  });
});

/** A point as read back: names and values in line order (pairs, so a key like "__proto__" stays a key). */
interface ReadPoint {
  measurement: string;
  tags: [string, string][];
  fields: [string, FieldValue][];
  timestamp: string;
}

/**
 * Reads one line of line protocol back the way influxd splits it: names and tag values end at an unescaped comma,
 * space or (for keys) equals sign; string fields are quoted with \" and \\ escaped; the timestamp follows the last
 * unquoted space.
 */
function readLine(line: string): ReadPoint {
  let i = 0;
  const name = (stops: string): string => {
    let out = "";
    while (i < line.length && !stops.includes(line[i]!)) {
      if (line[i] === "\\" && i + 1 < line.length && ", =".includes(line[i + 1]!)) i++;
      out += line[i++];
    }
    return out;
  };
  const measurement = name(", ");
  const tags: [string, string][] = [];
  while (line[i] === ",") {
    i++;
    const key = name("=");
    i++;
    tags.push([key, name(", ")]);
  }
  expect(line[i]).toBe(" ");
  i++;
  const fields: [string, FieldValue][] = [];
  for (;;) {
    const key = name("=");
    i++;
    if (line[i] === '"') {
      i++;
      let value = "";
      while (line[i] !== '"') {
        if (line[i] === "\\") i++;
        value += line[i++];
        if (i >= line.length) throw new Error(`unterminated string in ${JSON.stringify(line)}`);
      }
      i++;
      fields.push([key, value]);
    } else {
      const raw = name(", ");
      fields.push([key, raw === "true" ? true : raw === "false" ? false : Number(raw)]);
    }
    if (line[i] !== ",") break;
    i++;
  }
  expect(line[i]).toBe(" ");
  return { measurement, tags, fields, timestamp: line.slice(i + 1) };
}

const text = fc.oneof(
  fc.string({ unit: "binary", maxLength: 20 }),
  fc.constantFrom("a", "b c", "x,y", "k=v", 'q"', "\\", "\n", "é水", "__proto__", "constructor"),
);
const fieldValue: fc.Arbitrary<FieldValue> = fc.oneof(fc.double(), fc.integer(), fc.boolean(), text);
const point = fc.record({
  measurement: text,
  tags: fc.dictionary(text, text, { maxKeys: 4 }),
  fields: fc.dictionary(text, fieldValue, { maxKeys: 4 }),
  timestamp: fc.oneof(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String), text),
});

describe("fuzzing the line-protocol encoder", () => {
  it("writes one line that reads back as the point, or refuses it with UnwritablePointError", () => {
    fc.assert(
      fc.property(point, (p) => {
        let line: string;
        try {
          line = encodePoint(p);
        } catch (error) {
          expect(error).toBeInstanceOf(UnwritablePointError);
          return;
        }
        const back = readLine(line);
        expect(back.measurement).toBe(p.measurement);
        const byKey = ([a]: [string, unknown], [b]: [string, unknown]) => (a < b ? -1 : a > b ? 1 : 0);
        expect(back.tags.sort(byKey)).toEqual(
          Object.entries(p.tags ?? {})
            .filter(([, v]) => v !== "")
            .sort(byKey),
        );
        const writable = Object.entries(p.fields).filter(([, v]) => typeof v !== "number" || Number.isFinite(v));
        expect(back.fields.map(([k]) => k)).toEqual(writable.map(([k]) => k));
        writable.forEach(([, value], n) => {
          const read = back.fields[n]?.[1];
          if (typeof value === "number")
            expect(read === value).toBe(true); // -0 reads back as 0, and -0 === 0
          else expect(read).toBe(value);
        });
        expect(back.timestamp).toBe(p.timestamp);
      }),
      { numRuns: RUNS },
    );
  });
});
