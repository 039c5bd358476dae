import { localDate } from "@supervision/firmware-protocols";
import type { HubContext, HubExtension } from "../controller/extension.ts";
import type { HubSettings } from "../settings/index.ts";
import { gatherRollups, type RollupResult } from "./gather.ts";

/**
 * The scheduled province rollup: every `intervalMinutes` the last `days` local days (and the months they touch) are
 * gathered from each region's InfluxDB into the central database (gather.ts). Every hub copy runs it; a run replaces
 * the same points, so copies running it twice change nothing. A failed run is logged and tried at the next interval.
 */
export function createRollupExtension(settings: HubSettings["rollup"]): HubExtension {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  const last: { at: number; error?: string; written?: RollupResult["written"] } = { at: 0 };

  return {
    name: "rollup",
    async start(ctx: HubContext) {
      if (settings.intervalMinutes === 0 || !ctx.regions) return;
      const regions = ctx.regions;
      const run = () => {
        running ??= (async () => {
          const now = ctx.now();
          const from = localDate(now - (settings.days - 1) * 86_400_000, settings.tz);
          const to = localDate(now, settings.tz);
          try {
            const result = await gatherRollups(regions, ctx.registry.current(), { from, to, tz: settings.tz });
            Object.assign(last, { at: now, error: undefined, written: result.written });
            ctx.logger.info({ from, to, written: result.written }, "province rollups gathered");
          } catch (error) {
            Object.assign(last, { at: now, error: (error as Error).message });
            ctx.logger.warn({ err: (error as Error).message }, "province rollup failed; trying again at the next interval");
          }
        })().finally(() => {
          running = undefined;
        });
      };
      timer = setInterval(run, settings.intervalMinutes * 60_000);
      run();
    },
    async stop() {
      clearInterval(timer);
      await running;
    },
    status: () => ({
      intervalMinutes: settings.intervalMinutes,
      lastRunAt: last.at ? new Date(last.at).toISOString() : null,
      error: last.error ?? null,
      written: last.written ?? null,
    }),
  };
}
