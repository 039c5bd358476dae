import { closeSync, type FSWatcher, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, watch, writeSync } from "node:fs";
import { dirname } from "node:path";
import type { Logger } from "pino";
import type { RegistryView } from "../controller/extension.ts";
import { formatRegistryError, loadRegistry, RegistryLoadError } from "./loader.ts";
import type { Registry } from "./schema.ts";

/** The last version this hub gave out, and the content it stood for. */
interface VersionState {
  version: number;
  digest: string;
}

/**
 * The version a freshly loaded registry goes out with. Normally its own (the files' newest modification time), which
 * two hub copies reading the same files agree on. It never goes down: when the files look older than what was last
 * given out (a backup restored with its old times), changed content gets the last version + 1, and unchanged content
 * keeps the last version, so a gateway never sees a lower number for something new.
 */
export function nextVersion(loaded: { version: number; digest?: string }, last: VersionState | undefined): number {
  if (!last || loaded.version > last.version) return loaded.version;
  return loaded.digest !== undefined && loaded.digest === last.digest ? last.version : last.version + 1;
}

function readState(file: string | undefined): VersionState | undefined {
  if (!file) return undefined;
  try {
    const value = JSON.parse(readFileSync(file, "utf8")) as Partial<VersionState>;
    return Number.isSafeInteger(value.version) && typeof value.digest === "string"
      ? { version: value.version!, digest: value.digest }
      : undefined;
  } catch {
    return undefined;
  }
}

function writeState(file: string, state: VersionState): void {
  mkdirSync(dirname(file), { recursive: true });
  const temp = `${file}.tmp`;
  const fd = openSync(temp, "w", 0o600);
  try {
    writeSync(fd, JSON.stringify(state));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, file);
}

export interface WatchedRegistryOptions {
  /** Debounce of file change events (default 300 ms). */
  debounceMs?: number;
  /** Where the last version given out is kept (the hub's data dir), so versions keep rising across restarts. */
  stateFile?: string;
}

/**
 * A registry that reloads itself when its files change. A bad edit keeps the last good registry (and logs every
 * error), so a typo never takes the hub's view of the sites away. Versions only go up (nextVersion).
 */
export class WatchedRegistry implements RegistryView {
  private registry: Registry;
  private readonly listeners = new Set<(registry: Registry) => void>();
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;

  private readonly debounceMs: number;
  private readonly stateFile: string | undefined;

  /** Throws RegistryLoadError when the first load fails: the hub must not start without a registry. */
  constructor(
    private readonly dir: string,
    private readonly logger: Logger,
    options: number | WatchedRegistryOptions = {},
  ) {
    const opts = typeof options === "number" ? { debounceMs: options } : options;
    this.debounceMs = opts.debounceMs ?? 300;
    this.stateFile = opts.stateFile;
    this.registry = this.versioned(loadRegistry(dir), readState(this.stateFile));
  }

  /** Gives a loaded registry its version and remembers it. */
  private versioned(loaded: Registry, last: VersionState | undefined): Registry {
    const version = nextVersion(loaded, last);
    if (version !== loaded.version) {
      this.logger.warn(
        { filesVersion: loaded.version, version },
        "the registry files are older than the version last given out (restored from a backup?); continuing from the last version",
      );
    }
    const registry = { ...loaded, version };
    if (this.stateFile && (last?.version !== version || last.digest !== registry.digest)) {
      try {
        writeState(this.stateFile, { version, digest: registry.digest ?? "" });
      } catch (err) {
        this.logger.error({ err, file: this.stateFile }, "cannot keep the registry version; it may not rise across a restart");
      }
    }
    return registry;
  }

  current(): Registry {
    return this.registry;
  }

  onChange(listener: (registry: Registry) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  watch(): void {
    if (this.watcher) return;
    this.watcher = watch(this.dir, () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.reload(), this.debounceMs);
    });
  }

  /** Reloads now; returns whether the new files were accepted. */
  reload(): boolean {
    try {
      const loaded = loadRegistry(this.dir);
      this.registry = this.versioned(loaded, { version: this.registry.version, digest: this.registry.digest ?? "" });
    } catch (err) {
      if (!(err instanceof RegistryLoadError)) throw err;
      this.logger.error({ errors: err.errors.map(formatRegistryError) }, "registry reload rejected; keeping the last good registry");
      return false;
    }
    this.logger.info({ version: this.registry.version }, "registry reloaded");
    for (const listener of this.listeners) {
      try {
        listener(this.registry);
      } catch (err) {
        this.logger.error({ err }, "registry change listener failed");
      }
    }
    return true;
  }

  close(): void {
    clearTimeout(this.timer);
    this.watcher?.close();
    this.watcher = undefined;
  }
}
