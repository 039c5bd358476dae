import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";

/**
 * A local `influxd` (InfluxDB 1.x, Debian's `influxdb` package) that this process owns: its own config,
 * data directory and loopback ports. The hub runs one when no InfluxDB URL is configured; the integration
 * tests run throw-away ones.
 *
 * Ownership is explicit, in the data directory: `owner.pid` names the process that runs influxd there (a second
 * one is refused), `influxd.pid` the influxd it started. An influxd left running by an owner that died (kill -9 of
 * the hub) is found by its pid file and command line, stopped, and a fresh one started: the new owner never
 * serves from a process it did not start and could not watch.
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
  /** Restart influxd with backoff when it exits without being asked to (the hub: yes; tests of outages: no). */
  supervise?: boolean;
  /** First and longest wait before a restart (default 500 ms, 30 s); it doubles while restarts fail. */
  restartBackoffMs?: { initial: number; max: number };
  /** Told every state change, with what happened. */
  onState?: (state: InfluxdState, detail: string) => void;
  /**
   * Authentication on: influxd refuses every query and write without these credentials. On the first start (no user
   * yet) this admin user is created; on later starts the credentials are checked, and a mismatch stops the start.
   */
  auth?: { username: string; password: string };
  /**
   * How many threads run influxd's Go code at once (its GOMAXPROCS). Default: `defaultGoMaxProcs()`, one core fewer
   * than the machine has, so an influxd beside the hub leaves the hub a core (README.md, "Benchmarks").
   */
  goMaxProcs?: number;
  /**
   * influxd's `cache-snapshot-memory-size`: once its in-memory cache holds this many bytes it writes them to a TSM
   * file. Default: influxd's own (25 MB).
   */
  cacheSnapshotBytes?: number;
}

/**
 * influxd's default GOMAXPROCS beside the hub: the machine's cores less one, at least one. Why: with every core its
 * own, influxd's Go scheduler kept threads looking for work on the core the hub's event loop was using. On the bench's
 * 2-core machine (npm run bench -- hub) that cost influxd 1-2 µs of CPU per point more while the hub fed it than while
 * a client doing nothing else did, and the hub too ran slower; with one core it costs about 0.5 µs more (the batch
 * manifest and chain points), and the direct writes got cheaper as well (hub/src/ingest/README.md, "Sixth pass").
 */
export function defaultGoMaxProcs(cores = availableParallelism()): number {
  return Math.max(1, cores - 1);
}

/** stopped: not started or stopped on purpose; restarting: exited unasked, a restart is due. */
export type InfluxdState = "stopped" | "starting" | "running" | "restarting";

export class InfluxdNotInstalledError extends Error {
  constructor(binary: string) {
    super(
      `"${binary}" was not found. Install InfluxDB 1.x: sudo apt-get install -y influxdb (Debian/Ubuntu), ` +
        "or set an InfluxDB URL in the hub's settings (influx.url) to use a server you run yourself.",
    );
  }
}

export class DataDirOwnedError extends Error {}

const OWNER_FILE = "owner.pid";
const INFLUXD_PID_FILE = "influxd.pid";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The process's command line (Linux /proc), "" when it cannot be read. */
function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
  } catch {
    return "";
  }
}

