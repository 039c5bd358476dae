import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { GatewayConfig, verifySecret } from "@supervision/firmware-protocols";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { loadRegistry, MAX_REGISTRY_FILE_BYTES, RegistryLoadError } from "../src/registry/loader.ts";
import { sliceFor } from "../src/registry/slice.ts";
import { WatchedRegistry } from "../src/registry/view.ts";
import { copyExampleRegistry, EXAMPLE_REGISTRY } from "./example-registry.ts";

const dirs: string[] = [];
/** The example's passwords of this run, by registry folder (the example itself holds only hashes). */
const exampleSecrets = new Map<string, ReturnType<typeof copyExampleRegistry>>();
function registryDir(files: Record<string, string> = {}, withExample = true): string {
  const dir = mkdtempSync(join(tmpdir(), "registry-"));
  dirs.push(dir);
  if (withExample) exampleSecrets.set(dir, copyExampleRegistry(dir));
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

describe("loadRegistry", () => {
  it("loads and merges the example registry", () => {
    const registry = loadRegistry(registryDir({ "more.yaml": "departments:\n  - { id: permits, name: Permits }\n" }));
    expect(registry.sites.get("hall-1")?.kind).toBe("hall");
    expect([...registry.windows.keys()]).toEqual(["w1", "w2"]);
    expect([...registry.departments.keys()]).toEqual(["tax", "social", "permits"]);
    expect(registry.devices.get("kp-w1")?.heartbeatS).toBe(60);
  });

  it("reports a wrong department with file, line and the known ids", () => {
    const errors = errorsOf(
      registryDir({
        "z.yaml":
          "windows:\n  - { id: w3, site: hall-1, name: W3, department: social }\n  - { id: w4, site: hall-1, name: W4, department: tx }\n",
      }),
    );
    expect(errors).toEqual(['z.yaml:3: windows[1].department "tx" is not a department; known: tax, social']);
  });

  it("reports broken YAML with its line", () => {
    const errors = errorsOf(registryDir({ "bad.yaml": "regions:\n  - { id: x, name: X\n" }, false));
    expect(errors[0]).toMatch(/^bad\.yaml:\d+: invalid YAML/);
  });

  it("reports unknown keys and wrong types at their lines, all of them", () => {
    const errors = errorsOf(
      registryDir(
        { "bad.yaml": "regions:\n  - id: x\n    name: X\n    colour: red\ntowns:\n  - id: t\n    name: 5\n    region: x\n" },
        false,
      ),
    );
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/^bad\.yaml:4: regions\[0\]: unknown key\(s\) "colour"/);
    expect(errors[1]).toMatch(/^bad\.yaml:7: towns\[0\]\.name: /);
  });

  it("loads a site's location and contacts and a roster's check-ins, and reports bad ones at their lines", () => {
    const registry = loadRegistry(registryDir());
    expect(registry.sites.get("hall-1")?.location).toEqual({ lat: 31.2304, lon: 121.4737, radiusM: 200 });
    expect(registry.sites.get("hall-1")?.contacts).toEqual([{ name: "张敏", phone: "+86 138 0000 0000" }]);
    expect(registry.rosters.get("chief-weekly")?.checkins).toEqual({ perWeek: 3 });
    const errors = errorsOf(
      registryDir(
        {
          "bad.yaml": [
            "regions: [{ id: r, name: R }]",
            "towns: [{ id: t, name: T, region: r }]",
            "sites:",
            "  - id: s",
            "    kind: site",
            "    name: S",
            "    town: t",
            "    gateway: g",
            "    location: { lat: 91, lon: 121.4, radiusM: 200 }",
            "    contacts: [{ name: Boss, phone: call-me }]",
            "rosters:",
            "  - id: chief",
            '    shifts: [{ start: "08:00", end: "18:00" }]',
            "    checkins: { perWeek: 9 }",
            "  - id: chief2",
            '    shifts: [{ start: "08:00", end: "18:00" }]',
            '    checkins: { windows: [{ from: "12:00", to: "11:00" }] }',
            "  - id: chief3",
            '    shifts: [{ start: "08:00", end: "18:00" }]',
            "    checkins: { perWeek: 2, windows: [] }",
          ].join("\n"),
        },
        false,
      ),
    );
    expect(errors).toHaveLength(5);
    expect(errors[0]).toMatch(/^bad\.yaml:9: sites\[0\]\.location\.lat: /);
    expect(errors[1]).toMatch(/^bad\.yaml:10: sites\[0\]\.contacts\[0\]\.phone: .*a phone number/);
    expect(errors[2]).toMatch(/^bad\.yaml:14: rosters\[0\]\.checkins/);
    expect(errors[3]).toMatch(/^bad\.yaml:17: rosters\[1\]\.checkins.*from is before its to/);
    expect(errors[4]).toMatch(/^bad\.yaml:20: rosters\[2\]\.checkins/);
  });

  it("reports an unknown top-level list", () => {
    expect(errorsOf(registryDir({ "bad.yaml": "halls: []\n" }, false))[0]).toMatch(/^bad\.yaml:1: unknown key\(s\) "halls"/);
  });

  it("reports dangling references across files", () => {
    const errors = errorsOf(
      registryDir({
        "z.yaml": [
          "people:",
          "  - { id: c9, name: Nobody, role: clerk, site: hall-1, window: w1, roster: night }",
          "devices:",
          "  - { id: kp-9, kind: keypad, site: hall-9, window: w2 }",
        ].join("\n"),
      }),
    );
    expect(errors).toContain('z.yaml:2: people[0].roster "night" is not a roster; known: office, chief-weekly');
    expect(errors).toContain('z.yaml:4: devices[0].site "hall-9" is not a site; known: hall-1');
    expect(errors).toContain('z.yaml:4: devices[0].window "w2" belongs to site "hall-1", not "hall-9"');
  });

  it("reports duplicate ids, pointing at the first definition", () => {
    const errors = errorsOf(registryDir({ "z.yaml": "\nwindows:\n  - { id: w2, site: hall-1, name: Again, department: tax }\n" }));
    expect(errors).toEqual([
      expect.stringMatching(/^z\.yaml:3: windows\[0\]\.id "w2" is already defined at example\.yaml:\d+; ids must be unique$/),
    ]);
  });

  it("checks ADMS terminals and PINs: one serial per terminal, one person per PIN and site, real zones; the slice carries them", () => {
    const extra = [
      "people:",
      '  - { id: c3, name: 张三, role: clerk, site: hall-1, window: w1, roster: office, pin: "7" }',
      '  - { id: c4, name: 李四, role: clerk, site: hall-1, window: w2, roster: office, pin: "7" }',
      "devices:",
      "  - { id: term-a, kind: terminal, site: hall-1, adms: { serialNumber: BOCK200961014 } }",
      "  - { id: term-b, kind: terminal, site: hall-1, adms: { serialNumber: BOCK200961014, timeZone: Mars/Olympus } }",
    ].join("\n");
    const errors = errorsOf(registryDir({ "z.yaml": extra }));
    expect(errors).toContain('z.yaml:3: people[1].pin "7" is already c3\'s at site "hall-1"; a terminal PIN names one person per site');
    expect(errors).toContain(
      'z.yaml:6: devices[1].adms.serialNumber "BOCK200961014" is already terminal "term-a"\'s; a serial number names one terminal',
    );
    expect(errors).toContain('z.yaml:6: devices[1].adms.timeZone "Mars/Olympus" is not an IANA time zone (e.g. Asia/Shanghai)');
    const keypad = errorsOf(
      registryDir({ "z.yaml": "devices:\n  - { id: kp-x, kind: keypad, site: hall-1, window: w1, adms: { serialNumber: KP1 } }\n" }),
    );
    expect(keypad).toEqual([expect.stringMatching(/^z\.yaml:2: .*"adms" is a link for terminal devices, not a keypad/)]);
    const badSerial = errorsOf(
      registryDir({ "z.yaml": 'devices:\n  - { id: term-c, kind: terminal, site: hall-1, adms: { serialNumber: "bad serial!" } }\n' }),
    );
    expect(badSerial).toEqual([expect.stringMatching(/^z\.yaml:2: .*serial number/)]);

    const good = [
      "people:",
      '  - { id: c3, name: 张三, role: clerk, site: hall-1, window: w1, roster: office, pin: "7" }',
      "devices:",
      "  - { id: term-a, kind: terminal, site: hall-1, adms: { serialNumber: BOCK200961014, timeZone: Asia/Urumqi } }",
    ].join("\n");
    const slice = GatewayConfig.parse(sliceFor(loadRegistry(registryDir({ "z.yaml": good })), "gw-hall-1"));
    expect(slice.devices.find((d) => d.id === "term-a")?.adms).toEqual({ serialNumber: "BOCK200961014", timeZone: "Asia/Urumqi" });
    expect(slice.people.find((p) => p.id === "c3")?.pin).toBe("7");
  });

  it("allows only one gateway per site", () => {
    const pem = loadRegistry(registryDir()).gateways.get("gw-hall-1")?.publicKey ?? "";
    const second = `gateways:\n  - id: gw-2\n    site: hall-1\n    secret: s\n    publicKey: ${JSON.stringify(pem)}\n`;
    expect(errorsOf(registryDir({ "z.yaml": second }))).toContain(
      'z.yaml:2: gateways[0].site "hall-1" is already served by gateway "gw-hall-1"; one gateway per site',
    );
  });

  it("tells a gateway the uplink versions its registry entry lists, and no gateway unmarked (PROTOCOL.md 4.2, 4.3)", () => {
    const registry = loadRegistry(registryDir());
    expect(sliceFor(registry, "gw-hall-1")).not.toHaveProperty("uplinkVersions");
    const gateway = registry.gateways.get("gw-hall-1")!;
    registry.gateways.set("gw-hall-1", { ...gateway, uplinkVersions: [1, 2] });
    expect(GatewayConfig.parse(sliceFor(registry, "gw-hall-1")).uplinkVersions).toEqual([1, 2]);
    registry.gateways.set("gw-hall-1", { ...gateway, uplinkVersions: [1, 2, 3] });
    expect(GatewayConfig.parse(sliceFor(registry, "gw-hall-1")).uplinkVersions).toEqual([1, 2, 3]);
    const pem = JSON.stringify(gateway.publicKey);
    expect(
      errorsOf(registryDir({ "z.yaml": `gateways:\n  - { id: gw-2, site: hall-2, secret: s, publicKey: ${pem}, uplinkVersions: [4] }\n` })),
    ).toEqual([expect.stringMatching(/^z\.yaml:2: gateways\[0\]\.uplinkVersions/)]);
  });

  it("rejects an oversized file without reading it", () => {
    const errors = errorsOf(registryDir({ "big.yaml": `# ${"x".repeat(MAX_REGISTRY_FILE_BYTES)}\n` }));
    expect(errors).toEqual([expect.stringMatching(/^big\.yaml:1: file is larger than/)]);
  });

  it("rejects a YAML alias bomb instead of expanding it", () => {
    const bomb = [
      'a: &a ["x","x","x","x","x","x","x","x","x"]',
      "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]",
      "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]",
      "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]",
      "regions: [*d]",
    ].join("\n");
    const errors = errorsOf(registryDir({ "bomb.yaml": bomb }, false));
    expect(errors[0]).toMatch(/^bomb\.yaml:\d+: /);
  });

  it("rejects deep nesting with a typed error, not a crash", () => {
    const deep = `regions: ${"[".repeat(5000)}${"]".repeat(5000)}\n`;
    expect(errorsOf(registryDir({ "deep.yaml": deep }, false))[0]).toMatch(/^deep\.yaml:\d+: /);
  });

  it("says what to do with an empty or missing directory", () => {
    expect(errorsOf(registryDir({}, false))[0]).toMatch(/no \*\.yaml files/);
    expect(errorsOf("/nonexistent/registry")[0]).toMatch(/cannot read the registry directory/);
  });
});

