import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join, resolve } from "node:path";
import mqtt from "mqtt";

/** Debian's rabbitmq-server keeps its real scripts here; /usr/sbin's wrappers switch to the rabbitmq user. */
const RABBIT_BIN = "/usr/lib/rabbitmq/bin";

export interface RabbitUser {
  username: string;
  password: string;
  /** Rights on vhost "/" as configure, write, read regular expressions (default: everything). */
  permissions?: [string, string, string];
}

export interface RabbitNode {
  /** Erlang node name, e.g. rmq1-41830@localhost. */
  name: string;
  amqpPort: number;
  mqttPort: number;
  distPort: number;
  dir: string;
}

/** What `cluster.json` in the cluster's directory records, so `status` and `down` find a cluster `up` started. */
export interface ClusterLayout {
  dir: string;
  epmdPort: number;
  cookie: string;
  nodes: RabbitNode[];
  /** Made by the first node at its first start (all rights on vhost "/", administrator); the others join and share it. */
  defaultUser?: { username: string; password: string };
}

export interface ClusterPorts {
  epmdPort: number;
  /** One entry per node, in start order. */
  nodes: { amqpPort: number; mqttPort: number; distPort: number }[];
}

/** A port plan from one base: node i listens on MQTT base+i, AMQP base+10+i, distribution base+20+i; epmd on base+30. */
export function portsFromBase(base: number, count = 3): ClusterPorts {
  if (!Number.isInteger(base) || base < 1024 || base + 30 > 65535) throw new Error(`--base-port ${base}: give a port from 1024 to 65505`);
  if (count < 1 || count > 9) throw new Error(`--nodes ${count}: give 1 to 9 nodes`);
  return {
    epmdPort: base + 30,
    nodes: Array.from({ length: count }, (_, i) => ({ mqttPort: base + i, amqpPort: base + 10 + i, distPort: base + 20 + i })),
  };
}

/** The layout of a new cluster under `dir` (nothing is started). */
export function planCluster(dir: string, ports: ClusterPorts, defaultUser?: { username: string; password: string }): ClusterLayout {
  const abs = resolve(dir);
  return {
    ...(defaultUser ? { defaultUser } : {}),
    dir: abs,
    epmdPort: ports.epmdPort,
    cookie: randomBytes(16).toString("hex").toUpperCase(),
    nodes: ports.nodes.map((p, i) => ({ name: `rmq${i + 1}-${ports.epmdPort}@localhost`, ...p, dir: join(abs, `node${i + 1}`) })),
  };
}

export function readLayout(dir: string): ClusterLayout | undefined {
  const file = join(resolve(dir), "cluster.json");
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, "utf8")) as ClusterLayout;
}

/**
 * A RabbitMQ cluster of local nodes (Debian's rabbitmq-server), each with its own data directory and loopback
 * ports, the MQTT plugin enabled, its own epmd port and Erlang cookie (nothing shared with a system RabbitMQ).
 * Nodes start one at a time: Erlang is slow to boot on a small machine, and a node joins the cluster by asking
 * the nodes already running (classic peer discovery), so the first must be up before the second starts.
 */
export class RabbitCluster {
  private readonly children = new Map<string, ChildProcess>();

  constructor(readonly layout: ClusterLayout) {}

