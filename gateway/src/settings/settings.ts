import { readFileSync } from "node:fs";
import { GatewayConfig, Id } from "@supervision/firmware-protocols";
import { isMap, isSeq, LineCounter, parseDocument } from "yaml";
import { z } from "zod";
import { DEVICE_LINKS } from "../adapters/index.ts";
import { Port } from "./values.ts";

/** Largest settings file read; anything bigger is not a hand-written settings file. */
const MAX_SETTINGS_BYTES = 1024 * 1024;

type DeviceLinkSections = { [L in (typeof DEVICE_LINKS)[number] as L["section"]]: L["settings"] };
/** Each device link's own section (`broker` for MQTT devices, `serial`, ...), with the link's schema. */
const deviceLinkSections = Object.fromEntries(DEVICE_LINKS.map((link) => [link.section, link.settings])) as DeviceLinkSections;

export const Settings = z
  .strictObject({
    gatewayId: Id,
    dataDir: z.string().min(1).optional(),
    ...deviceLinkSections,
    hub: z
      .strictObject({
        url: z
          .string()
          .regex(/^mqtts?:\/\//, "must start with mqtt:// or mqtts://")
          .default("mqtt://127.0.0.1:1884"),
        username: z.string().max(128).optional(),
        password: z.string().max(256).optional(),
        caFile: z.string().optional(),
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
        maxInFlight: z.int().min(1).max(64).default(4),
      })
      .prefault({}),
    logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace"]).default("info"),
    /** For a gateway that has never reached the hub: the config slice to start with. */
    config: GatewayConfig.optional(),
  })
  .transform((s) => ({ ...s, dataDir: s.dataDir ?? `var/gateway/${s.gatewayId}` }));
export type Settings = z.output<typeof Settings>;

export class SettingsError extends Error {
  constructor(
    message: string,
    readonly file: string,
    readonly path?: string,
    readonly line?: number,
  ) {
    super(message);
    this.name = "SettingsError";
  }
}

/** Parses settings YAML; every problem is a SettingsError naming the file, key and line. */
export function parseSettings(text: string, file = "<settings>"): Settings {
  if (Buffer.byteLength(text) > MAX_SETTINGS_BYTES) {
    throw new SettingsError(`${file}: larger than ${MAX_SETTINGS_BYTES} bytes; is this the right file?`, file);
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true });
  const yamlError = doc.errors[0];
  if (yamlError) {
    const line = yamlError.linePos?.[0].line;
    throw new SettingsError(`${file}${line ? `:${line}` : ""}: not valid YAML: ${yamlError.message.split("\n")[0]}`, file, undefined, line);
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new SettingsError(`${file}: ${(e as Error).message}`, file);
  }
  const result = Settings.safeParse(raw ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const keys = issue?.code === "unrecognized_keys" ? [...(issue.path ?? []), issue.keys[0] ?? ""] : (issue?.path ?? []);
  const path = keys.map(String).join(".");
  const line = lineOf(doc, keys, lineCounter);
  const hint =
    issue?.code === "unrecognized_keys"
      ? "remove it or check its spelling (see gateway/README.md, Settings)"
      : "fix the value (see gateway/README.md, Settings)";
  throw new SettingsError(
    `${file}${line ? `:${line}` : ""}: ${path || "(top level)"}: ${issue?.message ?? "invalid"}; ${hint}`,
    file,
    path,
    line,
  );
}

export function loadSettings(file: string): Settings {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new SettingsError(`cannot read settings file ${file}: ${(e as Error).message}; pass --settings <file>`, file);
  }
  return parseSettings(text, file);
}

function lineOf(doc: ReturnType<typeof parseDocument>, keys: readonly PropertyKey[], lineCounter: LineCounter): number | undefined {
  let node: unknown = doc.contents;
  let offset: number | undefined;
  for (const key of keys) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (p.key as { value?: unknown } | null)?.value === key);
      if (!pair) break;
      offset = (pair.key as { range?: [number, number, number] }).range?.[0];
      node = pair.value;
    } else if (isSeq(node) && typeof key === "number") {
      node = node.items[key];
      offset = (node as { range?: [number, number, number] } | undefined)?.range?.[0];
    } else break;
  }
  return offset === undefined ? undefined : lineCounter.linePos(offset).line;
}
