import { EventEmitter } from "node:events";
import { join, resolve } from "node:path";
import { type InfluxConnection, influxClient } from "../influx/client.ts";
import type { Logger } from "pino";
import { collectDefaultMetrics, Registry as MetricsRegistry } from "prom-client";
import { type HubBroker, startHubBroker } from "../broker/index.ts";
import { AmqpLink, unroutableGatewayIds } from "../broker/amqp.ts";
import { createGrafanaExtension } from "../grafana/index.ts";
import { createLiveViewExtension } from "../live/index.ts";
import { HubHttpServer } from "../http/server.ts";
import { ApiTokens, PUBLIC, requireRole, WatchedApiTokens } from "../http/auth.ts";
import { hubSecrets, influxCredentials } from "../secrets/hub-secrets.ts";
import { safeLogger } from "../secrets/redact.ts";
import { ManagedInfluxd } from "@supervision/influxd";
import { InfluxHealth, type InfluxHealthStatus } from "../influx/health.ts";
import { ensureDatabase } from "../influx/setup.ts";
import { influxRegions, type InfluxRegions, regionSettingsProblems, unlistedRegions } from "../influx/regions.ts";
import { ConfigError } from "@supervision/firmware-protocols";
import { createIngestExtension } from "../ingest/index.ts";
import { createAuditExtension } from "../audit/extension.ts";
import { auditKeyPath, loadAuditKey } from "../audit/key.ts";
import { createSupervisionExtension } from "../supervision/index.ts";
import { createRollupExtension } from "../rollup/extension.ts";
import { createConfigPublisher } from "../registry/config-publisher.ts";
import { createCamerasExtension } from "../cameras/index.ts";
import { WatchedRegistry } from "../registry/view.ts";
import type { HubSettings } from "../settings/index.ts";
import type { HubContext, HubEvents, HubExtension } from "./extension.ts";

/** What /healthz reports for one extension. */
interface ExtensionState {
  extension: HubExtension;
  state: "starting" | "running" | "failed" | "stopped";
  error?: string;
}

/**
 * The hub: managed influxd (unless influx.url), database, registry, embedded broker (unless external), HTTP API,
 * then the extensions in order. A failing extension is reported in /healthz; the others keep running.
 */
export class Hub {
  private influxd: ManagedInfluxd | undefined;
  private influxHealth: InfluxHealth | undefined;
  private broker: HubBroker | undefined;
  private registry: WatchedRegistry | undefined;
  private readonly http: HubHttpServer;
  private readonly extensions: ExtensionState[] = [];
  private readonly metrics = new MetricsRegistry();
  private apiTokens: WatchedApiTokens | undefined;
  httpPort = 0;

  private readonly logger: Logger;

  constructor(
    private readonly settings: HubSettings,
    logger: Logger,
    /** Extra extensions (e.g. supervision) appended after the built-in ones. */
    private readonly extra: HubExtension[] = [],
    /** Where the settings came from: problems the registry finds in them (influx.regions) name its lines. */
    private readonly options: { settingsFile?: string } = {},
  ) {
    // Whoever made the logger, errors are logged without the credentials they may carry.
    this.logger = safeLogger(logger);
    this.http = new HubHttpServer(this.logger.child({ component: "http" }), {
      tokens: {
        current: () => {
          if (!this.apiTokens) throw new Error("the API tokens are read at start");
          return this.apiTokens.current();
        },
      },
      ...(settings.http.tls ? { tls: settings.http.tls } : {}),
    });
  }

