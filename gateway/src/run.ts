import { join } from "node:path";
import type { GatewayStatus } from "@supervision/firmware-protocols";
import type { Logger } from "pino";
import { type GatewayBuffer, openBuffer } from "./buffer/index.ts";
import { ConfigStore } from "./config/store.ts";
import { type RunningGateway, startGateway } from "./controller.ts";
import { loadOrCreateKeys } from "./identity/keys.ts";
import type { Settings } from "./settings/settings.ts";
import { ensureWritableDataDir } from "./settings/data-dir.ts";
import { readHubTls } from "./uplink/hub-tls.ts";
import { Uplink } from "./uplink/index.ts";
import { PresenceTracker } from "./devices/presence.ts";
import { SealPriority } from "./devices/seal-priority.ts";

/** How often the gateway reports its health to the hub (and whenever it changes state). */
const STATUS_INTERVAL_MS = 10_000;

export interface GatewayProcess {
  readonly gateway: RunningGateway;
  readonly buffer: GatewayBuffer;
  readonly uplink: Uplink;
  readonly publicKeyPem: string;
  close(): Promise<void>;
}

/**
 * The whole gateway: the durable buffer first (nothing is acknowledged before it is open), then the device side,
 * then the uplink. The last config from the hub, kept on disk, lets it start while the hub is unreachable.
 */
export async function runGateway(settings: Settings, logger: Logger): Promise<GatewayProcess> {
  // Unreadable uplink TLS files stop the start here, before anything is opened.
  const hubTls = readHubTls(settings.hub);
  ensureWritableDataDir(settings.dataDir);
  const buffer = openBuffer({
    path: join(settings.dataDir, "buffer.db"),
    capacityBytes: settings.buffer.capacityBytes,
    logger: logger.child({ component: "buffer" }),
  });
  const keys = loadOrCreateKeys(settings.dataDir, settings.keyFile);
  // The one config path: the uplink offers what the hub sends, the store checks and keeps it once, the device side
  // applies it. The last good config on disk (else the settings' inline one) is where the gateway starts from.
  const config = new ConfigStore({
    gatewayId: settings.gatewayId,
    dataDir: settings.dataDir,
    sealingKey: keys.sealingPrivateKey,
    initial: settings.config,
    logger: logger.child({ component: "config" }),
  });
  if (!config.current()) logger.warn("no device config yet: devices are refused until the hub sends this gateway its config");

  let uplink: Uplink | undefined = undefined;
  let gateway: RunningGateway;
  // Urgent readings are sealed at once, heartbeats and summaries every few seconds (PROTOCOL.md 4.1).
  const priority = new SealPriority();
  const sink = priority.sink(buffer);
  try {
    gateway = await startGateway({
      settings,
      sink,
      presence:
        settings.heartbeats.summaryS > 0
          ? new PresenceTracker({
              sink,
              dataDir: settings.dataDir,
              summaryMs: settings.heartbeats.summaryS * 1000,
              logger: logger.child({ component: "presence" }),
            })
          : undefined,
      logger,
      store: config,
      sealingKey: keys.sealingPrivateKey,
      bufferStats: () => buffer.stats(),
      uplinkConnected: () => uplink?.connected() ?? false,
      uplinkStatus: () => uplink?.status(),
      deadLetters: (limit, offset) =>
        buffer
          .deadLetters({ limit, offset })
          .map(({ payload, ...d }) => ({ ...d, payload: Buffer.from(payload).toString("utf8", 0, 512) })),
    });
  } catch (error) {
    buffer.close();
    throw error;
  }

  uplink = new Uplink({
    outbox: buffer,
    hubUrl: settings.hub.url,
    failoverUrls: settings.hub.failoverUrls,
    gatewayId: settings.gatewayId,
    privateKey: keys.privateKey,
    username: settings.hub.username ?? settings.gatewayId,
    password: settings.hub.password,
    tls: hubTls,
    batchMaxReadings: settings.batch.maxReadings,
    batchMaxWaitMs: settings.batch.maxWaitMs,
    lowPriorityWaitMs: settings.batch.lowPriorityWaitMs,
    priority,
    maxInFlight: settings.batch.maxInFlight,
    dataDir: settings.dataDir,
    config,
    logger: logger.child({ component: "uplink" }),
  });
  const running = uplink;
  running.onCommand((command) => {
    gateway.handleHubCommand(command).catch((error: Error) => logger.warn({ err: error }, "hub command failed"));
  });
  running.onCameraRequest((request) => {
    gateway.handleCameraRequest(request).then(
      (reply) => running.publishCameraReply(reply),
      (error: Error) => running.publishCameraReply({ v: 1, reqId: request.reqId, ok: false, code: "camera_error", error: error.message }),
    );
  });
  running.start();

  const report = () => running.publishStatus(gatewayStatus(settings.gatewayId, gateway, buffer, running));
  // Announced at every connection, to whichever broker node: a hub whose broker cannot keep retained configs across
  // nodes (RabbitMQ) sends the current config to a gateway that reports an older one.
  running.onOnline(report);
  const timer = setInterval(report, STATUS_INTERVAL_MS);
  timer.unref();

  logger.info(
    { gatewayId: settings.gatewayId, links: gateway.status().links, httpPort: gateway.httpPort, hub: settings.hub.url },
    "gateway started",
  );
  return {
    gateway,
    buffer,
    uplink: running,
    publicKeyPem: keys.publicKeyPem,
    async close() {
      clearInterval(timer);
      await gateway.close();
      await running.stop();
      buffer.close();
    },
  };
}

/** The retained health report the hub shows per gateway. */
export function gatewayStatus(gatewayId: string, gateway: RunningGateway, buffer: GatewayBuffer, uplink: Uplink): GatewayStatus {
  const stats = buffer.stats();
  const link = uplink.status();
  const state = gateway.status();
  const alarms: string[] = [];
  if (stats.fillAlarm !== "ok") alarms.push(`buffer ${Math.round((stats.bytes / stats.capacityBytes) * 100)}% full`);
  if (link.rejected > 0) alarms.push(`${link.rejected} batches rejected by the hub`);
  return {
    v: 1,
    gatewayId,
    state: "online",
    ts: Date.now(),
    configVersion: state.configVersion ?? undefined,
    devices: state.devices,
    buffer: {
      depth: stats.depth,
      bytes: stats.bytes,
      capacityBytes: stats.capacityBytes,
      oldestTs: stats.oldestTs,
      deadLetters: stats.deadLetters,
    },
    uplink: { inFlight: link.inFlight, rttMs: link.rttMs, drainRatePerS: link.drain?.ratePerS ?? 0 },
    alarms,
  };
}
