import { SupervisionSettings } from "../supervision/settings.ts";
import { ConfigError, Id, loadConfigFile, LOG_LEVELS } from "@supervision/firmware-protocols";
import { z } from "zod";
import { GrafanaSettings } from "../grafana/settings.ts";

const Port = z.int().min(1).max(65535);

const BrokerSettings = z.union([
  z.strictObject({
    /** The embedded broker gateways connect to: 1884 plain, or 8883 with TLS. */
    port: Port.default(1884),
    /** Loopback by default: give the address gateways reach (e.g. 0.0.0.0) when they run on other machines. */
    host: z.string().default("127.0.0.1"),
    /**
     * PEM files; the same key names as the gateway's broker.tls. With clientCaFile, a gateway must also present a
     * client certificate signed by that CA whose common name is its gateway id (mutual TLS), besides its password.
     */
    tls: z.strictObject({ certFile: z.string().min(1), keyFile: z.string().min(1), clientCaFile: z.string().min(1).optional() }).optional(),
  }),
  z.strictObject({
    /** An external broker (several hub copies share its batches through a shared subscription). */
    url: z.string().regex(/^mqtts?:\/\//, "an mqtt:// or mqtts:// URL"),
    username: z.string().optional(),
    password: z.string().optional(),
    shareGroup: z.string().min(1).max(64).default("hub"),
    /**
     * How hub copies share the gateways' traffic: `mqtt` ($share subscriptions: Mosquitto, one node) or `amqp` (one
     * quorum queue of a RabbitMQ cluster, whose `$share` delivers nothing; `url` is then one node's MQTT listener).
     */
    transport: z.enum(["mqtt", "amqp"]).default("mqtt"),
    amqp: z
      .strictObject({
        /** Every node's AMQP listener: a copy moves to the next when its node goes. Logs in with username/password. */
        urls: z.array(z.string().min(1)), // at least one, amqp:// or amqps://, checked below (a union names only its first form's problems)
        /** The quorum queue all copies consume (made when missing, bound to amq.topic). */
        queue: z.string().min(1).max(255).default("sv.hub.ingest"),
        /** Deliveries a copy holds unacknowledged at once. */
        prefetch: z.int().min(1).max(1000).default(32),
      })
      .optional(),
    /** This copy's name in `hub status` and the broker's consumer list (default host-pid). */
    copyName: z.string().min(1).max(64).optional(),
  }),
]);

export const HubSettings = z.strictObject({
  influx: z
    .strictObject({
      /** Absent: the hub runs its own influxd under dataDir/influxdb on `managedPort`. */
      url: z.url().optional(),
      managedPort: Port.default(8086),
      /** influxd always binds a backup RPC port as well. */
      managedRpcPort: Port.default(8088),
      /**
       * Threads that run the managed influxd's Go code at once (its GOMAXPROCS). Absent: the machine's cores less one
       * (at least one), leaving the hub a core of its own (README.md, "Benchmarks").
       */
      managedGoMaxProcs: z.int().min(1).max(1024).optional(),
      database: z.string().min(1).max(64).default("supervision"),
      username: z.string().optional(),
      password: z.string().optional(),
      /**
       * InfluxDB by region (hub/README.md, "InfluxDB by region"): a registry region id → the InfluxDB its sites' points
       * go to and its rules read. Absent (the default): everything in the one InfluxDB above, which stays the central
       * database of hub-wide records and the province's rollups. A registry region not listed here uses the central one.
       */
      regions: z
        .record(
          Id,
          z.strictObject({
            url: z.url(),
            /** Default: influx.database. */
            database: z.string().min(1).max(64).optional(),
            username: z.string().optional(),
            password: z.string().optional(),
          }),
        )
        .optional(),
    })
    .prefault({}),
  broker: BrokerSettings.prefault({}),
  /**
   * Secret the hub's own MQTT clients log in with at the embedded broker (username "hub"). Absent: generated at
   * first start into dataDir/secrets/broker-service.secret (mode 0600) and reused.
   */
  serviceSecret: z.string().min(16, "at least 16 characters").optional(),
  http: z
    .strictObject({
      port: Port.default(8080),
      host: z.string().default("127.0.0.1"),
      /** API tokens (name, role, token); absent: dataDir/secrets/api-tokens.json, generated at first start (mode 0600). */
      tokensFile: z.string().min(1).optional(),
      /** PEM files: the API speaks HTTPS. */
      tls: z.strictObject({ certFile: z.string().min(1), keyFile: z.string().min(1) }).optional(),
    })
    .prefault({}),
  registry: z.strictObject({ dir: z.string().min(1).default("config/registry") }).prefault({}),
  dataDir: z.string().min(1).default("var/hub"),
  /** The supervision rules: intervals, cards, scoring (hub/src/supervision/README.md). */
  supervision: SupervisionSettings.prefault({}),
  grafana: GrafanaSettings.prefault({}),
  /** Tamper evidence at rest (hub/src/audit/README.md): the manifests' key and the scheduled audit. */
  audit: z
    .strictObject({
      /** The key the batch manifests are digested with; default dataDir/audit.key, made at first start. Hub copies share one. */
      keyFile: z.string().min(1).optional(),
      /** Minutes between scheduled audits; 0 turns them off. */
      intervalMinutes: z.int().min(0).max(10_080).default(60),
      /** Days back from today each scheduled audit covers (whole UTC days). */
      days: z.int().min(1).max(366).default(2),
    })
    .prefault({}),
  /** Province rollups (hub/src/rollup): per region, day and month, gathered into the central database. */
  rollup: z
    .strictObject({
      /** Minutes between scheduled rollups; 0 turns them off (`hub rollup` still runs on demand). */
      intervalMinutes: z.int().min(0).max(10_080).default(60),
      /** Local days back from today each scheduled rollup gathers (and the months they touch). */
      days: z.int().min(1).max(366).default(2),
      /** The zone days and months are counted in: one for the whole province. */
      tz: z
        .string()
        .min(1)
        .max(64)
        .refine((tz) => {
          try {
            new Intl.DateTimeFormat("en", { timeZone: tz });
            return true;
          } catch {
            return false;
          }
        }, "an IANA time zone, e.g. Asia/Shanghai")
        .default("Asia/Shanghai"),
    })
    .prefault({}),
  /** The same key as the gateway's. */
  logLevel: z.enum(LOG_LEVELS).default("info"),
});
export type HubSettings = z.infer<typeof HubSettings>;

/** The settings with the checks that span keys (what `loadSettings` validates against). */
const CheckedHubSettings = HubSettings.superRefine((settings, ctx) => {
  // Here rather than in the broker's union, so the problem is named instead of the union's other form.
  if ("url" in settings.broker && settings.broker.transport === "amqp" && !settings.broker.amqp?.urls.length)
    ctx.addIssue({
      code: "custom",
      path: ["broker", "amqp"],
      message: "transport amqp needs broker.amqp.urls (every RabbitMQ node's amqp:// URL)",
    });
  if ("url" in settings.broker)
    for (const [i, url] of (settings.broker.amqp?.urls ?? []).entries())
      if (!/^amqps?:\/\/[^/\s]+/.test(url))
        ctx.addIssue({
          code: "custom",
          path: ["broker", "amqp", "urls", i],
          message: `"${url.slice(0, 80)}" is not an amqp:// or amqps:// URL`,
        });
});

/** One settings error type for both processes: every problem with its file and line (firmware-protocols config-file). */
export const SettingsError = ConfigError;
export type SettingsError = ConfigError;

/** Keys that changed name; an old one is refused with the new name (the gateway and the hub say the same thing the same way). */
export const RENAMED_HUB_KEYS = {
  "log.level": "logLevel",
  "broker.tls.cert": "broker.tls.certFile",
  "broker.tls.key": "broker.tls.keyFile",
};

/**
 * Secrets the environment may give instead of the settings file (a container's secrets, a systemd credential); the
 * environment wins when set and not empty. Nothing else is read from the environment.
 */
export const HUB_SETTINGS_ENV = {
  "influx.username": "HUB_INFLUX_USERNAME",
  "influx.password": "HUB_INFLUX_PASSWORD",
  serviceSecret: "HUB_SERVICE_SECRET",
  "grafana.serviceAccountToken": "GRAFANA_SERVICE_ACCOUNT_TOKEN",
  "grafana.datasource.user": "INFLUX_READ_USER",
  "grafana.datasource.password": "INFLUX_READ_PASSWORD",
} as const;

/** The settings with the secrets of HUB_SETTINGS_ENV taken from the environment where it gives them. */
export function withEnv(settings: HubSettings, env: NodeJS.ProcessEnv = process.env, file = "<environment>"): HubSettings {
  const get = (key: keyof typeof HUB_SETTINGS_ENV) => env[HUB_SETTINGS_ENV[key]] || undefined;
  const serviceSecret = get("serviceSecret");
  if (serviceSecret !== undefined && serviceSecret.length < 16)
    throw new ConfigError([
      {
        code: "schema",
        file,
        line: 0,
        path: "serviceSecret",
        message: `${HUB_SETTINGS_ENV.serviceSecret} must have at least 16 characters`,
      },
    ]);
  return {
    ...settings,
    influx: {
      ...settings.influx,
      username: get("influx.username") ?? settings.influx.username,
      password: get("influx.password") ?? settings.influx.password,
    },
    serviceSecret: serviceSecret ?? settings.serviceSecret,
    grafana: {
      ...settings.grafana,
      serviceAccountToken: get("grafana.serviceAccountToken") ?? settings.grafana.serviceAccountToken,
      datasource: {
        ...settings.grafana.datasource,
        user: get("grafana.datasource.user") ?? settings.grafana.datasource.user,
        password: get("grafana.datasource.password") ?? settings.grafana.datasource.password,
      },
    },
  };
}

/** Reads and validates the hub's one settings file (and the secrets HUB_SETTINGS_ENV names); every problem names the file, line and key. */
export function loadSettings(file: string, env: NodeJS.ProcessEnv = process.env): HubSettings {
  const settings = loadConfigFile(file, CheckedHubSettings, {
    docs: "hub/README.md",
    unreadableHint: "pass --settings <file> (see config/hub.yaml)",
    renamed: RENAMED_HUB_KEYS,
  });
  return withEnv(settings, env, file);
}