  async start(): Promise<void> {
    const { settings, logger } = this;
    const dataDir = resolve(settings.dataDir);
    // Every secret is given in the settings or generated here at first start (mode 0600): none has a default.
    const secrets = hubSecrets(settings, dataDir);
    const tokensFile = secrets.apiTokensFile;
    const { tokens, created } = ApiTokens.loadOrCreate(tokensFile);
    if (created) logger.info({ file: tokensFile }, "generated the API token file with an administrator token named admin (mode 0600)");
    this.apiTokens = new WatchedApiTokens(tokensFile, tokens, (err) =>
      logger.error({ file: tokensFile, error: err.message }, "API token file not reloaded; the last good tokens stay in force"),
    );
    let influxUrl = settings.influx.url;
    const influxAuth = influxCredentials(settings, { generate: true, dataDir });
    if (!influxUrl) {
      const influxdDir = join(dataDir, "influxdb");
      // Supervised: restarted with backoff when it dies; its state is in /healthz, `hub status` and the metrics.
      const influxd = new ManagedInfluxd({
        dataDir: influxdDir,
        httpPort: settings.influx.managedPort,
        rpcPort: settings.influx.managedRpcPort,
        goMaxProcs: settings.influx.managedGoMaxProcs,
        supervise: true,
        // Authentication on: the hub's admin user is made at first start with the generated password.
        auth: { username: influxAuth.username!, password: influxAuth.password ?? "" },
        onState: (state, detail) => this.influxHealth?.onManagedState(state, detail),
      });
      this.influxd = influxd;
      await influxd.start();
      influxUrl = influxd.url;
      if (influxd.orphan)
        logger.warn(
          { pid: influxd.orphan.pid, dataDir: influxdDir },
          "an influxd of this data directory was left running by a hub that died; stopped it and started one this hub owns",
        );
      logger.info(
        { url: influxUrl, pid: influxd.pid, dataDir: influxdDir, goMaxProcs: influxd.goMaxProcs },
        "managed influxd started (owned: owner.pid and influxd.pid in its data directory)",
      );
    }
    this.influxHealth = new InfluxHealth(influxUrl, this.influxd, logger.child({ component: "influx" }), this.metrics);
    this.influxHealth.start();
    const central = influxClient(settings, influxUrl, influxAuth);
    const { influx, writeLines } = central;
    await ensureDatabase(influx, settings.influx.database, logger);
    this.registry = new WatchedRegistry(settings.registry.dir, logger.child({ component: "registry" }), {
      stateFile: join(dataDir, "registry-version.json"),
    });
    this.registry.watch();
    const regions = await this.startRegions(central);

    let brokerUrl: string;
    let credentials: { username?: string; password?: string };
    let shareGroup = "";
    let amqpLink: AmqpLink | undefined;
    if ("url" in settings.broker) {
      brokerUrl = settings.broker.url;
      credentials = { username: settings.broker.username, password: settings.broker.password };
      shareGroup = settings.broker.shareGroup;
      if (settings.broker.transport === "amqp" && settings.broker.amqp)
        // Batches, statuses, acks and configs over AMQP: one quorum queue the copies share (hub/src/broker/amqp.ts).
        amqpLink = new AmqpLink({
          ...settings.broker.amqp,
          ...credentials,
          copyName: settings.broker.copyName,
          logger: logger.child({ component: "amqp" }),
        });
      if (amqpLink) {
        const warnUnroutable = (ids: Iterable<string>) => {
          const bad = unroutableGatewayIds(ids);
          if (bad.length > 0)
            logger.error(
              { gateways: bad.slice(0, 20), count: bad.length },
              "gateway ids with a dot cannot be routed through RabbitMQ (its MQTT plugin keeps the dot in routing keys): their batches reach no hub copy; rename them without dots",
            );
        };
        warnUnroutable(this.registry.current().gateways.keys());
        this.registry.onChange((registry) => warnUnroutable(registry.gateways.keys()));
      }
    } else {
      const serviceSecret = secrets.serviceSecret();
      this.broker = await startHubBroker({
        port: settings.broker.port,
        host: settings.broker.host,
        ...(settings.broker.tls
          ? {
              tls: {
                cert: settings.broker.tls.certFile,
                key: settings.broker.tls.keyFile,
                ...(settings.broker.tls.clientCaFile ? { clientCa: settings.broker.tls.clientCaFile } : {}),
              },
            }
          : {}),
        registry: this.registry,
        logger,
        serviceSecret,
        metrics: this.metrics,
      });
      brokerUrl = this.broker.internalUrl;
      credentials = { username: "hub", password: serviceSecret };
    }

    collectDefaultMetrics({ register: this.metrics });
    // Open: probes and Prometheus call them without a token; they change nothing and carry no secrets.
    this.http.add(
      "GET",
      "/healthz",
      async () => {
        const status = this.status();
        return { status: status.ok ? 200 : 503, body: status };
      },
      PUBLIC,
    );
    this.http.add(
      "GET",
      "/metrics",
      async () => ({ status: 200, body: await this.metrics.metrics(), contentType: this.metrics.contentType }),
      PUBLIC,
    );
    this.http.add("GET", "/api/status", async () => ({ status: 200, body: this.status() }), requireRole("viewer"));
    this.http.add("GET", "/api/whoami", async (req) => ({ status: 200, body: req.identity }), requireRole("viewer"));
    this.httpPort = await this.http.listen(settings.http.port, settings.http.host);

    // Made at first start; every batch manifest and the hub's own trail are digested with it (hub/src/audit).
    const auditKey = loadAuditKey(auditKeyPath(settings), { create: true });
    const ctx: HubContext = {
      logger,
      influx,
      writeLines,
      database: settings.influx.database,
      regions,
      registry: this.registry,
      metrics: this.metrics,
      http: this.http,
      events: new EventEmitter<HubEvents>(),
      now: Date.now,
      dataDir,
      auditKey,
    };
    const all = [
      createIngestExtension({ brokerUrl, ...credentials, shareGroup, auditKey, amqp: amqpLink }),
      createAuditExtension({ ...settings.audit, key: auditKey, locale: settings.supervision.locale }),
      // Camera live view: the page and the streams it plays, pulled from the cameras' gateways.
      createLiveViewExtension(),
      createCamerasExtension({ brokerUrl, ...credentials }),
      createConfigPublisher({ brokerUrl, ...credentials, amqp: amqpLink }),
      ...this.extra,
      createGrafanaExtension(settings.grafana),
      // After Grafana, which listens for its warnings and cards.
      createSupervisionExtension(settings.supervision, {
        copyName: "url" in settings.broker ? settings.broker.copyName : undefined,
        externalBroker: "url" in settings.broker,
      }),
      // Each region's day and month counts into the central database (province dashboard).
      createRollupExtension(settings.rollup),
    ];
    for (const extension of all) {
      const entry: ExtensionState = { extension, state: "starting" };
      this.extensions.push(entry);
      try {
        await extension.start({ ...ctx, logger: logger.child({ extension: extension.name }) });
        entry.state = "running";
      } catch (err) {
        entry.state = "failed";
        entry.error = (err as Error).message;
        logger.error({ err, extension: extension.name }, "extension failed to start; the others keep running");
      }
    }
    logger.info({ http: this.httpPort, broker: brokerUrl, influx: influxUrl }, "hub started");
  }