  /** The environment every rabbitmq script of this cluster runs with (its own HOME holds the cookie). */
  private env(node?: RabbitNode): NodeJS.ProcessEnv {
    const { dir, epmdPort } = this.layout;
    const base: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: dir,
      LANG: "C.UTF-8",
      ERL_EPMD_PORT: String(epmdPort),
      ERL_EPMD_ADDRESS: "127.0.0.1",
      // The Debian defaults file (/etc/rabbitmq/rabbitmq-env.conf) is not ours to follow.
      RABBITMQ_CONF_ENV_FILE: join(dir, "rabbitmq-env.conf"),
    };
    if (!node) return base;
    return {
      ...base,
      RABBITMQ_NODENAME: node.name,
      RABBITMQ_NODE_IP_ADDRESS: "127.0.0.1",
      RABBITMQ_NODE_PORT: String(node.amqpPort),
      RABBITMQ_DIST_PORT: String(node.distPort),
      RABBITMQ_CONFIG_FILE: join(node.dir, "rabbitmq.conf"),
      RABBITMQ_ADVANCED_CONFIG_FILE: join(node.dir, "advanced.config"),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(node.dir, "enabled_plugins"),
      RABBITMQ_MNESIA_BASE: join(node.dir, "mnesia"),
      RABBITMQ_LOG_BASE: join(node.dir, "log"),
      RABBITMQ_PID_FILE: join(node.dir, "beam.pid"),
      // Distribution on loopback only; no busy-waiting schedulers (three idle nodes on two shared cores).
      RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: "-kernel inet_dist_use_interface {127,0,0,1} +sbwt none +sbwtdcpu none +sbwtdio none",
    };
  }

  /** Writes the directories, the cookie and each node's configuration (idempotent: an existing cluster keeps its data). */
  prepare(): void {
    const { dir, cookie, nodes, defaultUser } = this.layout;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const cookieFile = join(dir, ".erlang.cookie");
    if (!existsSync(cookieFile)) {
      writeFileSync(cookieFile, cookie, { mode: 0o400 });
      chmodSync(cookieFile, 0o400);
    }
    writeFileSync(join(dir, "rabbitmq-env.conf"), "# this cluster's settings come from the environment (system/cluster)\n");
    for (const node of nodes) {
      mkdirSync(join(node.dir, "log"), { recursive: true });
      writeFileSync(join(node.dir, "enabled_plugins"), "[rabbitmq_mqtt].\n");
      writeFileSync(join(node.dir, "advanced.config"), "[].\n");
      writeFileSync(
        join(node.dir, "rabbitmq.conf"),
        [
          `listeners.tcp.default = 127.0.0.1:${node.amqpPort}`,
          `mqtt.listeners.tcp.default = 127.0.0.1:${node.mqttPort}`,
          "mqtt.allow_anonymous = false",
          "mqtt.vhost = /",
          "mqtt.exchange = amq.topic",
          ...(defaultUser
            ? [`default_user = ${defaultUser.username}`, `default_pass = ${defaultUser.password}`, "default_user_tags.administrator = true"]
            : []),
          // A node joins the nodes of this list that already run (start them one at a time, the first first).
          "cluster_formation.peer_discovery_backend = classic_config",
          ...nodes.map((n, i) => `cluster_formation.classic_config.nodes.${i + 1} = ${n.name}`),
          "",
        ].join("\n"),
      );
    }
    writeFileSync(join(dir, "cluster.json"), JSON.stringify(this.layout, null, 2) + "\n", { mode: 0o600 });
  }

  /** Starts every node that is not running, one at a time, then makes the users (cluster-wide). */
  async up(opts: { users?: RabbitUser[]; timeoutMs?: number; onProgress?: (line: string) => void } = {}): Promise<void> {
    this.prepare();
    for (const node of this.layout.nodes) {
      if (this.running(node)) {
        opts.onProgress?.(`${node.name} already running`);
        continue;
      }
      opts.onProgress?.(`starting ${node.name} (MQTT ${node.mqttPort}, AMQP ${node.amqpPort}) ...`);
      await this.startNode(node, opts.timeoutMs);
      opts.onProgress?.(`${node.name} up`);
    }
    for (const user of opts.users ?? []) this.addUser(user);
  }

  /** Starts one node (again) and waits until it is in the cluster and its MQTT listener answers. */
  async startNode(node: RabbitNode, timeoutMs = 180_000): Promise<void> {
    const log = openSync(join(node.dir, "log", "server.out"), "a");
    const child = spawn(join(RABBIT_BIN, "rabbitmq-server"), [], {
      env: this.env(node),
      cwd: node.dir,
      detached: true,
      stdio: ["ignore", log, log],
    });
    child.unref();
    this.children.set(node.name, child);
    let exited: number | null | undefined;
    child.once("exit", (code) => (exited = code));
    const deadline = Date.now() + timeoutMs;
    // The MQTT listener opens after the node has booted and joined the cluster (its plugins start last): a CONNACK
    // means the node is in. (Polling with rabbitmqctl would boot an Erlang VM for every poll.)
    await waitForMqtt(node.mqttPort, deadline, () =>
      exited === undefined ? undefined : `${node.name} exited (code ${exited}) while starting; see ${join(node.dir, "log")}`,
    );
  }

  /** Stops one node gracefully (its queues' leaders move to the others). */
  stopNode(node: RabbitNode): void {
    const r = this.ctl(node, ["stop"], 120_000);
    if (r.status !== 0 && this.running(node)) throw new Error(`could not stop ${node.name}: ${r.stderr.trim()}`);
  }

  /** Stops every node (last first) and this cluster's epmd. */
  down(): void {
    for (const node of [...this.layout.nodes].reverse()) if (this.running(node)) this.stopNode(node);
    this.killEpmd();
  }

  /** Kill -9 of every node and this cluster's epmd: for throw-away clusters (tests), whose data is deleted next. */
  kill(): void {
    for (const node of this.layout.nodes) if (this.running(node)) this.killNode(node);
    this.killEpmd();
  }

  /** epmd refuses to go while it still lists a node (a killed node's entry goes a moment later): tries for 10 s. */
  private killEpmd(): void {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const r = spawnSync("epmd", ["-kill"], { env: this.env(), encoding: "utf8", timeout: 5_000 });
      if (!/living nodes/i.test(`${r.stdout ?? ""}${r.stderr ?? ""}`)) return; // killed, or none running
      if (Date.now() > deadline) return;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }

  /** Whether the node's Erlang process is alive (by its pid file). */
  running(node: RabbitNode): boolean {
    const pid = this.pid(node);
    if (pid === undefined) return false;
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }

  pid(node: RabbitNode): number | undefined {
    const file = join(node.dir, "beam.pid");
    if (!existsSync(file)) return undefined;
    const pid = Number(readFileSync(file, "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  }

  /** The cluster as the given (or first running) node sees it: `rabbitmqctl cluster_status`. */
  clusterStatus(): { running: string[]; disk: string[] } | undefined {
    const node = this.layout.nodes.find((n) => this.running(n));
    if (!node) return undefined;
    const r = this.ctl(node, ["cluster_status", "--formatter", "json"], 30_000);
    if (r.status !== 0) return undefined;
    const parsed = JSON.parse(r.stdout) as { running_nodes?: string[]; disk_nodes?: string[] };
    return { running: parsed.running_nodes ?? [], disk: parsed.disk_nodes ?? [] };
  }

  addUser(user: RabbitUser): void {
    const node = this.layout.nodes.find((n) => this.running(n));
    if (!node) throw new Error("no node is running");
    const add = this.ctl(node, ["add_user", user.username, user.password], 30_000);
    if (add.status !== 0 && !/already exists/.test(add.stderr + add.stdout))
      throw new Error(`add_user ${user.username}: ${add.stderr.trim()}`);
    if (add.status !== 0) this.ctl(node, ["change_password", user.username, user.password], 30_000);
    const [c, w, r] = user.permissions ?? [".*", ".*", ".*"];
    const perms = this.ctl(node, ["set_permissions", "-p", "/", user.username, c, w, r], 30_000);
    if (perms.status !== 0) throw new Error(`set_permissions ${user.username}: ${perms.stderr.trim()}`);
  }

  /** rabbitmqctl against one node of this cluster. */
  ctl(node: RabbitNode, args: string[], timeoutMs: number): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync(join(RABBIT_BIN, "rabbitmqctl"), ["-n", node.name, ...args], {
      env: this.env(),
      encoding: "utf8",
      timeout: timeoutMs,
    });
    return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  }

  /** Kill -9 of a node's Erlang process (tests of a node that dies without a goodbye). */
  killNode(node: RabbitNode): void {
    const pid = this.pid(node);
    if (pid !== undefined) process.kill(pid, "SIGKILL");
  }
}

/** Whether rabbitmq-server is installed where Debian puts it. */
export function rabbitInstalled(): boolean {
  return existsSync(join(RABBIT_BIN, "rabbitmq-server"));
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The MQTT plugin starts after the node: wait until its port answers an MQTT CONNECT (refused login is an answer). */
async function waitForMqtt(port: number, deadline: number, failed: () => string | undefined): Promise<void> {
  for (;;) {
    const failure = failed();
    if (failure) throw new Error(failure);
    const answered = await new Promise<boolean>((resolveAnswer) => {
      const socket = connect(port, "127.0.0.1");
      socket.once("error", () => resolveAnswer(false));
      socket.once("connect", () => {
        socket.destroy();
        resolveAnswer(true);
      });
    });
    if (answered) {
      const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0, connectTimeout: 5000, username: "-", password: "-" });
      const ok = await new Promise<boolean>((r) => {
        client.once("connect", () => r(true));
        client.once("error", (e) => r(/Not authorized|Bad username/i.test(e.message)));
        client.once("close", () => r(false));
      });
      client.end(true);
      if (ok) return;
    }
    if (Date.now() > deadline) throw new Error(`the MQTT listener on port ${port} did not answer`);
    await sleep(500);
  }
}
