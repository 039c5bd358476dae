import { hostname } from "node:os";
import { join } from "node:path";
import type { HubContext, HubExtension } from "../controller/extension.ts";
import { decide } from "./decisions.ts";
import { HANDLING_ACTIONS } from "./handling.ts";
import { actOnWarning, listWarnings, warningRecord } from "./handling-api.ts";
import { requireRole } from "../http/auth.ts";
import { enter } from "./entries.ts";
import { computedDeductionRules } from "./evaluate.ts";
import { registerSupervisionMetrics } from "./metrics.ts";
import { Notifier } from "./notify.ts";
import { RULES } from "./rules/index.ts";
import { SiteLeases } from "./leases.ts";
import { createRunner } from "./run.ts";
import { SupervisionSettings } from "./settings.ts";
import { writeDerived } from "./store.ts";
import { postItemEvent } from "../items/api.ts";
import { writeRecorded } from "../audit/trail.ts";
import { siteInflux } from "../influx/regions.ts";
import type { SchemaPoint } from "../schema/index.ts";

export { SupervisionSettings } from "./settings.ts";
export { resolveLease, preferredCopy, SiteLeases, type Lease } from "./leases.ts";

/**
 * The supervision rules as a hub extension. Stateless between runs: every run recomputes today's (and
 * yesterday's) outcome for each site this copy owns from the readings in InfluxDB, deletes the derived points of
 * that day and writes the new ones, so a restart, a late sign-in or a second run changes nothing it should not.
 */
export function createSupervisionExtension(
  settings: SupervisionSettings = SupervisionSettings.parse({}),
  copies: {
    /** This copy's name in the leases (broker.copyName; default host-pid). */
    copyName?: string;
    /** The hub uses an external broker, so other copies may run: leases on unless supervision.leases.enabled says. */
    externalBroker?: boolean;
  } = {},
): HubExtension {
  let ctx: HubContext;
  let timer: NodeJS.Timeout | undefined;
  let notifier: Notifier | undefined;
  let leases: SiteLeases | undefined;
  const useLeases = settings.leases.enabled ?? copies.externalBroker ?? false;
  const leaseCheck = {
    holds: (site: string) => leases?.holds(site),
    confirm: (site: string, term: number) => leases?.confirm(site, term) ?? Promise.resolve(false),
  };
  const runner = createRunner(() => ctx, settings, RULES, useLeases ? leaseCheck : undefined);
  const derivedRules = computedDeductionRules(RULES);

  return {
    name: "supervision",
    async start(context) {
      ctx = context;
      if (!settings.enabled) return;
      const copy = copies.copyName ?? `${hostname()}-${process.pid}`;
      if (useLeases)
        // In the central InfluxDB: every copy reads and writes the same claims whatever the sites' regions.
        leases = new SiteLeases({
          influx: ctx.influx,
          copy,
          settings: settings.leases,
          sites: () => [...ctx.registry.current().sites.keys()],
          logger: ctx.logger,
          onGain: () => void runner.tick(),
        });
      const l = leases;
      notifier = new Notifier(settings.notifications, {
        dataDir: join(ctx.dataDir, "supervision"),
        logger: ctx.logger,
        now: ctx.now,
        record: (points) => writeDerived(ctx, points),
        tzOf: (site) => ctx.registry.current().sites.get(site)?.tz ?? "UTC",
        shared: l && {
          influx: ctx.influx,
          copy,
          fence: async (site) => {
            const lease = l.holds(site);
            const held = lease !== undefined && (await l.confirm(site, lease.term));
            // Fenced off (the lease lost, or about to run out): whoever holds the site next announces it again.
            if (!held) runner.forgetWarnings(site);
            return held;
          },
        },
      });
      const n = notifier;
      registerSupervisionMetrics(ctx.metrics, {
        lastRunAt: () => runner.last.runAt,
        lastError: () => runner.last.error,
        notifications: () => ({ pending: n.pending(), ...n.counts }),
      });
      ctx.events.on("warning", (warning) => n.notify(warning));
      n.start();
      const operator = requireRole("operator");
      ctx.http.add("POST", "/api/dissatisfaction/:id/verify", (req) => decide(ctx, req, "verified", runner.tick), operator);
      ctx.http.add("POST", "/api/dissatisfaction/:id/dismiss", (req) => decide(ctx, req, "dismissed", runner.tick), operator);
      ctx.http.add("POST", "/api/entries", (req) => enter(ctx, req, settings.scoring, derivedRules, runner.tick), operator);
      // Departments' approval systems report approval items (hub/src/items/README.md); each is a token of its own.
      const items = {
        registry: () => ctx.registry.current(),
        now: ctx.now,
        influx: ctx.influx,
        influxOf: (site: string) => siteInflux(ctx, site).influx,
        record: (point: SchemaPoint, by: string) => writeRecorded(ctx, "item_event", point, by),
      };
      ctx.http.add("POST", "/api/items/events", (req) => postItemEvent(req, items), operator);
      // The centre's handling record of warnings: steps by operators, the list and each record for viewers.
      for (const action of HANDLING_ACTIONS)
        ctx.http.add(
          "POST",
          `/api/warnings/:id/${action}`,
          (req) => actOnWarning(ctx, req.params.id ?? "", action, req.identity, req.body, runner.tick),
          operator,
        );
      const viewer = requireRole("viewer");
      ctx.http.add("GET", "/api/warnings", (req) => listWarnings(ctx, req.query, settings.handling), viewer);
      ctx.http.add("GET", "/api/warnings/:id", (req) => warningRecord(ctx, req.params.id ?? ""), viewer);
      ctx.http.add(
        "POST",
        "/api/supervision/run",
        async () => {
          await runner.tick();
          return { status: 200, body: { ...runner.last } };
        },
        operator,
      );
      timer = setInterval(() => void runner.tick(), settings.intervalMs);
      leases?.start();
      void runner.tick();
    },
    async stop() {
      clearInterval(timer);
      await runner.running();
      // A copy stopped in order gives its sites up at once (a killed one's run out after leases.seconds).
      await leases?.stop(true);
      notifier?.stop();
    },
    status: () => ({
      enabled: settings.enabled,
      lastRunAt: runner.last.runAt || null,
      sites: runner.last.sites,
      error: runner.last.error ?? null,
      leases: leases
        ? {
            copy: leases.copy,
            copies: leases.table().copies,
            error: leases.lastError ?? null,
            sites: leases.table().leases.map((l) => ({
              site: l.site,
              owner: l.owner,
              term: l.term,
              expires: new Date(l.expires).toISOString(),
            })),
          }
        : null,
      notifications: notifier ? { pending: notifier.pending(), ...notifier.counts } : null,
    }),
  };
}
