import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadRegistry, RegistryLoadError } from "../src/registry/loader.ts";

const EXAMPLE = join(import.meta.dirname, "../../config/registry/example.yaml");
const dirs: string[] = [];
function registryDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "registry-items-"));
  dirs.push(dir);
  copyFileSync(EXAMPLE, join(dir, "example.yaml"));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function errorsOf(dir: string): string[] {
  try {
    loadRegistry(dir);
  } catch (err) {
    expect(err).toBeInstanceOf(RegistryLoadError);
    return (err as RegistryLoadError).errors.map((e) => `${e.file.split("/").pop()}:${e.line}: ${e.message}`);
  }
  throw new Error("expected the registry to be rejected");
}

const BASE: Record<string, string> = {
  name: "建设工程规划许可",
  department: "tax",
  site: "hall-1",
  calendar: "office",
  legalLimit: "{ days: 20 }",
  promisedLimit: "{ days: 10 }",
  handler: '{ name: 周, phone: "+8613800000031" }',
  head: "{ name: 吴 }",
};
/** One item line; `extra` is ", key: value" pairs replacing or adding keys. */
const item = (code: string, extra = "") => {
  const fields = { ...BASE };
  for (const [, key, value] of extra.matchAll(/, (\w+): ((?:\{[^}]*\})|[^,]+)/g)) fields[key!] = value!;
  return `  - { code: "${code}", ${Object.entries(fields)
    .map(([k, v]) => `${k}: ${v}`)
    .join(", ")} }\n`;
};

describe("the item catalogue in the registry", () => {
  it("loads the example's items with their defaults and the approval systems", () => {
    const registry = loadRegistry(registryDir({}));
    expect(registry.items?.get("330100-XK-0001")).toMatchObject({
      department: "tax",
      legalLimit: { days: 20, unit: "working" },
      promisedLimit: { days: 5, unit: "working" },
      fee: 0,
      joint: false,
      handler: { name: "李娜", phone: "+8613800000011", person: "c1" },
    });
    expect(registry.items?.get("330100-QT-0002")).toMatchObject({ legalLimit: { days: 15, unit: "calendar" }, joint: true });
    expect(registry.approvalSystems?.get("tax-approvals")?.department).toBe("tax");
  });

  it("names file and line of a wrong reference, a promise beyond the legal limit, a bad unit and a duplicate code", () => {
    const errors = errorsOf(
      registryDir({
        // Schema problems: the file is refused with each at its line.
        "limits.yaml": "items:\n" + item("GH-3", ", promisedLimit: { days: 30 }") + item("GH-4", ", legalLimit: { days: 20, unit: hours }"),
        // Reference problems: checked across files.
        "refs.yaml":
          "items:\n" +
          item("GH-1", ", department: planning") +
          item("GH-2", ", calendar: nights") +
          item("330100-XK-0001") +
          item("GH-5", ", site: nowhere, handler: { name: 周, person: ghost }") +
          "approvalSystems:\n  - { id: sys-x, name: X, department: nobody }\n",
      }),
    );
    expect(errors).toEqual([
      "limits.yaml:2: items[0].promisedLimit.days: promisedLimit.days is more than legalLimit.days; the promise may only shorten the legal limit",
      'limits.yaml:3: items[1].legalLimit.unit: Invalid option: expected one of "working"|"calendar"',
      expect.stringMatching(/^refs\.yaml:4: items\[2\]\.code "330100-XK-0001" is already defined at example\.yaml:\d+; ids must be unique/),
      'refs.yaml:2: items[0].department "planning" is not a department; known: tax, social',
      'refs.yaml:3: items[1].calendar "nights" is not a roster (the roster whose working days and holidays the item\'s clock counts); known: office, chief-weekly',
      expect.stringMatching(/^refs\.yaml:5: items\[3\]\.site "nowhere" is not a site/),
      expect.stringMatching(/^refs\.yaml:5: items\[3\]\.handler\.person "ghost" is not a person/),
      'refs.yaml:7: approvalSystems[0].department "nobody" is not a department; known: tax, social',
    ]);
  });

  it("refuses hostile and malformed entries: a path as a code, a bad phone number, unknown keys, zero days, a negative fee", () => {
    const errors = errorsOf(
      registryDir({
        "bad.yaml":
          "items:\n" +
          item("../../etc") +
          item("GH-6", ', handler: { name: 周, phone: "call me" }') +
          item("GH-7", ", limit: 3") +
          item("GH-8", ", promisedLimit: { days: 0 }, fee: -5"),
      }),
    );
    expect(errors).toEqual([
      "bad.yaml:2: items[0].code: letters, digits, '_', '.', '-'; 1 to 64 characters",
      'bad.yaml:3: items[1].handler.phone: a phone number, e.g. "+8613800000001"',
      'bad.yaml:4: items[2]: unknown key(s) "limit"; remove or fix the spelling (see hub/README.md, Registry format)',
      expect.stringMatching(/^bad\.yaml:5: items\[3\]\.promisedLimit\.days: /),
      expect.stringMatching(/^bad\.yaml:5: items\[3\]\.fee: /),
    ]);
  });
});
