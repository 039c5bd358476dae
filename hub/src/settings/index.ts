import { SupervisionSettings } from "../supervision/settings.ts";
import { readFileSync, statSync } from "node:fs";
import { isNode, LineCounter, parseDocument } from "yaml";
import { z } from "zod";
import { GrafanaSettings } from "../grafana/settings.ts";

const Port = z.int().min(1).max(65535);
const MAX_SETTINGS_BYTES = 256 * 1024;

const BrokerSettings = z.union([
  z.strictObject({
    /** The embedded broker gateways connect to: 1884 plain, or 8883 with TLS. */
    port: Port.default(1884),
    host: z.string().default("0.0.0.0"),
    tls: z.strictObject({ cert: z.string().min(1), key: z.string().min(1) }).optional(),
  }),
  z.strictObject({
    /** An external broker (several hub copies share its batches through a shared subscription). */
    url: z.string().regex(/^mqtts?:\/\//, "an mqtt:// or mqtts:// URL"),
    username: z.string().optional(),
    password: z.string().optional(),
    shareGroup: z.string().min(1).max(64).default("hub"),
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
      database: z.string().min(1).max(64).default("supervision"),
      username: z.string().optional(),
      password: z.string().optional(),
    })
    .prefault({}),
  broker: BrokerSettings.prefault({}),
  /** Secret the hub's own MQTT clients log in with (username "hub"). */
  serviceSecret: z.string().min(16, "at least 16 characters").default("change-me-hub-service-secret"),
  http: z.strictObject({ port: Port.default(8080), host: z.string().default("127.0.0.1") }).prefault({}),
  registry: z.strictObject({ dir: z.string().min(1).default("config/registry") }).prefault({}),
  dataDir: z.string().min(1).default("var/hub"),
  /** The supervision rules: intervals, cards, scoring (hub/src/supervision/README.md). */
  supervision: SupervisionSettings.prefault({}),
  grafana: GrafanaSettings.prefault({}),
  log: z.strictObject({ level: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info") }).prefault({}),
});
export type HubSettings = z.infer<typeof HubSettings>;

export class SettingsError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`${file}: invalid hub settings:\n${problems.map((p) => `  ${p}`).join("\n")}`);
    this.name = "SettingsError";
  }
}

/** Reads and validates the hub's one settings file; every problem names the file, line and key. */
export function loadSettings(file: string): HubSettings {
  let text: string;
  try {
    if (statSync(file).size > MAX_SETTINGS_BYTES)
      throw new SettingsError(file, [`the file is larger than ${MAX_SETTINGS_BYTES} bytes; is it the right file?`]);
    text = readFileSync(file, "utf8");
  } catch (err) {
    if (err instanceof SettingsError) throw err;
    throw new SettingsError(file, [`cannot read it (${(err as Error).message}); pass --settings <file> (see config/hub.yaml)`]);
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new SettingsError(
      file,
      doc.errors.map((e) => `${file}:${lineCounter.linePos(e.pos[0]).line}: invalid YAML: ${e.message.split("\n")[0]}`),
    );
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 50 }) ?? {};
  } catch (err) {
    throw new SettingsError(file, [`${(err as Error).message}; write the values out instead of using aliases`]);
  }
  const parsed = HubSettings.safeParse(data);
  if (parsed.success) return parsed.data;
  throw new SettingsError(
    file,
    parsed.error.issues.map((issue) => {
      const path = issue.path.filter((p): p is string | number => typeof p !== "symbol");
      const keys = issue.code === "unrecognized_keys" ? [...path, issue.keys[0] ?? ""] : path;
      let line = 1;
      for (let n = keys.length; n > 0; n--) {
        const node = doc.getIn(keys.slice(0, n), true);
        if (isNode(node) && node.range) {
          line = lineCounter.linePos(node.range[0]).line;
          break;
        }
      }
      const key = path.join(".") || "(top level)";
      const message =
        issue.code === "unrecognized_keys"
          ? `unknown key(s) ${issue.keys.join(", ")}; remove or fix the spelling (see hub/README.md)`
          : issue.message;
      return `${file}:${line}: ${key}: ${message}`;
    }),
  );
}
