import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { planCluster, portsFromBase, RabbitCluster, readLayout } from "./rabbitmq.ts";

const dirs: string[] = [];
afterEach(() => {
  while (dirs.length > 0) rmSync(dirs.pop()!, { recursive: true, force: true });
});

describe("the cluster's plan (nothing started)", () => {
  it("gives node i MQTT base+i, AMQP base+10+i, distribution base+20+i and epmd base+30", () => {
    expect(portsFromBase(41800)).toEqual({
      epmdPort: 41830,
      nodes: [
        { mqttPort: 41800, amqpPort: 41810, distPort: 41820 },
        { mqttPort: 41801, amqpPort: 41811, distPort: 41821 },
        { mqttPort: 41802, amqpPort: 41812, distPort: 41822 },
      ],
    });
  });

  it("refuses a base port or a node count it cannot lay out, saying what to give", () => {
    expect(() => portsFromBase(80)).toThrow(/1024 to 65505/);
    expect(() => portsFromBase(65510)).toThrow(/1024 to 65505/);
    expect(() => portsFromBase(Number.NaN)).toThrow(/--base-port/);
    expect(() => portsFromBase(41800, 0)).toThrow(/1 to 9 nodes/);
    expect(() => portsFromBase(41800, 10)).toThrow(/1 to 9 nodes/);
  });

  it("writes each node's configuration, a private cookie and the layout that status and down read back", () => {
    const dir = mkdtempSync(join(tmpdir(), "cluster-plan-"));
    dirs.push(dir);
    const layout = planCluster(join(dir, "c"), portsFromBase(41800));
    new RabbitCluster(layout).prepare();
    expect(readLayout(join(dir, "c"))).toEqual(layout);
    const cookie = join(dir, "c", ".erlang.cookie");
    expect(statSync(cookie).mode & 0o777).toBe(0o400);
    expect(readFileSync(cookie, "utf8")).toBe(layout.cookie);
    const conf = readFileSync(join(layout.nodes[1]!.dir, "rabbitmq.conf"), "utf8");
    expect(conf).toContain("listeners.tcp.default = 127.0.0.1:41811");
    expect(conf).toContain("mqtt.listeners.tcp.default = 127.0.0.1:41801");
    expect(conf).toContain("mqtt.allow_anonymous = false");
    expect(conf).toContain("cluster_formation.classic_config.nodes.1 = rmq1-41830@localhost");
    expect(conf).toContain("cluster_formation.classic_config.nodes.3 = rmq3-41830@localhost");
    expect(readFileSync(join(layout.nodes[0]!.dir, "enabled_plugins"), "utf8")).toBe("[rabbitmq_mqtt].\n");
    expect(readLayout(join(dir, "nothing-here"))).toBeUndefined();
  });
});
