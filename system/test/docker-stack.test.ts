/**
 * No Docker engine runs here, so the stack is checked as data: compose.yml, the Dockerfiles and Grafana's file
 * provisioning must agree with each other, with the README's default ports and with the commands CI runs natively.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DATASOURCE_UID } from "@supervision/dashboards";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { FOLDER_UID } from "@supervision/hub";

const ROOT = new URL("../../", import.meta.url).pathname;
const DOCKER = join(ROOT, "docker");
const read = (path: string) => readFileSync(join(ROOT, path), "utf8");

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  ports?: string[];
  volumes?: string[];
  healthcheck?: { test: string[] };
  entrypoint?: string[];
}
const compose = parse(read("docker/compose.yml")) as { services: Record<string, Service>; volumes: Record<string, unknown> };
const rootScripts = (JSON.parse(read("package.json")) as { scripts: Record<string, string> }).scripts;

/** The README's "Default ports" table: the single place the code's defaults are written down for operators. */
function readmePorts(): number[] {
  const section = read("README.md").split("## Default ports")[1]?.split("\n## ")[0] ?? "";
  return [...section.matchAll(/\|\s*(\d{4})\s*\|/g)].map((m) => Number(m[1]));
}
const DEFAULTS = { gatewayDevices: 1883, hubBroker: 1884, influx: 8086, hubHttp: 8080, gatewayHttp: 8081, grafana: 3000 };

/** [host port, container port] of each published port; "127.0.0.1:8086:8086" publishes on loopback only. */
const published = (service: string) => (compose.services[service]?.ports ?? []).map((p) => p.split(":").slice(-2).map(Number));
const loopbackOnly = (service: string) =>
  (compose.services[service]?.ports ?? []).filter((p) => p.startsWith("127.0.0.1:")).map((p) => Number(p.split(":")[1]));
const dockerfile = (name: string) => read(`docker/${name}`);
const stages = (text: string) => text.split(/^FROM /m).slice(1);

