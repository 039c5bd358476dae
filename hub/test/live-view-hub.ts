import type { Logger } from "pino";
import type { HubContext } from "../src/controller/extension.ts";
import { ApiTokens, type TokenEntry } from "../src/http/auth.ts";
import { HubHttpServer } from "../src/http/server.ts";
import { createLiveViewExtension } from "../src/live/index.ts";
import { loadRegistry } from "../src/registry/loader.ts";

/**
 * The hub's HTTP API with only its live-view extension, on a real registry folder and real API tokens: what the
 * browser talks to for live view, without InfluxDB (the extension reads nothing else of the hub's context).
 */
export async function startLiveViewHub(opts: {
  registryDir: string;
  tokens: TokenEntry[];
  logger: Logger;
}): Promise<{ url: string; status(): Record<string, unknown>; close(): Promise<void> }> {
  const registry = loadRegistry(opts.registryDir);
  const tokens = new ApiTokens(opts.tokens);
  const http = new HubHttpServer(opts.logger, { tokens: { current: () => tokens } });
  const extension = createLiveViewExtension();
  const ctx = { logger: opts.logger, http, registry: { current: () => registry, onChange: () => () => undefined } } as Partial<HubContext>;
  await extension.start(ctx as HubContext);
  const port = await http.listen(0, "127.0.0.1");
  return {
    url: `http://127.0.0.1:${port}`,
    status: () => extension.status(),
    async close() {
      await extension.stop();
      await http.close();
    },
  };
}
