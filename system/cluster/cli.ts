/**
 * `npm run cluster -- up|down|status|user`: a three-node RabbitMQ cluster on this machine's loopback, for tests and
 * field trials (README.md in this folder). On real machines use compose.yml instead.
 */
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { planCluster, portsFromBase, RabbitCluster, rabbitInstalled, readLayout } from "./rabbitmq.ts";

const HELP = `Usage: npm run cluster -- COMMAND [options]

A RabbitMQ cluster on this machine's loopback (Debian's rabbitmq-server, MQTT plugin
on), each node with its own data directory, started one at a time.

Commands:
  up                start the nodes that are not running (about 20-40 s each), make
                    the user "hub" (password in DIR/hub.password) and print the URLs
  down              stop every node (last first) and the cluster's epmd
  status            which nodes run, what the cluster says, the URLs
  user NAME         add (or reset) a user, e.g. a gateway's id; prints its password

Options:
  --dir DIR         where the nodes keep their data (default var/cluster)
  --base-port N     node i listens on MQTT N+i, AMQP N+10+i, Erlang distribution
                    N+20+i; epmd on N+30 (default 41800; only for a new cluster)
  --nodes N         how many nodes (default 3; only for a new cluster)
  -h, --help        this help

Then point the hub at it (hub/README.md, "Several hub copies"):
  broker: { url: mqtt://127.0.0.1:41800, username: hub, password: ..., transport: amqp,
            amqpUrls: [amqp://127.0.0.1:41810, amqp://127.0.0.1:41811, amqp://127.0.0.1:41812] }
`;

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    dir: { type: "string", default: "var/cluster" },
    "base-port": { type: "string", default: "41800" },
    nodes: { type: "string", default: "3" },
    help: { type: "boolean", short: "h" },
  },
  strict: true,
});
const [command, ...rest] = positionals;
if (values.help || !command) {
  console.log(HELP);
  process.exit(values.help ? 0 : 2);
}
if (!rabbitInstalled())
  fail("rabbitmq-server is not installed: run `sudo apt-get install -y --no-install-recommends rabbitmq-server` (Debian 12)");

const dir = values.dir;
function existing(): RabbitCluster {
  const layout = readLayout(dir);
  if (!layout) fail(`no cluster in ${dir}: start one with \`npm run cluster -- up --dir ${dir}\``);
  return new RabbitCluster(layout);
}

function printUrls(cluster: RabbitCluster): void {
  for (const node of cluster.layout.nodes)
    console.log(
      `  ${node.name.padEnd(22)} ${cluster.running(node) ? "running" : "stopped"}  mqtt://127.0.0.1:${node.mqttPort}  amqp://127.0.0.1:${node.amqpPort}`,
    );
}

switch (command) {
  case "up": {
    const layout =
      readLayout(dir) ??
      planCluster(dir, portsFromBase(Number(values["base-port"]), Number(values.nodes)), {
        username: "hub",
        password: randomBytes(18).toString("base64url"),
      });
    const cluster = new RabbitCluster(layout);
    const passwordFile = join(layout.dir, "hub.password");
    await cluster.up({ onProgress: (line) => console.log(line) });
    if (layout.defaultUser) writeFileSync(passwordFile, layout.defaultUser.password + "\n", { mode: 0o600 });
    console.log(`cluster up in ${layout.dir} (user hub, password in ${passwordFile}):`);
    printUrls(cluster);
    break;
  }
  case "down": {
    const cluster = existing();
    cluster.down();
    console.log(`cluster in ${cluster.layout.dir} stopped (its data stays; \`up\` starts it again)`);
    break;
  }
  case "status": {
    const cluster = existing();
    printUrls(cluster);
    const status = cluster.clusterStatus();
    console.log(status ? `running nodes as the cluster sees them: ${status.running.join(", ")}` : "no node answers");
    process.exit(status ? 0 : 1);
    break;
  }
  case "user": {
    const name = rest[0];
    if (!name || !/^[a-z0-9][a-z0-9_-]{0,63}$/.test(name)) fail("usage: npm run cluster -- user NAME (lowercase letters, digits, - and _)");
    const cluster = existing();
    const password = randomBytes(18).toString("base64url");
    cluster.addUser({ username: name, password });
    console.log(password);
    break;
  }
  default:
    fail(`unknown command "${command}"; run \`npm run cluster -- --help\``);
}
