import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadOrCreateKeys } from "@supervision/gateway";
import { type GatewayUnderTest, gatewayProcess, waitFor } from "@supervision/gateway/testing";
import { HUB_NODE_FLAGS } from "@supervision/hub/node-flags";
import { freePort } from "@supervision/test-support";
import { stringify } from "yaml";
import { type ManagedChild, startChild } from "../src/child.ts";
import { type CutProxy, startCutProxy } from "./proxy.ts";

const HUB_CLI = fileURLToPath(import.meta.resolve("@supervision/hub/cli"));
/** Debian's libfaketime (package libfaketime, pulled in by faketime): the thread-safe build, as node has threads. */
export const LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1";
const GATEWAY_ID = "gw-faults";
const GATEWAY_SECRET = "faults-gateway-secret";

export interface WorldOptions {
  keypads: number;
  /** Size of the filesystem the gateway's data directory lives on (a tmpfs of its own, so it can be filled). */
  diskMiB: number;
}

/**
 * Everything of one fault run, as deployed, on loopback: the hub process (its managed influxd, embedded broker,
 * HTTP), a gateway process whose data directory is a small tmpfs and whose wall clock is libfaketime's, and the
 * cut proxy between the gateway and the hub broker. Each part can be killed, frozen, cut, filled or shifted.
 */
export class FaultWorld {
  readonly dir: string;
  readonly deviceIds: string[];
  readonly windowIds: string[];
  hub!: ManagedChild;
  gateway!: GatewayUnderTest;
  proxy!: CutProxy;
  ports!: { broker: number; http: number; influx: number; rpc: number };
  readonly #clockFile: string;
  #mounted = false;
  #filler: string;
  readonly #hubSettings: string;
  readonly #hubLog: ReturnType<typeof createWriteStream>;

  private constructor(private readonly opts: WorldOptions) {
    this.dir = mkdtempSync(join(tmpdir(), "faults-"));
    this.deviceIds = Array.from({ length: opts.keypads }, (_, i) => `kp-w${i + 1}`);
    this.windowIds = Array.from({ length: opts.keypads }, (_, i) => `w${i + 1}`);
    this.#clockFile = join(this.dir, "gateway-clock");
    writeFileSync(this.#clockFile, "+0\n");
    this.#hubSettings = join(this.dir, "hub.yaml");
    this.#hubLog = createWriteStream(join(this.dir, "hub.log"));
    this.#filler = "";
  }

  static async start(opts: WorldOptions): Promise<FaultWorld> {
    const world = new FaultWorld(opts);
    try {
      await world.#start();
    } catch (error) {
      await world.close();
      throw error;
    }
    return world;
  }

  /** The managed influxd's admin credentials (authentication is on), made for this run. */
  readonly influxAuth = { username: "faults", password: randomBytes(16).toString("hex") };

  get influxUrl(): string {
    return `http://127.0.0.1:${this.ports.influx}`;
  }
  get hubDataDir(): string {
    return join(this.dir, "hub");
  }
  get logFile(): string {
    return join(this.dir, "hub.log");
  }

  async #start(): Promise<void> {
    this.ports = { broker: await freePort(), http: await freePort(), influx: await freePort(), rpc: await freePort() };
    this.gateway = await gatewayProcess({
      gatewayId: GATEWAY_ID,
      // The gateway's wall clock (Date.now) follows the clock file; its monotonic clock (timers) is left alone, as
      // when NTP or a person steps a real box's clock.
      env: {
        LD_PRELOAD: LIBFAKETIME,
        FAKETIME_TIMESTAMP_FILE: this.#clockFile,
        FAKETIME_CACHE_DURATION: "1",
        FAKETIME_DONT_FAKE_MONOTONIC: "1",
        NO_FAKE_STAT: "1",
      },
      extra: { logLevel: "warn" },
    });
    // The data directory is a filesystem of its own, so it can be filled up without touching anyone else's.
    mkdirSync(this.gateway.dataDir, { recursive: true });
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${this.opts.diskMiB}m,mode=0700`, "tmpfs", this.gateway.dataDir]);
    this.#mounted = true;
    const { publicKeyPem } = loadOrCreateKeys(this.gateway.dataDir);
    const registryDir = join(this.dir, "registry");
    mkdirSync(registryDir);
    writeFileSync(
      join(registryDir, "hall.yaml"),
      stringify({
        regions: [{ id: "east", name: "East" }],
        towns: [{ id: "riverside", name: "Riverside", region: "east" }],
        departments: [{ id: "tax", name: "Taxation" }],
        sites: [{ id: "hall-f", kind: "hall", name: "Fault Hall", town: "riverside", tz: "Asia/Shanghai", gateway: GATEWAY_ID }],
        windows: this.windowIds.map((id) => ({ id, site: "hall-f", name: `Window ${id}`, department: "tax" })),
        gateways: [{ id: GATEWAY_ID, site: "hall-f", secret: GATEWAY_SECRET, publicKey: publicKeyPem }],
        devices: this.deviceIds.map((id, i) => ({ id, kind: "keypad", site: "hall-f", window: this.windowIds[i], secret: `secret-${id}` })),
      }),
    );
    writeFileSync(
      this.#hubSettings,
      stringify({
        // The managed influxd runs with authentication; this run's admin user, so the counting can query it.
        influx: { managedPort: this.ports.influx, managedRpcPort: this.ports.rpc, ...this.influxAuth },
        broker: { port: this.ports.broker, host: "127.0.0.1" },
        http: { port: this.ports.http, host: "127.0.0.1" },
        registry: { dir: registryDir },
        dataDir: this.hubDataDir,
        serviceSecret: "faults-hub-service-secret",
        logLevel: "warn",
      }),
    );
    await this.startHub();
    this.proxy = await startCutProxy(this.ports.broker);
    this.gateway.settings.hub = { url: `mqtt://127.0.0.1:${this.proxy.port}`, password: GATEWAY_SECRET };
    await this.startGateway();
  }

