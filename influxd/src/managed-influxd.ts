import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * A local `influxd` (InfluxDB 1.x, Debian's `influxdb` package) that this process owns: its own config,
 * data directory and loopback ports. The hub runs one when no InfluxDB URL is configured; the integration
 * tests run throw-away ones.
 */
export interface ManagedInfluxdOptions {
  /** Where meta, data and WAL live. Created if missing. */
  dataDir: string;
  httpPort: number;
  /** The backup/restore RPC port; influxd always binds it, so it must be free too. */
  rpcPort: number;
  bindHost?: string;
  binary?: string;
  /** Called with each line influxd logs, for a caller that wants to show them. */
  onLog?: (line: string) => void;
  startTimeoutMs?: number;
}

export class InfluxdNotInstalledError extends Error {
  constructor(binary: string) {
    super(
      `"${binary}" was not found. Install InfluxDB 1.x: sudo apt-get install -y influxdb (Debian/Ubuntu), ` +
        "or set an InfluxDB URL in the hub's settings (influx.url) to use a server you run yourself.",
    );
  }
}

export class ManagedInfluxd {
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;
  private readonly logTail: string[] = [];

  constructor(private readonly opts: ManagedInfluxdOptions) {}

  get url(): string {
    return `http://${this.opts.bindHost ?? "127.0.0.1"}:${this.opts.httpPort}`;
  }

  /** The influxd process id while it runs (benchmarks read its CPU time). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null;
  }

  /** Starts influxd and resolves once it answers /ping. */
  async start(): Promise<void> {
    const binary = this.opts.binary ?? "influxd";
    if (spawnSync(binary, ["version"], { stdio: "ignore" }).error) throw new InfluxdNotInstalledError(binary);
    const host = this.opts.bindHost ?? "127.0.0.1";
    const dir = this.opts.dataDir;
    for (const sub of ["meta", "data", "wal"]) mkdirSync(join(dir, sub), { recursive: true });
    const configPath = join(dir, "influxdb.conf");
    writeFileSync(
      configPath,
      [
        "reporting-disabled = true",
        `bind-address = "${host}:${this.opts.rpcPort}"`,
        "[meta]",
        `  dir = "${join(dir, "meta")}"`,
        "[data]",
        `  dir = "${join(dir, "data")}"`,
        `  wal-dir = "${join(dir, "wal")}"`,
        '  index-version = "tsi1"',
        "  query-log-enabled = false",
        "[http]",
        `  bind-address = "${host}:${this.opts.httpPort}"`,
        "  log-enabled = false",
        "  max-body-size = 0",
        "[monitor]",
        "  store-enabled = false",
        "[continuous_queries]",
        "  log-enabled = false",
        "[logging]",
        '  level = "warn"',
        "  suppress-logo = true",
        "",
      ].join("\n"),
    );
    const child = spawn(binary, ["-config", configPath], { stdio: ["ignore", "pipe", "pipe"] });
    this.child = child;
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
    const onData = (chunk: Buffer) => {
      for (const line of chunk.toString().split("\n")) {
        if (!line) continue;
        this.logTail.push(line);
        if (this.logTail.length > 50) this.logTail.shift();
        this.opts.onLog?.(line);
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    await this.waitForPing(this.opts.startTimeoutMs ?? 30_000);
  }

  private async waitForPing(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.running) {
        throw new Error(
          `influxd exited during start (port ${this.opts.httpPort} or ${this.opts.rpcPort} in use?):\n${this.logTail.join("\n")}`,
        );
      }
      try {
        const res = await fetch(`${this.url}/ping`, { signal: AbortSignal.timeout(1000) });
        if (res.status === 204) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    await this.stop();
    throw new Error(`influxd did not answer ${this.url}/ping within ${timeoutMs} ms:\n${this.logTail.join("\n")}`);
  }

  /** Stops influxd: SIGTERM, then SIGKILL after a grace period. */
  async stop(graceMs = 10_000): Promise<void> {
    const child = this.child;
    if (!child || !this.exited) return;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    this.child = undefined;
  }

  /** For tests of outages: stops influxd abruptly, keeping its data for a restart. */
  async kill(): Promise<void> {
    this.child?.kill("SIGKILL");
    await this.exited;
    this.child = undefined;
  }
}
