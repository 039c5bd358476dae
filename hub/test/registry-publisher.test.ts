import { EventEmitter } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GatewayConfig, gatewayTopics } from "@supervision/firmware-protocols";
import { freePort } from "@supervision/test-support";
import mqtt from "mqtt";
import pino from "pino";
import { Registry as MetricsRegistry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type HubBroker, startHubBroker } from "../src/broker/index.ts";
import type { HubContext } from "../src/controller/extension.ts";
import { createConfigPublisher } from "../src/registry/config-publisher.ts";
import { WatchedRegistry } from "../src/registry/view.ts";
import { copyExampleRegistry } from "./example-registry.ts";

const SERVICE_SECRET = "test-service-secret-0123456789";
const logger = pino({ level: "silent" });
const dir = mkdtempSync(join(tmpdir(), "registry-pub-"));
const secrets = copyExampleRegistry(dir);
const registry = new WatchedRegistry(dir, logger, 50);
let broker: HubBroker;
let url: string;

beforeAll(async () => {
  const port = await freePort();
  url = `mqtt://127.0.0.1:${port}`;
  broker = await startHubBroker({ port, host: "127.0.0.1", registry, logger, serviceSecret: SERVICE_SECRET });
});
afterAll(async () => {
  registry.close();
  await broker?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("config publisher", () => {
  it("publishes each gateway's slice retained, and again after a reload", async () => {
    const ctx = {
      logger,
      registry,
      metrics: new MetricsRegistry(),
      events: new EventEmitter(),
      now: Date.now,
      dataDir: dir,
    } as unknown as HubContext;
    const publisher = createConfigPublisher({ brokerUrl: url, username: "hub", password: SERVICE_SECRET });
    await publisher.start(ctx);
    registry.watch();
    // The gateway connects after the publish, with its own registry credentials: retained delivery.
    const gateway = await mqtt.connectAsync(url, { username: "gw-hall-1", password: secrets["gw-hall-1"], reconnectPeriod: 0 });
    try {
      const configs: GatewayConfig[] = [];
      gateway.on("message", (_topic, payload) => configs.push(GatewayConfig.parse(JSON.parse(payload.toString()))));
      await gateway.subscribeAsync(gatewayTopics.config("gw-hall-1"), { qos: 1 });
      await expect.poll(() => configs.length, { timeout: 5000 }).toBe(1);
      // The version is the registry files' newest modification time (it was 1 at every hub start, below what
      // gateways already held after a restart: issue 10).
      expect(configs[0]?.version).toBe(registry.current().version);
      expect(configs[0]?.version).toBeGreaterThan(1);
      expect(configs[0]?.windows.map((w) => w.id)).toEqual(["w1", "w2"]);

      writeFileSync(join(dir, "more.yaml"), "windows:\n  - { id: w3, site: hall-1, name: Window 3, department: tax }\n");
      await expect.poll(() => configs.at(-1)?.windows.length, { timeout: 5000 }).toBe(3);
      expect(configs.at(-1)?.version).toBeGreaterThan(1);
      expect(publisher.status()).toMatchObject({ connected: true });
    } finally {
      await gateway.endAsync();
      await publisher.stop();
    }
  });
});
