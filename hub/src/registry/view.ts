import { type FSWatcher, watch } from "node:fs";
import type { Logger } from "pino";
import type { RegistryView } from "../controller/extension.ts";
import { formatRegistryError, loadRegistry, RegistryLoadError } from "./loader.ts";
import type { Registry } from "./schema.ts";

/**
 * A registry that reloads itself when its files change. A bad edit keeps the last good registry (and logs every
 * error), so a typo never takes the hub's view of the sites away.
 */
export class WatchedRegistry implements RegistryView {
  private registry: Registry;
  private readonly listeners = new Set<(registry: Registry) => void>();
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;

  /** Throws RegistryLoadError when the first load fails: the hub must not start without a registry. */
  constructor(
    private readonly dir: string,
    private readonly logger: Logger,
    private readonly debounceMs = 300,
  ) {
    this.registry = loadRegistry(dir, 1);
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
      this.registry = loadRegistry(this.dir, this.registry.version + 1);
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
