import type { KeyObject } from "node:crypto";
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { DEVICE_LINKS, GatewayConfig, LINK_NAMES, openSecret, parseJsonObject, secretContext } from "@supervision/firmware-protocols";
import type { Logger } from "pino";

/** The largest config accepted from the hub or read back from disk. */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;
const CONFIG_FILE = "config.json";

/** The last good config from the hub, kept on disk so the gateway starts while the hub is unreachable. */
export function loadLastConfig(dataDir: string): GatewayConfig | undefined {
  let text: string;
  try {
    text = readFileSync(join(dataDir, CONFIG_FILE), "utf8");
  } catch {
    return undefined;
  }
  const json = parseJsonObject(text, MAX_CONFIG_BYTES);
  const parsed = json.ok ? GatewayConfig.safeParse(json.value) : undefined;
  return parsed?.success ? parsed.data : undefined;
}

function saveConfig(dataDir: string, config: GatewayConfig): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = join(dataDir, CONFIG_FILE);
  const temp = `${file}.tmp`;
  const fd = openSync(temp, "w", 0o600);
  try {
    writeSync(fd, JSON.stringify(config));
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    rmSync(temp, { force: true });
    throw error;
  }
  closeSync(fd);
  renameSync(temp, file); // atomic: a crash leaves the old config or the new one, never half of one
}

export interface ConfigStoreOptions {
  gatewayId: string;
  /** Where the last good config is kept; absent: memory only (tests of the device side). */
  dataDir?: string;
  /** Opens the link secrets the hub sealed to this gateway; every one is checked when a config arrives. */
  sealingKey?: KeyObject;
  /** The settings' inline config, for a gateway that has never reached the hub. */
  initial?: GatewayConfig;
  logger: Logger;
}

export type ConfigOffer = { applied: true; config: GatewayConfig } | { applied: false; reason: string };

/**
 * The gateway's one config path: received → checked once (schema, gateway id, version, sealed secrets) → stored
 * once (atomically, on disk) → applied (every listener, in order). The uplink offers what the hub sends; the
 * device side, the adapters and the status report read `current()`.
 */
export class ConfigStore {
  private config: GatewayConfig | undefined;
  private readonly listeners: ((config: GatewayConfig) => void)[] = [];

  constructor(private readonly opts: ConfigStoreOptions) {
    this.config = (opts.dataDir ? loadLastConfig(opts.dataDir) : undefined) ?? opts.initial;
  }

  current(): GatewayConfig | undefined {
    return this.config;
  }

  /** Called with every config applied after this call (not with the current one). */
  onApply(listener: (config: GatewayConfig) => void): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /** A config from the hub (parsed JSON, unchecked). Refusals are logged with the reason and keep the last good one. */
  offer(value: unknown): ConfigOffer {
    const checked = this.check(value);
    if (!checked.applied) {
      this.opts.logger.warn({ reason: checked.reason }, "ignoring a config from the hub; keeping the last good one");
      return checked;
    }
    const config = checked.config;
    // The hub's retained config comes again at every reconnect: one already stored is not written again.
    const unchanged = this.config !== undefined && JSON.stringify(this.config) === JSON.stringify(config);
    // The one it holds, again (each hub copy sends a registry change; a hub re-sends it when the gateway connects):
    // nothing to apply.
    if (unchanged) {
      this.opts.logger.debug({ version: config.version }, "config from the hub is the one applied; ignored");
      return { applied: false, reason: `version ${config.version} is the one applied` };
    }
    if (this.opts.dataDir) {
      try {
        saveConfig(this.opts.dataDir, config);
      } catch (error) {
        // Disk full or failing: applied all the same (the hub sends it again at the next connection), said loudly.
        this.opts.logger.error(
          { err: (error as Error).message, version: config.version },
          "could not store the config from the hub (disk full?); applying it from memory: after a restart the last stored one is used until the hub sends this one again",
        );
      }
    }
    this.config = config;
    for (const listener of this.listeners) {
      try {
        listener(config);
      } catch (error) {
        this.opts.logger.error({ err: error }, "applying the config failed in one part of the gateway");
      }
    }
    this.opts.logger.info({ version: config.version, devices: config.devices.length }, "config applied");
    return checked;
  }

  private check(value: unknown): ConfigOffer {
    const parsed = GatewayConfig.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return { applied: false, reason: `invalid: ${issue?.path.join(".") || "(top level)"}: ${issue?.message}` };
    }
    const config = parsed.data;
    if (config.gatewayId !== this.opts.gatewayId) return { applied: false, reason: `it names another gateway (${config.gatewayId})` };
    if (this.config && config.version < this.config.version) {
      return { applied: false, reason: `version ${config.version} is older than the applied ${this.config.version}` };
    }
    for (const device of config.devices) {
      for (const link of LINK_NAMES) {
        const fields = device[link] as Record<string, unknown> | undefined;
        if (!fields) continue;
        for (const field of DEVICE_LINKS[link].secretNames as readonly string[]) {
          const sealed = fields[field];
          if (typeof sealed !== "string") continue;
          if (!this.opts.sealingKey)
            return { applied: false, reason: `device ${device.id}: ${link}.${field} is sealed and this gateway has no sealing key` };
          const opened = openSecret(sealed, this.opts.sealingKey, secretContext(config.gatewayId, device.id, link, field));
          if (!opened.ok) return { applied: false, reason: `device ${device.id}: ${link}.${field}: ${opened.error.message}` };
        }
      }
    }
    return { applied: true, config };
  }
}