function readPid(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, "utf8").trim(), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class ManagedInfluxd {
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;
  private readonly logTail: string[] = [];
  private stopping = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private backoffMs: number;
  private startedAt = 0;
  private ownsDir = false;
  state: InfluxdState = "stopped";
  /** The GOMAXPROCS influxd runs with. */
  readonly goMaxProcs: number;
  /** Restarts after influxd exited unasked, since this object was made. */
  restarts = 0;
  /** What start() found in the data directory: an orphaned influxd it stopped, if any. */
  orphan: { pid: number; action: "stopped" } | undefined;

  constructor(private readonly opts: ManagedInfluxdOptions) {
    this.backoffMs = opts.restartBackoffMs?.initial ?? 500;
    const procs = opts.goMaxProcs ?? defaultGoMaxProcs();
    if (!Number.isSafeInteger(procs) || procs < 1)
      throw new RangeError(`goMaxProcs must be a whole number of threads, at least 1 (got ${procs})`);
    this.goMaxProcs = procs;
  }

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

  private get configPath(): string {
    return join(this.opts.dataDir, "influxdb.conf");
  }

  private setState(state: InfluxdState, detail: string): void {
    this.state = state;
    this.opts.onState?.(state, detail);
  }

  /** Takes ownership of the data directory, stops an orphaned influxd of it, starts influxd and resolves once it answers /ping. */
  async start(): Promise<void> {
    const binary = this.opts.binary ?? "influxd";
    if (spawnSync(binary, ["version"], { stdio: "ignore" }).error) throw new InfluxdNotInstalledError(binary);
    const dir = this.opts.dataDir;
    for (const sub of ["meta", "data", "wal"]) mkdirSync(join(dir, sub), { recursive: true });
    this.claimDataDir();
    await this.stopOrphan();
    this.writeConfig();
    this.stopping = false;
    await this.launch();
  }

  /** owner.pid: refuses a data directory a live process (other than this one) owns; takes over a dead owner's. */
  private claimDataDir(): void {
    const path = join(this.opts.dataDir, OWNER_FILE);
    const owner = readPid(path);
    if (owner !== undefined && owner !== process.pid && alive(owner) && /node|hub/.test(commandLine(owner))) {
      throw new DataDirOwnedError(
        `the influxd data directory ${this.opts.dataDir} belongs to running process ${owner} (another hub?); stop it, or give this hub another dataDir`,
      );
    }
    writeFileSync(path, `${process.pid}\n`);
    this.ownsDir = true;
  }

  /** An influxd of this data directory whose owner died: stopped (SIGTERM, then SIGKILL), so one influxd serves it. */
  private async stopOrphan(): Promise<void> {
    const pid = readPid(join(this.opts.dataDir, INFLUXD_PID_FILE));
    if (pid === undefined || !alive(pid) || !commandLine(pid).includes(this.configPath)) return;
    process.kill(pid, "SIGTERM");
    const deadline = Date.now() + 15_000;
    while (alive(pid) && Date.now() < deadline) await sleep(100);
    if (alive(pid)) process.kill(pid, "SIGKILL");
    while (alive(pid)) await sleep(50);
    this.orphan = { pid, action: "stopped" };
    this.opts.onState?.(
      this.state,
      `stopped influxd ${pid} left running in ${this.opts.dataDir} by an owner that is gone; starting a fresh one`,
    );
  }

  private writeConfig(): void {
    const host = this.opts.bindHost ?? "127.0.0.1";
    const dir = this.opts.dataDir;
    writeFileSync(
      this.configPath,
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
        ...(this.opts.cacheSnapshotBytes === undefined
          ? []
          : [`  cache-snapshot-memory-size = ${Math.trunc(this.opts.cacheSnapshotBytes)}`]),
        "[http]",
        `  bind-address = "${host}:${this.opts.httpPort}"`,
        `  auth-enabled = ${this.opts.auth ? "true" : "false"}`,
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
  }

  /** Spawns influxd and waits for /ping; watches for an exit nobody asked for. */
  private async launch(): Promise<void> {
    this.setState("starting", `starting influxd on ${this.url}`);
    const child = spawn(this.opts.binary ?? "influxd", ["-config", this.configPath], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, GOMAXPROCS: String(this.goMaxProcs) },
    });
    this.child = child;
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
    if (child.pid !== undefined) writeFileSync(join(this.opts.dataDir, INFLUXD_PID_FILE), `${child.pid}\n`);
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
    child.once("exit", (code, signal) => {
      // Only a running influxd is restarted from here; one that fails to start fails launch(), whose caller decides.
      const wasRunning = this.state === "running" && this.child === child;
      if (this.child === child) this.child = undefined;
      if (this.stopping || !this.opts.supervise || !wasRunning) return;
      this.scheduleRestart(`influxd exited unasked (${signal ?? `code ${code}`})`);
    });
    try {
      await this.waitForPing(child, this.opts.startTimeoutMs ?? 30_000);
    } catch (e) {
      child.kill("SIGKILL");
      await this.exited;
      throw e;
    }
    if (this.opts.auth) {
      try {
        await this.ensureAdmin(this.opts.auth);
      } catch (e) {
        child.kill("SIGKILL");
        await this.exited;
        throw e;
      }
    }
    this.startedAt = Date.now();
    this.setState("running", `influxd ${child.pid} answers on ${this.url}`);
  }

  private scheduleRestart(why: string): void {
    if (this.restartTimer || this.stopping) return;
    // A run that lasted a minute was healthy: the next restart starts from the shortest wait again.
    if (Date.now() - this.startedAt > 60_000) this.backoffMs = this.opts.restartBackoffMs?.initial ?? 500;
    const wait = this.backoffMs;
    this.backoffMs = Math.min(wait * 2, this.opts.restartBackoffMs?.max ?? 30_000);
    this.setState("restarting", `${why}; restarting in ${wait} ms`);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.stopping) return;
      this.restarts++;
      this.launch().catch((e: Error) => {
        if (!this.stopping) this.scheduleRestart(`restart failed: ${e.message.split("\n")[0]}`);
      });
    }, wait);
  }

  /**
   * With authentication on, influxd accepts one statement without credentials while it has no user: creating the
   * first admin. Then the credentials must work; if they do not (users made with another password), the start fails
   * saying so. Credentials never appear in the messages.
   */
  private async ensureAdmin(auth: { username: string; password: string }): Promise<void> {
    const query = async (q: string, withAuth: boolean) => {
      const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded" };
      if (withAuth) headers.authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString("base64")}`;
      const res = await fetch(`${this.url}/query`, {
        method: "POST",
        headers,
        body: new URLSearchParams({ q }),
        signal: AbortSignal.timeout(10_000),
      });
      return { status: res.status, text: await res.text() };
    };
    const check = await query("SHOW DATABASES", true);
    if (check.status === 200) return;
    const quoted = auth.username.replace(/\\/g, "\\\\").replace(/"/g, '\\"');
    const password = auth.password.replace(/\\/g, "\\\\").replace(/'/g, "\\'");
    const created = await query(`CREATE USER "${quoted}" WITH PASSWORD '${password}' WITH ALL PRIVILEGES`, false);
    if (created.status === 200 && !created.text.includes('"error"') && (await query("SHOW DATABASES", true)).status === 200) return;
    throw new Error(
      `influxd in ${this.opts.dataDir} has users, and the admin credentials given are not one of them (HTTP ${check.status}); ` +
        "give the credentials of its admin user, or start from an empty data directory",
    );
  }

  private async waitForPing(child: ChildProcess, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) {
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
      await sleep(100);
    }
    throw new Error(`influxd did not answer ${this.url}/ping within ${timeoutMs} ms:\n${this.logTail.join("\n")}`);
  }

  /** Stops influxd: SIGTERM, then SIGKILL after a grace period; gives up the data directory. */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    const child = this.child;
    if (child && this.exited && child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    this.child = undefined;
    if (this.ownsDir) {
      rmSync(join(this.opts.dataDir, INFLUXD_PID_FILE), { force: true });
      if (readPid(join(this.opts.dataDir, OWNER_FILE)) === process.pid) rmSync(join(this.opts.dataDir, OWNER_FILE), { force: true });
      this.ownsDir = false;
    }
    if (this.state !== "stopped") this.setState("stopped", "influxd stopped");
  }

  /** For tests of outages: stops influxd abruptly, keeping its data for a restart (a supervised one restarts it). */
  async kill(): Promise<void> {
    this.child?.kill("SIGKILL");
    await this.exited;
    if (!this.opts.supervise) this.child = undefined;
  }
}
