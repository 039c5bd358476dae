import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { parseSettings } from "../settings/settings.ts";
import { DEVICE_LINKS } from "./index.ts";

// Every link in the list is a self-contained folder: README, a sample of its settings section that its own schema
// accepts, and defaults that let a gateway start without the section.
describe.each(DEVICE_LINKS.map((link) => [link.name, link] as const))("device link %s", (name, link) => {
  const folder = join(import.meta.dirname, name);

  it("has a README and a sample.yaml of its settings section, accepted by its own schema", () => {
    expect(existsSync(join(folder, "README.md"))).toBe(true);
    const sample = parse(readFileSync(join(folder, "sample.yaml"), "utf8")) as Record<string, unknown>;
    expect(Object.keys(sample)).toEqual([link.section]);
    const parsed = link.settings.safeParse(sample[link.section]);
    expect(parsed.error?.issues ?? []).toEqual([]);
    // The sample spells out the defaults: the gateway settings with it equal the settings without it.
    const text = readFileSync(join(folder, "sample.yaml"), "utf8");
    expect(parseSettings(`gatewayId: gw-1\n${text}`)).toEqual(parseSettings("gatewayId: gw-1\n"));
  });

  it("fills its section with defaults when the settings leave it out, and refuses unknown keys in it", () => {
    expect(link.settings.safeParse(undefined).success).toBe(true);
    expect(() => parseSettings(`gatewayId: gw-1\n${link.section}:\n  no-such-key: 1\n`)).toThrow(
      new RegExp(`:3: ${link.section}: unknown key\\(s\\) "no-such-key"; .*spelling`),
    );
  });
});

describe("device link list", () => {
  it("gives every link its own name and settings section", () => {
    expect(new Set(DEVICE_LINKS.map((l) => l.name)).size).toBe(DEVICE_LINKS.length);
    expect(new Set(DEVICE_LINKS.map((l) => l.section)).size).toBe(DEVICE_LINKS.length);
  });
});