  /** Starts the hub process and waits until it answers /healthz with 200 (it can store). */
  async startHub(): Promise<void> {
    this.hub = startChild("hub", HUB_CLI, ["start", "--settings", this.#hubSettings], (l) => this.#hubLog.write(`${l}\n`), {
      nodeFlags: HUB_NODE_FLAGS,
    });
    await waitFor(
      "the hub to answer /healthz with 200",
      async () => {
        if (this.hub.process.exitCode !== null) throw new Error(`the hub exited with ${this.hub.process.exitCode}; see ${this.logFile}`);
        return (await fetch(`http://127.0.0.1:${this.ports.http}/healthz`).catch(() => undefined))?.status === 200;
      },
      120_000,
    );
  }

  async killHub9(): Promise<void> {
    this.hub.process.kill("SIGKILL");
    await this.hub.exited;
  }

  /** Starts the gateway and waits until it has its config from the hub (devices are refused before). */
  async startGateway(): Promise<void> {
    await this.gateway.start();
    await waitFor(
      "the gateway to have its config",
      async () => {
        const status = (await (await fetch(`http://127.0.0.1:${this.gateway.httpPort}/api/status`)).json()) as {
          configVersion?: number | null;
        };
        return typeof status.configVersion === "number";
      },
      120_000,
    );
  }

  /** The influxd the hub manages now (its pid file), if it runs. */
  influxdPid(): number | undefined {
    const file = join(this.hubDataDir, "influxdb", "influxd.pid");
    if (!existsSync(file)) return undefined;
    const pid = Number.parseInt(readFileSync(file, "utf8"), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  }

  /** Sets the gateway's wall clock offset (seconds, libfaketime's "+N"/"-N"); it takes effect within a second. */
  setGatewayClock(offsetS: number): void {
    writeFileSync(this.#clockFile, `${offsetS >= 0 ? "+" : ""}${offsetS}\n`);
  }

  /** The gateway's wall clock as its HTTP Date header tells (second resolution), minus ours, in seconds. */
  async gatewayClockOffsetS(): Promise<number> {
    const res = await fetch(`http://127.0.0.1:${this.gateway.httpPort}/healthz`);
    return Math.round((Date.parse(res.headers.get("date") ?? "") - Date.now()) / 1000);
  }

  /** Fills the gateway's filesystem to the last byte. */
  fillGatewayDisk(): void {
    this.#filler = join(this.gateway.dataDir, "filler");
    // dd stops at ENOSPC with a non-zero exit; that is the point.
    try {
      execFileSync("dd", ["if=/dev/zero", `of=${this.#filler}`, "bs=1M"], { stdio: "ignore" });
    } catch {
      // disk full
    }
  }

  freeGatewayDisk(): void {
    if (this.#filler) rmSync(this.#filler, { force: true });
    this.#filler = "";
  }

  async gatewayStatus(): Promise<{ buffer: { depth: number; deadLetters: number }; uplink?: { inFlight?: number } }> {
    return (await (await fetch(`http://127.0.0.1:${this.gateway.httpPort}/api/status`)).json()) as {
      buffer: { depth: number; deadLetters: number };
    };
  }

  /** Stops what runs (gateway, hub and its influxd), unmounts the tmpfs and deletes the run's files unless kept. */
  async close(keep = false): Promise<void> {
    this.proxy?.restore();
    this.setGatewayClock(0);
    this.freeGatewayDisk();
    // SIGTERM, and SIGKILL when it has not ended within 15 s (a cleanup must not hang on a stuck process).
    if (this.gateway) {
      const stopped = this.gateway.stop().catch(() => undefined);
      const timer = setTimeout(() => this.gateway.child?.kill("SIGKILL"), 15_000);
      await stopped;
      clearTimeout(timer);
    }
    await this.proxy?.close().catch(() => undefined);
    if (this.hub) await this.hub.stop(30_000);
    // A hub killed last with -9 leaves its influxd: stop that one too (it is this run's, by its pid file).
    const orphan = this.influxdPid();
    if (orphan !== undefined && readCmdline(orphan).includes(this.hubDataDir)) {
      try {
        process.kill(orphan, "SIGCONT");
        process.kill(orphan, "SIGTERM");
      } catch {
        // gone already
      }
    }
    if (this.#mounted) {
      execFileSync("umount", [this.gateway.dataDir]);
      this.#mounted = false;
    }
    this.#hubLog.end();
    if (!keep) {
      await this.gateway?.cleanup().catch(() => undefined);
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

function readCmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
  } catch {
    return "";
  }
}