describe("docker compose stack", () => {
  it("the default ports are the README's", () => {
    expect(readmePorts()).toEqual(
      expect.arrayContaining([DEFAULTS.gatewayDevices, DEFAULTS.hubBroker, DEFAULTS.influx, DEFAULTS.hubHttp, DEFAULTS.gatewayHttp]),
    );
  });

  it("has the five services with the right images and build contexts", () => {
    expect(Object.keys(compose.services).sort()).toEqual(["gateway", "grafana", "hub", "influxdb", "simulators"].sort());
    expect(compose.services.influxdb?.image).toBe("influxdb:1.8");
    expect(compose.services.grafana?.image).toMatch(/^grafana\/grafana-oss:/);
    for (const [name, file] of [
      ["hub", "Dockerfile.hub"],
      ["gateway", "Dockerfile.gateway"],
    ] as const) {
      const build = compose.services[name]?.build;
      expect(build?.context).toBe("..");
      expect(build?.dockerfile).toBe(`docker/${file}`);
      expect(existsSync(join(DOCKER, build?.context ?? "", build?.dockerfile ?? ""))).toBe(true);
    }
    expect(compose.services.simulators?.image).toBe(compose.services.gateway?.image);
  });

  it("publishes each port unchanged, matching the defaults", () => {
    const expected: Record<string, number[]> = {
      influxdb: [DEFAULTS.influx],
      grafana: [DEFAULTS.grafana],
      hub: [DEFAULTS.hubBroker, DEFAULTS.hubHttp],
      gateway: [DEFAULTS.gatewayDevices, DEFAULTS.gatewayHttp],
    };
    for (const [service, ports] of Object.entries(expected)) {
      const pairs = published(service);
      expect(pairs.map(([host]) => host)).toEqual(ports);
      for (const [host, container] of pairs) expect(container).toBe(host);
    }
    // What only the stack itself (or an operator on the host) needs is published on loopback: InfluxDB, the hub's and
    // the gateway's HTTP APIs. Gateways (1884), devices (1883) and the Grafana UI (3000) are reached from outside.
    expect(loopbackOnly("influxdb")).toEqual([DEFAULTS.influx]);
    expect(loopbackOnly("hub")).toEqual([DEFAULTS.hubHttp]);
    expect(loopbackOnly("gateway")).toEqual([DEFAULTS.gatewayHttp]);
  });

  it("has no default password: every secret comes from docker/.env, and compose stops naming the one missing", () => {
    const text = read("docker/compose.yml");
    for (const name of ["INFLUXDB_ADMIN_PASSWORD", "INFLUX_READ_PASSWORD", "GRAFANA_ADMIN_PASSWORD", "GATEWAY_HUB_PASSWORD"])
      expect(text).toMatch(new RegExp(`\\$\\{${name}:\\?set ${name}`));
    expect(text).not.toMatch(/:-change-me|change-me-/);
    expect(compose.services.influxdb).toMatchObject({ environment: { INFLUXDB_HTTP_AUTH_ENABLED: "true" } });
    expect(read("docker/config/gateway.yaml")).not.toMatch(/^\s*password:/m);
    expect(read("docker/config/hub.yaml")).not.toMatch(/serviceSecret|password:|serviceAccountToken:/);
    expect(read(".gitignore")).toMatch(/^docker\/\.env$/m);
  });

  it("the settings files mounted into hub and gateway use the same ports and reach services by name", () => {
    const hub = parse(read("docker/config/hub.yaml"));
    expect(hub.broker.port).toBe(DEFAULTS.hubBroker);
    expect(hub.http.port).toBe(DEFAULTS.hubHttp);
    expect(hub.influx.url).toBe(`http://influxdb:${DEFAULTS.influx}`);
    expect(hub.grafana.url).toBe(`http://grafana:${DEFAULTS.grafana}`);
    const gateway = parse(read("docker/config/gateway.yaml"));
    expect(gateway.broker.port).toBe(DEFAULTS.gatewayDevices);
    expect(gateway.http.port).toBe(DEFAULTS.gatewayHttp);
    expect(gateway.hub.url).toBe(`mqtt://hub:${DEFAULTS.hubBroker}`);
    for (const [service, file] of [
      ["hub", "hub.yaml"],
      ["gateway", "gateway.yaml"],
    ] as const) {
      expect(compose.services[service]?.volumes).toContain(`./config/${file}:/config/${file}:ro`);
    }
  });

  it("every piece of state lives in a named volume, and every named volume is used", () => {
    const stateDirs: Record<string, string> = {
      influxdb: "/var/lib/influxdb",
      grafana: "/var/lib/grafana",
      hub: "/app/var",
      gateway: "/app/var",
      simulators: "/app/var",
    };
    const used = new Set<string>();
    for (const [service, dir] of Object.entries(stateDirs)) {
      const named = (compose.services[service]?.volumes ?? []).map((v) => v.split(":")).find(([, target]) => target === dir);
      expect(named, `${service} keeps ${dir} in a named volume`).toBeDefined();
      const [source = ""] = named ?? [];
      expect(Object.keys(compose.volumes)).toContain(source);
      used.add(source);
    }
    expect([...used].sort()).toEqual(Object.keys(compose.volumes).sort());
  });

  it("long-running services have healthchecks; hub and gateway hit /healthz on their HTTP port", () => {
    for (const service of ["influxdb", "grafana", "hub", "gateway"])
      expect(compose.services[service]?.healthcheck?.test.length).toBeGreaterThan(1);
    expect(compose.services.hub?.healthcheck?.test.join(" ")).toContain(`127.0.0.1:${DEFAULTS.hubHttp}/healthz`);
    expect(compose.services.gateway?.healthcheck?.test.join(" ")).toContain(`127.0.0.1:${DEFAULTS.gatewayHttp}/healthz`);
  });

  it("the simulators run the same command as `npm run sim`", () => {
    expect(compose.services.simulators?.entrypoint?.join(" ")).toBe(`node_modules/.bin/${rootScripts.sim}`);
  });
});

