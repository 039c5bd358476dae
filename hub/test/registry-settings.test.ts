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
    // Loopback by default, and no secret: the service password is generated at first start.
    expect(settings.broker).toEqual({ port: 1884, host: "127.0.0.1" });
    expect(settings.serviceSecret).toBeUndefined();
    expect(settings.http.port).toBe(8080);
  });

  it("takes the secrets it names from the environment (which wins), and refuses a short service secret there", () => {
    const file = settingsFile("serviceSecret: from-the-file-0123456789\n");
    expect(loadSettings(file, {}).serviceSecret).toBe("from-the-file-0123456789");
    expect(loadSettings(file, { HUB_SERVICE_SECRET: "from-the-environment-0123" }).serviceSecret).toBe("from-the-environment-0123");
    expect(() => loadSettings(file, { HUB_SERVICE_SECRET: "short" })).toThrow(/HUB_SERVICE_SECRET must have at least 16 characters/);
    expect(loadSettings(file, { GRAFANA_SERVICE_ACCOUNT_TOKEN: "glsa_x" }).grafana.serviceAccountToken).toBe("glsa_x");
  });

  it("an empty file means all defaults", () => {
    const settings = loadSettings(settingsFile(""));
    expect(settings.dataDir).toBe("var/hub");
    expect(settings.registry.dir).toBe("config/registry");
  });

  it("accepts an external broker with a share group", () => {
    const settings = loadSettings(settingsFile("broker:\n  url: mqtt://broker.example:1883\n"));
    expect(settings.broker).toEqual({ url: "mqtt://broker.example:1883", shareGroup: "hub", transport: "mqtt" });
  });

  it("takes the AMQP transport of a RabbitMQ cluster with its nodes' URLs, and refuses it without them or with other URLs", () => {
    const settings = loadSettings(
      settingsFile(
        "broker:\n  url: mqtt://127.0.0.1:41800\n  transport: amqp\n  copyName: hub-a\n  amqp: { urls: [amqp://127.0.0.1:41810, amqp://127.0.0.1:41811] }\n",
      ),
    );
    expect(settings.broker).toMatchObject({
      transport: "amqp",
      copyName: "hub-a",
      amqp: { urls: ["amqp://127.0.0.1:41810", "amqp://127.0.0.1:41811"], queue: "sv.hub.ingest", prefetch: 32 },
    });
    expect(problemsOf(settingsFile("broker:\n  url: mqtt://127.0.0.1:41800\n  transport: amqp\n")).join("\n")).toMatch(
      /broker\.amqp: transport amqp needs broker\.amqp\.urls/,
    );
    expect(
      problemsOf(settingsFile("broker:\n  url: mqtt://127.0.0.1:41800\n  transport: amqp\n  amqp: { urls: [http://x] }\n")).join("\n"),
    ).toMatch(/amqp:\/\/ or amqps:\/\//);
    expect(problemsOf(settingsFile("broker:\n  url: mqtt://127.0.0.1:41800\n  transport: kafka\n")).length).toBeGreaterThan(0);
    expect(
      problemsOf(settingsFile("broker:\n  url: mqtt://127.0.0.1:41800\n  transport: amqp\n  amqp: { urls: [] }\n")).join("\n"),
    ).toMatch(/broker\.amqp: transport amqp needs broker\.amqp\.urls/);
  });

  it("names the file, line and key of a wrong value", () => {
    const file = settingsFile("http:\n  port: 99999\n");
    expect(problemsOf(file)).toEqual([expect.stringMatching(new RegExp(`^${file}:2: http\\.port: `))]);
  });

  it("names unknown keys", () => {
    const file = settingsFile("influx:\n  databse: x\n");
    expect(problemsOf(file)).toEqual([`${file}:2: influx: unknown key(s) "databse"; remove or fix the spelling (see hub/README.md)`]);
  });

  it("names the new key for a renamed one: the same names as the gateway's", () => {
    const file = settingsFile(
      "log:\n  level: debug\nbroker:\n  port: 8883\n  tls:\n    cert: /etc/hub/cert.pem\n    key: /etc/hub/key.pem\n",
    );
    expect(problemsOf(file)).toEqual([
      `${file}:2: log.level is now logLevel; write logLevel: "debug" (see hub/README.md)`,
      `${file}:6: broker.tls.cert is now broker.tls.certFile; write broker.tls.certFile: "/etc/hub/cert.pem" (see hub/README.md)`,
      `${file}:7: broker.tls.key is now broker.tls.keyFile; write broker.tls.keyFile: "/etc/hub/key.pem" (see hub/README.md)`,
    ]);
    const settings = loadSettings(
      settingsFile("logLevel: debug\nbroker:\n  port: 8883\n  tls: { certFile: /etc/hub/cert.pem, keyFile: /etc/hub/key.pem }\n"),
    );
    expect(settings.logLevel).toBe("debug");
    expect(settings.broker).toMatchObject({ tls: { certFile: "/etc/hub/cert.pem", keyFile: "/etc/hub/key.pem" } });
  });

  it("says what is wrong inside the broker's two forms instead of a bare invalid input", () => {
    const file = settingsFile("broker:\n  prot: 1884\n");
    expect(problemsOf(file)).toEqual([`${file}:2: broker: unknown key(s) "prot"; remove or fix the spelling (see hub/README.md)`]);
  });

  it("takes the managed influxd's thread count as a whole number from 1 to 1024 and refuses anything else at its line", () => {
    expect(loadSettings(settingsFile("influx:\n  managedGoMaxProcs: 3\n")).influx.managedGoMaxProcs).toBe(3);
    for (const bad of ["0", "1.5", "two", "100000", "-1", "[1]"]) {
      const file = settingsFile(`dataDir: var\ninflux:\n  managedGoMaxProcs: ${bad}\n`);
      const problems = problemsOf(file);
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:3: influx\\.managedGoMaxProcs: `));
    }
  });

  it("lists every problem at once and throws the one configuration error type", async () => {
    const { ConfigError } = await import("@supervision/firmware-protocols");
    const file = settingsFile("http:\n  port: 0\ninflux:\n  managedPort: x\ndataDir: ''\n");
    try {
      loadSettings(file);
      throw new Error("expected the settings to be rejected");
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const lines = (err as SettingsError).problems.map((p) => Number(p.slice(file.length + 1).split(":")[0]));
      expect(lines.sort((a, b) => a - b)).toEqual([2, 4, 5]);
    }
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
