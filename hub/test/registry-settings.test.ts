import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadSettings, SettingsError } from "../src/settings/index.ts";

const dir = mkdtempSync(join(tmpdir(), "hub-settings-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function settingsFile(text: string): string {
  const file = join(dir, `hub-${n++}.yaml`);
  writeFileSync(file, text);
  return file;
}
function problemsOf(file: string): string[] {
  try {
    loadSettings(file);
  } catch (err) {
    expect(err).toBeInstanceOf(SettingsError);
    return (err as SettingsError).problems;
  }
  throw new Error("expected the settings to be rejected");
}

describe("loadSettings", () => {
  it("loads the example with defaults filled in", () => {
    const settings = loadSettings(join(import.meta.dirname, "../../config/hub.yaml"));
    expect(settings.influx).toEqual({ managedPort: 8086, managedRpcPort: 8088, database: "supervision" });
    expect(settings.broker).toEqual({ port: 1884, host: "0.0.0.0" });
    expect(settings.http.port).toBe(8080);
  });

  it("an empty file means all defaults", () => {
    const settings = loadSettings(settingsFile(""));
    expect(settings.dataDir).toBe("var/hub");
    expect(settings.registry.dir).toBe("config/registry");
  });

  it("accepts an external broker with a share group", () => {
    const settings = loadSettings(settingsFile("broker:\n  url: mqtt://broker.example:1883\n"));
    expect(settings.broker).toEqual({ url: "mqtt://broker.example:1883", shareGroup: "hub" });
  });

  it("names the file, line and key of a wrong value", () => {
    const file = settingsFile("http:\n  port: 99999\n");
    expect(problemsOf(file)).toEqual([expect.stringMatching(new RegExp(`^${file}:2: http\\.port: `))]);
  });

  it("names unknown keys", () => {
    const file = settingsFile("influx:\n  databse: x\n");
    expect(problemsOf(file)).toEqual([`${file}:2: influx: unknown key(s) databse; remove or fix the spelling (see hub/README.md)`]);
  });

  it("reports broken YAML, alias bombs and a missing file clearly", () => {
    expect(problemsOf(settingsFile("http: [\n"))[0]).toMatch(/invalid YAML/);
    const bomb =
      'a: &a ["x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c]\n';
    expect(problemsOf(settingsFile(bomb))[0]).toMatch(/aliases/);
    expect(problemsOf(join(dir, "missing.yaml"))[0]).toMatch(/cannot read it .*pass --settings/);
    expect(problemsOf(settingsFile(`# ${"x".repeat(300 * 1024)}\n`))[0]).toMatch(/larger than/);
  });
});