describe.each([
  ["Dockerfile.hub", "hub", DEFAULTS.hubHttp, [DEFAULTS.hubBroker, DEFAULTS.hubHttp]],
  ["Dockerfile.gateway", "gateway", DEFAULTS.gatewayHttp, [DEFAULTS.gatewayDevices, DEFAULTS.gatewayHttp]],
] as const)("%s", (file, script, httpPort, ports) => {
  const text = dockerfile(file);
  const [build = "", runtime = ""] = stages(text);

  it("is multi-stage on node:20-bookworm-slim", () => {
    expect(stages(text)).toHaveLength(2);
    expect(build).toMatch(/^node:20-bookworm-slim AS build/);
    expect(runtime).toMatch(/^node:20-bookworm-slim AS runtime/);
  });

  it("builds with the commands CI runs natively (npm ci, then root npm scripts) and native toolchain", () => {
    expect(build).toMatch(/apt-get install[^\n]*python3 make g\+\+/);
    expect(build).toMatch(/^RUN npm ci$/m);
    expect(build).not.toMatch(/npm install/);
    const runs = [...build.matchAll(/^RUN npm run (\S+)/gm)].map((m) => m[1] ?? "");
    expect(runs.length).toBeGreaterThan(0);
    for (const name of runs) expect(Object.keys(rootScripts)).toContain(name);
  });

  it("copies only paths that exist", () => {
    for (const [, sources] of build.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const source of (sources ?? "").split(" ")) expect(existsSync(join(ROOT, source)), source).toBe(true);
    }
  });

  it("runs as a non-root user with a /healthz HEALTHCHECK and the ports exposed", () => {
    expect(runtime).toMatch(/^USER supervision$/m);
    expect(runtime).not.toMatch(/^USER root/m);
    expect(runtime).toMatch(new RegExp(`HEALTHCHECK[\\s\\S]*127\\.0\\.0\\.1:${httpPort}/healthz`));
    expect(runtime).toMatch(new RegExp(`^EXPOSE ${ports.join(" ")}$`, "m"));
    expect(runtime).not.toMatch(/python3|g\+\+/);
  });

  it("starts the same program as its root npm script (the gateway: its bundle, with the gateway's node flags)", async () => {
    const entrypoint = JSON.parse(/^ENTRYPOINT (.+)$/m.exec(runtime)?.[1] ?? "[]") as string[];
    if (script === "hub") {
      // hub/bin/hub.mjs, which starts the CLI with the hub's node flags, as `npm run hub` does.
      expect(entrypoint.join(" ")).toBe(rootScripts[script]);
      return;
    }
    const { GATEWAY_ENV, GATEWAY_NODE_FLAGS } = await import("@supervision/gateway/node-flags");
    expect(entrypoint).toEqual(["node", ...GATEWAY_NODE_FLAGS, "gateway/dist/gateway.mjs"]);
    for (const [name, value] of Object.entries(GATEWAY_ENV)) expect(runtime).toMatch(new RegExp(`^ENV .*\\b${name}=${value}\\b`, "m"));
    expect(build).toMatch(/npm run build/);
  });
});

describe("grafana file provisioning", () => {
  const datasources = parse(read("docker/grafana/provisioning/datasources/supervision.yaml"));
  const providers = parse(read("docker/grafana/provisioning/dashboards/supervision.yaml"));

  it("declares the same InfluxQL data source uid the dashboards and the hub use", () => {
    expect(datasources.apiVersion).toBe(1);
    expect(datasources.datasources).toHaveLength(1);
    expect(datasources.datasources[0]).toMatchObject({
      uid: DATASOURCE_UID,
      type: "influxdb",
      access: "proxy",
      url: `http://influxdb:${DEFAULTS.influx}`,
      jsonData: { dbName: "supervision", version: "InfluxQL" },
    });
  });

  it("loads the generated dashboards into the hub's folder uid from the mounted path", () => {
    const [provider] = providers.providers;
    expect(provider).toMatchObject({ type: "file", folderUid: FOLDER_UID });
    const mount = compose.services.grafana?.volumes?.find((v) => v.startsWith("../dashboards/generated:"));
    expect(mount?.split(":")[1]).toBe(provider.options.path);
    expect(compose.services.grafana?.volumes).toContain("./grafana/provisioning:/etc/grafana/provisioning:ro");
  });
});

