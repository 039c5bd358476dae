import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadSettings, parseSettings, SettingsError } from "./settings.ts";

function errorOf(fn: () => unknown): SettingsError {
  try {
    fn();
  } catch (e) {
    if (e instanceof SettingsError) return e;
    throw e;
  }
  throw new Error("expected a SettingsError");
}

describe("settings", () => {
  it("fills defaults from a minimal file", () => {
    const s = parseSettings("gatewayId: gw-hall-1\n");
    expect(s.dataDir).toBe("var/gateway/gw-hall-1");
    expect(s.broker.port).toBe(1883);
    expect(s.hub.url).toBe("mqtt://127.0.0.1:1884");
    expect(s.http.port).toBe(8081);
    expect(s.logLevel).toBe("info");
  });

  it("names the key and line of a bad value", () => {
    const e = errorOf(() => parseSettings("gatewayId: gw-1\nbroker:\n  port: 99999\n", "gw.yaml"));
    expect(e.path).toBe("broker.port");
    expect(e.line).toBe(3);
    expect(e.message).toMatch(/^gw\.yaml:3: broker\.port: /);
  });

  it("names an unknown (misspelt) key", () => {
    const e = errorOf(() => parseSettings("gatewayId: gw-1\nhttp:\n  prot: 80\n"));
    expect(e.path).toBe("http.prot");
    expect(e.line).toBe(3);
    expect(e.message).toMatch(/spelling/);
  });

  it("reports a missing gateway id, invalid YAML, duplicate keys and oversized files", () => {
    expect(errorOf(() => parseSettings("logLevel: info\n")).path).toBe("gatewayId");
    expect(errorOf(() => parseSettings("gatewayId: [\n")).message).toMatch(/invalid YAML/);
    expect(errorOf(() => parseSettings("gatewayId: a\ngatewayId: b\n")).message).toMatch(/invalid YAML/);
    expect(errorOf(() => parseSettings(`gatewayId: a\n#${"x".repeat(2_000_000)}\n`)).message).toMatch(/larger than/);
  });

  it("refuses alias bombs and non-mapping documents with a typed error", () => {
    const bomb = `a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n`;
    expect(errorOf(() => parseSettings(bomb))).toBeInstanceOf(SettingsError);
    expect(errorOf(() => parseSettings("- just\n- a list\n")).message).toMatch(/expected object/);
  });

  it("lists every problem at once, and names the new key for the hub-style log.level", () => {
    const e = errorOf(() => parseSettings("gatewayId: gw-1\nbroker:\n  port: 0\nhttp:\n  prot: 80\nlog:\n  level: debug\n", "gw.yaml"));
    expect(e.problems).toEqual([
      'gw.yaml:7: log.level is now logLevel; write logLevel: "debug" (see gateway/README.md, Settings)',
      expect.stringMatching(/^gw\.yaml:3: broker\.port: /),
      'gw.yaml:5: http: unknown key(s) "prot"; remove or fix the spelling (see gateway/README.md, Settings)',
    ]);
  });

  it("loads from a file and says what to do when it is missing", () => {
    const dir = mkdtempSync(join(tmpdir(), "gw-settings-"));
    const file = join(dir, "gateway.yaml");
    writeFileSync(file, "gatewayId: gw-2\nhub:\n  url: mqtts://hub.example:8883\n");
    expect(loadSettings(file).hub.url).toBe("mqtts://hub.example:8883");
    expect(errorOf(() => loadSettings(join(dir, "nope.yaml"))).message).toMatch(/--settings/);
  });

  it("takes the uplink's client certificate and key together, and refuses one without the other at its line", () => {
    const both = parseSettings(
      "gatewayId: gw-2\nhub:\n  url: mqtts://hub.example:8883\n  certFile: /etc/gw/c.pem\n  keyFile: /etc/gw/c.key\n",
    );
    expect(both.hub).toMatchObject({ certFile: "/etc/gw/c.pem", keyFile: "/etc/gw/c.key" });
    const alone = errorOf(() =>
      parseSettings("gatewayId: gw-2\nhub:\n  url: mqtts://hub.example:8883\n  certFile: /etc/gw/c.pem\n", "gw.yaml"),
    );
    expect(alone.message).toMatch(/gw\.yaml:\d+: hub\.certFile: hub\.certFile and hub\.keyFile go together/);
  });

  it("reads the sample settings file as the defaults it documents", () => {
    const sample = parseSettings(readFileSync(join(import.meta.dirname, "../../sample-settings.yaml"), "utf8"));
    expect(sample).toEqual(parseSettings("gatewayId: gw-hall-1\n"));
  });
});