describe("the example registry (config/registry)", () => {
  it("holds no password in clear: every gateway and device has only a scrypt hash", () => {
    const registry = loadRegistry(dirname(EXAMPLE_REGISTRY));
    const identities = [...registry.gateways.values(), ...registry.devices.values()];
    expect(identities.map((i) => i.id)).toEqual(["gw-hall-1", "kp-w1", "kp-w2", "term-1"]);
    for (const identity of identities) {
      expect(identity.secret, identity.id).toBeUndefined();
      expect(identity.secretHash, identity.id).toMatch(/^scrypt\$/);
    }
    expect(readFileSync(EXAMPLE_REGISTRY, "utf8")).not.toMatch(/lab-(gateway|keypad|terminal)/);
  });
});

describe("sliceFor", () => {
  it("cuts a valid gateway config with hashed secrets only", async () => {
    const dir = registryDir();
    const registry = loadRegistry(dir);
    const slice = sliceFor(registry, "gw-hall-1");
    expect(GatewayConfig.parse(slice)).toEqual(slice);
    expect(slice.retentionDays).toEqual({ rating: 1095, signin: 1095, motion: 1095, heartbeat: 30, item: 1095, queue: 1095 });
    expect(slice.site).toEqual({ id: "hall-1", name: "滨江政务服务中心", kind: "hall", tz: "Asia/Shanghai" });
    expect(slice.windows).toEqual([
      { id: "w1", name: "1号窗口", departmentId: "tax" },
      { id: "w2", name: "2号窗口", departmentId: "social" },
    ]);
    expect(slice.people.map((p) => [p.id, p.windowId])).toEqual([
      ["c1", "w1"],
      ["c2", "w2"],
    ]);
    const keypad = slice.devices.find((d) => d.id === "kp-w1");
    expect(keypad?.windowId).toBe("w1");
    const keypadSecret = exampleSecrets.get(dir)?.["kp-w1"] ?? "";
    expect(await verifySecret(keypadSecret, keypad?.secretHash ?? "")).toBe(true);
    expect(JSON.stringify(slice)).not.toContain(keypadSecret);
  });

  it("names the known gateways for an unknown one", () => {
    expect(() => sliceFor(loadRegistry(registryDir()), "gw-x")).toThrow(/known: gw-hall-1/);
  });
});

