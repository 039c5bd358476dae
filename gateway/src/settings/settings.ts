import { ConfigError, GatewayConfig, Id, loadConfigFile, LOG_LEVELS, parseConfigFile } from "@supervision/firmware-protocols";
import { z } from "zod";
import { DEVICE_LINKS } from "../adapters/index.ts";
import { Port } from "./values.ts";

type DeviceLinkSections = { [L in (typeof DEVICE_LINKS)[number] as L["section"]]: L["settings"] };
/** Each device link's own section (`broker` for MQTT devices, `serial`, ...), with the link's schema. */
const deviceLinkSections = Object.fromEntries(DEVICE_LINKS.map((link) => [link.section, link.settings])) as DeviceLinkSections;

export const Settings = z
  .strictObject({
    gatewayId: Id,
    dataDir: z.string().min(1).optional(),
    /** The Ed25519 signing key (PEM) kept outside dataDir, e.g. a read-only mount; absent: dataDir/gateway-key.pem, made on first start. */
    keyFile: z.string().min(1).optional(),
    ...deviceLinkSections,
    hub: z
      .strictObject({
        url: z
          .string()
          .regex(/^mqtts?:\/\//, "must start with mqtt:// or mqtts://")
          .default("mqtt://127.0.0.1:1884"),
        /** More nodes of the hub's broker cluster: after a lost or refused connection the uplink tries the next. */
        failoverUrls: z
          .array(z.string().regex(/^mqtts?:\/\//, "must start with mqtt:// or mqtts://"))
          .max(16)
          .default([]),
        username: z.string().max(128).optional(),
        password: z.string().max(256).optional(),
        /** PEM: the CA that signed the hub broker's certificate (mqtts://). */
        caFile: z.string().optional(),
        /** PEM: this gateway's client certificate and its key, for a hub broker that requires them (broker.tls.clientCaFile). */
        certFile: z.string().min(1).optional(),
        keyFile: z.string().min(1).optional(),
      })
      .refine((hub) => (hub.certFile === undefined) === (hub.keyFile === undefined), {
        message: "hub.certFile and hub.keyFile go together: give both (this gateway's client certificate and its key) or neither",
        path: ["certFile"],
      })
      .prefault({}),
    http: z
      .strictObject({
        host: z.string().default("127.0.0.1"),
        port: Port.default(8081),
        /** When set, /api/* needs "Authorization: Bearer <token>" (camera snapshots are evidence: set it when http.host is not loopback). */
        token: z.string().min(16, "use at least 16 characters").max(256).optional(),
      })
      .prefault({}),
    buffer: z
      .strictObject({
        capacityBytes: z
          .int()
          .min(1024 * 1024)
          .default(512 * 1024 * 1024),
      })
      .prefault({}),
    batch: z
      .strictObject({
        maxReadings: z.int().min(1).max(10_000).default(500),
        maxWaitMs: z.int().min(0).max(60_000).default(200),
        /** How long heartbeats and presence summaries alone wait for company before they are sealed (ms). */
        lowPriorityWaitMs: z.int().min(0).max(60_000).default(5000),
        maxInFlight: z.int().min(1).max(64).default(4),
      })
      .prefault({}),
    /**
     * Heartbeats summarised (firmware-protocols PROTOCOL.md 4.1): a presence report when a device goes offline or comes
     * back, and a summary per device every `summaryS` seconds; 0 forwards every heartbeat (as older gateways do).
     */
    heartbeats: z.strictObject({ summaryS: z.union([z.literal(0), z.int().min(60).max(86_400)]).default(600) }).prefault({}),
    logLevel: z.enum(LOG_LEVELS).default("info"),
    /** For a gateway that has never reached the hub: the config slice to start with. */
    config: GatewayConfig.optional(),
  })
  .transform((s) => ({ ...s, dataDir: s.dataDir ?? `var/gateway/${s.gatewayId}` }));
export type Settings = z.output<typeof Settings>;

/** One settings error type for both processes: every problem with its file and line (firmware-protocols config-file). */
export const SettingsError = ConfigError;
export type SettingsError = ConfigError;

const OPTIONS = { docs: "gateway/README.md, Settings", unreadableHint: "pass --settings <file>", renamed: { "log.level": "logLevel" } };

/** Parses settings YAML; every problem (all of them) names the file, key and line. */
export function parseSettings(text: string, file = "<settings>"): Settings {
  return parseConfigFile(text, file, Settings, OPTIONS);
}

/**
 * Secrets that may come from the environment instead of the file (a container's secrets, a systemd credential): the
 * environment wins when set and not empty.
 */
export const SETTINGS_ENV = { "hub.password": "GATEWAY_HUB_PASSWORD", "http.token": "GATEWAY_HTTP_TOKEN" } as const;

export function withEnv(settings: Settings, env: NodeJS.ProcessEnv = process.env): Settings {
  const hubPassword = env[SETTINGS_ENV["hub.password"]];
  const httpToken = env[SETTINGS_ENV["http.token"]];
  return {
    ...settings,
    hub: { ...settings.hub, ...(hubPassword ? { password: hubPassword } : {}) },
    http: { ...settings.http, ...(httpToken ? { token: httpToken } : {}) },
  };
}

export function loadSettings(file: string, env: NodeJS.ProcessEnv = process.env): Settings {
  return withEnv(loadConfigFile(file, Settings, OPTIONS), env);
}