describe("the compose stack's settings files", () => {
  it("load with the same loaders the containers run", async () => {
    const { loadSettings: loadHubSettings } = await import("@supervision/hub");
    const { loadSettings: loadGatewaySettings } = await import("@supervision/gateway");
    const hubEnv = (compose.services.hub as { environment?: Record<string, string> }).environment ?? {};
    // The hub reads the secrets compose gives it from its environment: the Grafana token (API provisioning) and InfluxDB's.
    expect(Object.keys(hubEnv)).toEqual(
      expect.arrayContaining(["GRAFANA_SERVICE_ACCOUNT_TOKEN", "HUB_INFLUX_USERNAME", "HUB_INFLUX_PASSWORD"]),
    );
    const hub = loadHubSettings(join(ROOT, "docker/config/hub.yaml"), {
      GRAFANA_SERVICE_ACCOUNT_TOKEN: "glsa_test_token",
      HUB_INFLUX_USERNAME: "supervision-admin",
      HUB_INFLUX_PASSWORD: "influx-admin-password",
      INFLUX_READ_USER: "grafana",
      INFLUX_READ_PASSWORD: "influx-read-password",
    });
    expect(hub.grafana.serviceAccountToken).toBe("glsa_test_token");
    expect(hub.influx).toMatchObject({ url: "http://influxdb:8086", username: "supervision-admin", password: "influx-admin-password" });
    expect(hub.grafana.datasource).toMatchObject({ user: "grafana", password: "influx-read-password" });
    expect(loadHubSettings(join(ROOT, "docker/config/hub.yaml"), {}).grafana.serviceAccountToken).toBeUndefined();
    expect(hub.http.host).toBe("0.0.0.0");
    expect(hub.broker).toMatchObject({ host: "0.0.0.0" });
    const gateway = loadGatewaySettings(join(ROOT, "docker/config/gateway.yaml"), { GATEWAY_HUB_PASSWORD: "gateway-password" });
    expect(gateway.hub.password).toBe("gateway-password");
    expect(gateway.keyFile).toBe("/config/gateway-key.pem");
    expect(gateway.hub.url).toBe("mqtt://hub:1884");
    expect(gateway.http.host).toBe("0.0.0.0");
    expect(gateway.broker.port).toBe(1883);
  });
});

describe("the compose stack's demo hall", () => {
  it("gets its gateway entry and passwords from docker/make-env.sh; the hub's registry then loads and accepts the password", async () => {
    const { execFileSync } = await import("node:child_process");
    const { cpSync, mkdtempSync, rmSync, statSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { loadRegistry } = await import("@supervision/hub");
    const { verifySecret } = await import("@supervision/firmware-protocols");
    const { createPublicKey } = await import("node:crypto");
    const dir = mkdtempSync(join(tmpdir(), "docker-env-"));
    try {
      cpSync(join(DOCKER, "config"), join(dir, "config"), { recursive: true });
      rmSync(join(dir, "config/registry/demo-gateway.yaml"), { force: true });
      const env = { ...process.env, SUPERVISION_DOCKER_DIR: dir };
      execFileSync("sh", [join(DOCKER, "make-env.sh")], { env, stdio: "pipe" });
      expect(statSync(join(dir, ".env")).mode & 0o777).toBe(0o600);
      const vars = Object.fromEntries(
        readFileSync(join(dir, ".env"), "utf8")
          .split("\n")
          .filter((l) => /^[A-Z_]+=/.test(l))
          .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
      );
      for (const name of ["INFLUXDB_ADMIN_PASSWORD", "INFLUX_READ_PASSWORD", "GRAFANA_ADMIN_PASSWORD", "GATEWAY_HUB_PASSWORD"])
        expect(vars[name], name).toMatch(/^[A-Za-z0-9_-]{24,}$/);
      const registry = loadRegistry(join(dir, "config/registry"));
      const gateway = registry.gateways.get("gw-hall-demo")!;
      expect(gateway.secret).toBeUndefined();
      expect(await verifySecret(vars.GATEWAY_HUB_PASSWORD!, gateway.secretHash!)).toBe(true);
      const mounted = createPublicKey(read("docker/config/demo-gateway-key.pem")).export({ type: "spki", format: "pem" }).toString();
      expect(gateway.publicKey.trim()).toBe(mounted.trim());
      // A second run keeps both files (the passwords the volumes were made with stay valid).
      const before = readFileSync(join(dir, ".env"), "utf8");
      execFileSync("sh", [join(DOCKER, "make-env.sh")], { env, stdio: "pipe" });
      expect(readFileSync(join(dir, ".env"), "utf8")).toBe(before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // The demo key is mounted outside the data volume (a mount inside it made the volume root-owned).
    expect(compose.services.gateway?.volumes).toContain("./config/demo-gateway-key.pem:/config/gateway-key.pem:ro");
    expect(compose.services.gateway?.volumes?.filter((v) => v.split(":")[1]?.startsWith("/app/var/"))).toEqual([]);
    expect(dockerfile("Dockerfile.gateway")).toMatch(/^ENV GATEWAY_SETTINGS=\/config\/gateway\.yaml$/m);
    expect((compose.services.simulators as { command?: string[] } | undefined)?.command).toEqual(
      expect.arrayContaining(["--broker", "mqtt://gateway:1883", "--site", "hall"]),
    );
  });
});