describe("WatchedRegistry", () => {
  it("reloads on change, keeps the last good registry on a bad edit", async () => {
    const dir = registryDir();
    const view = new WatchedRegistry(dir, pino({ level: "silent" }), 50);
    const versions: number[] = [];
    view.onChange((r) => versions.push(r.version));
    view.watch();
    try {
      writeFileSync(join(dir, "more.yaml"), "departments:\n  - { id: permits, name: Permits }\n");
      await expect.poll(() => view.current().departments.has("permits"), { timeout: 5000 }).toBe(true);
      const good = view.current();
      writeFileSync(join(dir, "more.yaml"), "departments:\n  - { id: permits, nam: Permits }\n");
      await new Promise((r) => setTimeout(r, 400));
      expect(view.reload()).toBe(false);
      expect(view.current()).toBe(good);
      writeFileSync(
        join(dir, "more.yaml"),
        readFileSync(join(dir, "more.yaml"), "utf8").replace("nam:", "name:").replace("Permits }", "Building Permits }"),
      );
      await expect.poll(() => view.current().departments.get("permits")?.name, { timeout: 5000 }).toBe("Building Permits");
      expect(versions.length).toBeGreaterThanOrEqual(2);
      expect(versions).toEqual([...versions].sort((a, b) => a - b));
    } finally {
      view.close();
    }
  });
});
