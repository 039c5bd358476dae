import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { ConfigError, loadConfigFile, MAX_CONFIG_FILE_BYTES, parseConfigFile } from "./config-file.ts";

const Schema = z.strictObject({
  name: z.string().min(1).default("x"),
  http: z.strictObject({ host: z.string().default("127.0.0.1"), port: z.int().min(1).max(65535).default(8080) }).prefault({}),
  logLevel: z.enum(["info", "debug"]).default("info"),
  items: z.array(z.strictObject({ id: z.string(), size: z.int().min(0) })).default([]),
});
const options = { docs: "the README", renamed: { "log.level": "logLevel", "http.listen": "http.host" } };

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error("expected a ConfigError");
}
const parse = (text: string) => parseConfigFile(text, "cfg.yaml", Schema, options);
const problems = (text: string) => errorOf(() => parse(text)).problems;

const dir = mkdtempSync(join(tmpdir(), "config-file-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("configuration files", () => {
  it("fills defaults; an empty file is all defaults", () => {
    expect(parse("")).toEqual({ name: "x", http: { host: "127.0.0.1", port: 8080 }, logLevel: "info", items: [] });
    expect(parse("# only a comment\n").http.port).toBe(8080);
    expect(parse("http:\n  port: 81\n").http.port).toBe(81);
  });

  it("lists every problem at once, each with file, line and key", () => {
    const text = [
      "name: ''",
      "http:",
      "  port: 99999",
      "  prot: 80",
      "items:",
      "  - { id: a, size: -1 }",
      "  - id: b",
      "    size: x",
      "colour: red",
    ].join("\n");
    const error = errorOf(() => parse(text));
    expect(error.problems).toEqual([
      expect.stringMatching(/^cfg\.yaml:1: name: /),
      expect.stringMatching(/^cfg\.yaml:3: http\.port: Too big/),
      'cfg.yaml:4: http: unknown key(s) "prot"; remove or fix the spelling (see the README)',
      expect.stringMatching(/^cfg\.yaml:6: items\[0\]\.size: /),
      expect.stringMatching(/^cfg\.yaml:8: items\[1\]\.size: /),
      'cfg.yaml:9: unknown key(s) "colour"; remove or fix the spelling (see the README)',
    ]);
    expect(error.message.split("\n")).toEqual(error.problems);
    expect(error).toMatchObject({ file: "cfg.yaml", path: "name", line: 1 });
    expect(error.errors[2]).toMatchObject({ code: "schema", path: "http.prot", line: 4 });
  });

  it("names the new key for an old one, once", () => {
    expect(problems("log:\n  level: debug\n")).toEqual(['cfg.yaml:2: log.level is now logLevel; write logLevel: "debug" (see the README)']);
    expect(problems("http:\n  listen: 0.0.0.0\n  port: 0\n")).toEqual([
      'cfg.yaml:2: http.listen is now http.host; write http.host: "0.0.0.0" (see the README)',
      expect.stringMatching(/^cfg\.yaml:3: http\.port: /),
    ]);
  });

  it("refuses broken YAML, duplicate keys and non-mapping documents with their lines", () => {
    expect(problems("name: a\nhttp: [\n")[0]).toMatch(/^cfg\.yaml:\d+: invalid YAML: /);
    expect(problems("name: a\nname: b\n")).toEqual([expect.stringMatching(/^cfg\.yaml:2: invalid YAML: Map keys must be unique/)]);
    expect(problems("- a\n- b\n")).toEqual([expect.stringMatching(/^cfg\.yaml:1: \(top level\): .*expected object/)]);
    expect(problems("just a string\n")[0]).toMatch(/expected object/);
    expect(problems("\t- tab: indented\n")[0]).toMatch(/^cfg\.yaml:1: invalid YAML/);
    expect(problems("!!binary aGVsbG8=\n")[0]).toMatch(/expected object/);
    // YAML 1.1 tags stay plain data: no Buffer, Set or Date for the schema to take for something else.
    expect(problems("http: !!set { ? a, ? b }\n")).toEqual([
      'cfg.yaml:1: http: unknown key(s) "a", "b"; remove or fix the spelling (see the README)',
    ]);
    expect(parse("name: !!timestamp 2026-01-01\n").name).toBe("2026-01-01");
  });

  it("does not let a __proto__ key reach the prototype", () => {
    expect(problems("__proto__: { polluted: 1 }\n")).toEqual([expect.stringMatching(/unknown key\(s\) "__proto__"/)]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("refuses alias bombs and oversized text before expanding or parsing them", () => {
    const bomb = [
      "a: &a [x,x,x,x,x,x,x,x,x]",
      "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]",
      "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]",
      "d: [*c,*c,*c,*c,*c,*c,*c,*c,*c]",
    ].join("\n");
    expect(problems(bomb)).toEqual([expect.stringMatching(/^cfg\.yaml:1: .*aliases/)]);
    // A few aliases are fine (the schema then judges the keys).
    expect(problems("base: &b { host: h }\nhttp: *b\n")).toEqual([expect.stringMatching(/unknown key\(s\) "base"/)]);
    expect(problems(`name: a\n# ${"x".repeat(MAX_CONFIG_FILE_BYTES)}\n`)).toEqual([
      expect.stringMatching(/^cfg\.yaml:1: file is larger than 262144 bytes/),
    ]);
    expect(problems(`name: ${"[".repeat(3000)}${"]".repeat(3000)}\n`)[0]).toMatch(/^cfg\.yaml:\d+: /);
  });

  it("reads files, refusing an oversized one without reading it and saying what to do with an unreadable one", () => {
    const good = join(dir, "good.yaml");
    writeFileSync(good, "name: from-file\n");
    expect(loadConfigFile(good, Schema).name).toBe("from-file");
    const big = join(dir, "big.yaml");
    writeFileSync(big, `# ${"x".repeat(MAX_CONFIG_FILE_BYTES + 1)}\n`);
    expect(errorOf(() => loadConfigFile(big, Schema)).problems).toEqual([expect.stringMatching(/big\.yaml:1: file is larger than/)]);
    const missing = errorOf(() => loadConfigFile(join(dir, "nope.yaml"), Schema, { unreadableHint: "pass --settings <file>" }));
    expect(missing.problems).toEqual([expect.stringMatching(/nope\.yaml:1: cannot read it \(ENOENT.*\); pass --settings <file>$/)]);
    expect(missing.errors[0]?.code).toBe("unreadable");
    if (process.getuid?.() !== 0) {
      const locked = join(dir, "locked.yaml");
      writeFileSync(locked, "name: x\n");
      chmodSync(locked, 0o000);
      expect(errorOf(() => loadConfigFile(locked, Schema)).problems[0]).toMatch(/cannot read it \(EACCES/);
    }
    expect(errorOf(() => loadConfigFile(dir, Schema)).problems[0]).toMatch(/cannot read it \(EISDIR/);
  });

  it("never throws anything but a ConfigError, whatever the text", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (text) => {
        try {
          parse(text);
        } catch (e) {
          expect(e).toBeInstanceOf(ConfigError);
          for (const p of (e as ConfigError).problems) expect(p).toMatch(/^cfg\.yaml:\d+: /);
        }
      }),
      { numRuns: 300 },
    );
  });
});