  /**
   * InfluxDB by region: checks influx.regions against the registry (a region it does not know stops the start, at
   * its settings line), and makes each region's database. A region's InfluxDB that does not answer yet is tried again
   * every 5 s in the background; its sites' writes wait for it meanwhile (the writer retries, nothing is acknowledged).
   */
  private async startRegions(central: InfluxConnection): Promise<InfluxRegions> {
    const { settings, logger } = this;
    const registry = this.registry!;
    const problems = regionSettingsProblems(settings, registry.current(), this.options.settingsFile);
    if (problems.length > 0) throw new ConfigError(problems);
    const regions = influxRegions(settings, central, () => registry.current());
    const warnUnlisted = (current = registry.current()) => {
      const unlisted = unlistedRegions(settings, current);
      if (unlisted.length > 0)
        logger.warn(
          { regions: unlisted.slice(0, 20) },
          "registry regions without an InfluxDB in influx.regions: their sites use the central database",
        );
      for (const problem of regionSettingsProblems(settings, current, this.options.settingsFile))
        logger.error({ file: problem.file, line: problem.line }, problem.message);
    };
    warnUnlisted();
    this.registry!.onChange(warnUnlisted);
    for (const [region, connection] of regions.regions()) {
      const ensure = async (): Promise<void> => {
        try {
          await ensureDatabase(connection.influx, connection.database, logger.child({ region }));
        } catch (err) {
          logger.error(
            { region, url: connection.url.origin, err: (err as Error).message },
            "a region's InfluxDB is not reachable; its sites' points wait for it; trying again in 5 s",
          );
          this.regionRetries.add(setTimeout(() => void ensure(), 5_000));
        }
      };
      await ensure();
    }
    return regions;
  }

  private readonly regionRetries = new Set<NodeJS.Timeout>();

  status(): {
    ok: boolean;
    registryVersion: number | undefined;
    influx: InfluxHealthStatus | undefined;
    extensions: Record<string, unknown>;
  } {
    const extensions: Record<string, unknown> = {};
    for (const { extension, state, error } of this.extensions) {
      let detail: Record<string, unknown> = {};
      try {
        detail = state === "running" ? extension.status() : {};
      } catch (err) {
        detail = { statusError: (err as Error).message };
      }
      extensions[extension.name] = { state, ...(error ? { error } : {}), detail };
    }
    return {
      // Not ok while the hub cannot store (InfluxDB silent, the managed influxd down), so /healthz answers 503.
      ok: this.extensions.every((e) => e.state === "running") && (this.influxHealth?.ok ?? false),
      registryVersion: this.registry?.current().version,
      influx: this.influxHealth?.status(),
      extensions,
    };
  }

  /** Stops in reverse order; each step runs even if an earlier one fails. */
  async stop(): Promise<void> {
    for (const entry of [...this.extensions].reverse()) {
      if (entry.state !== "running") continue;
      try {
        await entry.extension.stop();
        entry.state = "stopped";
      } catch (err) {
        this.logger.error({ err, extension: entry.extension.name }, "extension failed to stop");
      }
    }
    this.influxHealth?.stop();
    for (const timer of this.regionRetries) clearTimeout(timer);
    await this.http.close();
    await this.broker?.close();
    this.registry?.close();
    await this.influxd?.stop();
  }
}
