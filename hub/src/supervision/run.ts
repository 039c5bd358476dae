import type { HubContext } from "../controller/extension.ts";
import { createAnnouncer } from "./announce.ts";
import { datesToJudge } from "./day.ts";
import { evaluateDay, evaluateSite } from "./evaluate.ts";
import { siteHeardSince } from "./readings.ts";
import type { Lease } from "./leases.ts";
import type { Site } from "../registry/schema.ts";
import { siteInflux } from "../influx/regions.ts";
import { RULES } from "./rules/index.ts";
import type { Rule } from "./rules/rule.ts";
import { monthlyScorePoints } from "./scores.ts";
import type { SupervisionSettings } from "./settings.ts";
import { replaceDay, replaceMonth, writeDerived } from "./store.ts";

/** The site leases a runner asks before judging a site and before each of its side effects (hub/src/supervision/leases.ts). */
export interface LeaseCheck {
  holds(site: string): Lease | undefined;
  confirm(site: string, term: number): Promise<boolean>;
}

/** Thrown by the fencing check: this copy no longer holds the site's lease at the term it started with. */
class LeaseLost extends Error {}

export interface RunStatus {
  runAt: number;
  sites: number;
  error: string | undefined;
}

/**
 * The periodic run: for each site this copy owns, today's and yesterday's outcome recomputed and replaced, the
 * site rules' warnings written, and the months' scores rewritten. One run at a time.
 */
export function createRunner(
  context: () => HubContext,
  settings: SupervisionSettings,
  rules: readonly Rule[] = RULES,
  leases?: LeaseCheck,
) {
  const last: RunStatus = { runAt: 0, sites: 0, error: "" };
  const announce = createAnnouncer(() => context().events);
  // When each site's devices were first heard: asked again each run until it is "earlier" (a terminal's kept punches,
  // handed over after its first live heartbeat, move it back), and never later than it was once known.
  const heardSince = new Map<string, number | "earlier">();
  const goLive = settings.since === undefined ? Number.NEGATIVE_INFINITY : Date.parse(settings.since);
  let running: Promise<void> | undefined;

  async function runOnce(): Promise<void> {
    const ctx = context();
    const registry = ctx.registry.current();
    const now = ctx.now();
    let sites = 0;
    for (const site of registry.sites.values()) {
      // Several copies: only the one holding the site's lease judges it, and checks again before every side effect.
      const lease = leases?.holds(site.id);
      if (leases && !lease) {
        // Not ours now: when it is again, its warnings are announced again (the shared record keeps them from going twice).
        announce.forgetWarnings(site.id);
        continue;
      }
      const fence = async () => {
        if (leases && lease && !(await leases.confirm(site.id, lease.term))) throw new LeaseLost(site.id);
      };
      try {
        await judgeSite(site, fence);
        sites++;
      } catch (error) {
        if (!(error instanceof LeaseLost)) throw error;
        ctx.logger.warn({ site: site.id, term: lease?.term }, "site lease lost during the run: its results left to the new holder");
      }
    }
    last.runAt = now;
    last.sites = sites;

    async function judgeSite(site: Site, fence: () => Promise<void>) {
      // The site's region's InfluxDB (influx.regions; the central one by default): what its rules read and write.
      const at = siteInflux(ctx, site.id);
      const dates = datesToJudge(now, site.tz);
      const known = heardSince.get(site.id);
      if (known !== "earlier") {
        const since = await siteHeardSince(at.influx, site, now);
        if (since === "earlier" || (since !== undefined && (known === undefined || since < known))) heardSince.set(site.id, since);
      }
      const heard = heardSince.get(site.id);
      const since = Math.max(goLive, typeof heard === "number" ? heard : Number.NEGATIVE_INFINITY);
      for (const date of dates) {
        const outcome = await evaluateDay(at.influx, registry, site, date, now, settings, rules, since);
        if (!outcome.span) continue;
        await fence();
        await replaceDay(at, outcome, rules);
        announce.cards(outcome.date, outcome.cards);
        announce.warnings(outcome.warnings);
      }
      const siteFindings = await evaluateSite(at.influx, registry, site, now, settings, rules);
      await fence();
      await writeDerived(at, siteFindings.points);
      announce.warnings(siteFindings.warnings);
      announce.cards("site", siteFindings.cards);
      for (const month of new Set(dates.map((d) => d.slice(0, 7)))) {
        const monthly = await monthlyScorePoints(at.influx, registry, site, month, settings.scoring.baseline);
        await fence();
        await replaceMonth(at, site.id, monthly.from, monthly.points);
      }
    }
  }

  return {
    last: last as Readonly<RunStatus>,
    /** Runs now; a tick that finds the previous run still going waits for it instead of starting another. */
    tick(): Promise<void> {
      running ??= runOnce()
        .then(() => {
          last.error = undefined;
        })
        .catch((error: Error) => {
          last.error = error.message;
          context().logger.warn({ err: error.message }, "supervision run failed; retrying at the next interval");
        })
        .finally(() => {
          running = undefined;
        });
      return running;
    },
    /** A site's warnings to be announced again at its next run (its notification was fenced off). */
    forgetWarnings: (site: string) => announce.forgetWarnings(site),
    /** The run in progress, if any (to wait for on stop). */
    running: () => running,
  };
}
export type Runner = ReturnType<typeof createRunner>;
