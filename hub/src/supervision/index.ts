import { createHash } from "node:crypto";
import { join } from "node:path";
import { escape, type IPoint } from "influx";
import { writePointsIsolating } from "../influx/isolating-write.ts";
import type { HubContext, HubExtension, HttpRequest, HttpResponse, WarningEvent } from "../controller/extension.ts";
import { equipmentWarnings } from "./equipment.ts";
import { DERIVED, DERIVED_DEDUCTION_RULES, type DayOutcome, datesToJudge, evaluateDay, monthlyScorePoints } from "./evaluate.ts";
import { registerSupervisionMetrics } from "./metrics.ts";
import { Notifier } from "./notify.ts";
import { SupervisionSettings } from "./settings.ts";

export { SupervisionSettings } from "./settings.ts";

const q = (s: string) => escape.stringLit(s);
const ns = (ms: number) => `${ms}000000`;

/** Whether this hub copy judges `site` (several copies split the sites by a stable hash). */
export function ownsSite(siteId: string, partition: { index: number; count: number }): boolean {
  return createHash("sha256").update(siteId).digest().readUInt32BE(0) % partition.count === partition.index;
}

/**
 * The supervision rules. Stateless between runs: every run recomputes today's (and yesterday's) outcome for each
 * site this copy owns from the readings in InfluxDB, deletes the derived points of that day and writes the new
 * ones, so a restart, a late sign-in or a second run changes nothing it should not.
 */
export function createSupervisionExtension(settings: SupervisionSettings = SupervisionSettings.parse({})): HubExtension {
  let ctx: HubContext;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  const last = { runAt: 0, sites: 0, error: "" as string | undefined };
  const lastCards = new Map<string, string>();
  const lastWarnings = new Set<string>();
  let notifier: Notifier | undefined;

  /** Writes derived points; one InfluxDB can never store is kept as a dead letter instead of failing the run. */
  async function save(points: IPoint[]): Promise<void> {
    await writePointsIsolating(ctx.influx, points, {
      retentionPolicy: "raw",
      context: { source: "rules" },
      logger: ctx.logger,
      metrics: ctx.metrics,
    });
  }

  async function store(outcome: DayOutcome): Promise<void> {
    if (outcome.to === 0) return;
    const where = `"site" = ${q(outcome.site)} AND time >= ${ns(outcome.from)} AND time <= ${ns(outcome.to)}`;
    // Equipment warnings are not the day's to recompute: they close themselves (equipment.ts).
    for (const m of DERIVED)
      await ctx.influx.query(`DELETE FROM "${m}" WHERE ${where}${m === "warning" ? ` AND "category" = 'people'` : ""}`);
    for (const rule of DERIVED_DEDUCTION_RULES) await ctx.influx.query(`DELETE FROM "deduction" WHERE ${where} AND "rule" = ${q(rule)}`);
    await ctx.influx.query(
      `DELETE FROM "dissatisfaction" WHERE "site" = ${q(outcome.site)} AND time >= ${ns(outcome.dayFrom)} AND time < ${ns(outcome.dayTo)} AND "state" = 'to_verify'`,
    );
    if (outcome.points.length > 0) await save(outcome.points);
    // Events only for what changed since the last run, so annotations and notifications are not repeated.
    for (const card of outcome.cards) {
      const key = `${outcome.date}/${card.subjectKind}/${card.subject}`;
      if (lastCards.get(key) === card.color) continue;
      if (lastCards.has(key) || card.color !== "green") ctx.events.emit("card", card);
      lastCards.set(key, card.color);
    }
    emitWarnings(outcome.warnings);
  }

  function emitWarnings(warnings: WarningEvent[]): void {
    for (const warning of warnings) {
      const key = `${warning.subject}/${warning.rule}/${warning.ts}`;
      if (lastWarnings.has(key)) continue;
      lastWarnings.add(key);
      ctx.events.emit("warning", warning);
    }
  }

  async function runOnce(): Promise<void> {
    const registry = ctx.registry.current();
    const now = ctx.now();
    let sites = 0;
    for (const site of registry.sites.values()) {
      if (!ownsSite(site.id, settings.partition)) continue;
      sites++;
      const dates = datesToJudge(now, site.tz);
      for (const date of dates) await store(await evaluateDay(ctx.influx, registry, site, date, now, settings));
      const equipment = await equipmentWarnings(ctx.influx, registry, site, now);
      if (equipment.points.length > 0) await save(equipment.points);
      emitWarnings(equipment.warnings);
      for (const month of new Set(dates.map((d) => d.slice(0, 7)))) {
        const monthly = await monthlyScorePoints(ctx.influx, registry, site, month, settings.scoring.baseline);
        await ctx.influx.query(`DELETE FROM "score_monthly" WHERE "site" = ${q(site.id)} AND time = ${ns(monthly.from)}`);
        await save(monthly.points);
      }
    }
    last.runAt = now;
    last.sites = sites;
  }

  /** One run at a time; a tick that finds the previous run still going is skipped. */
  function tick(): Promise<void> {
    running ??= runOnce()
      .then(() => {
        last.error = undefined;
      })
      .catch((error: Error) => {
        last.error = error.message;
        ctx.logger.warn({ err: error.message }, "supervision run failed; retrying at the next interval");
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  }

  async function decide(req: HttpRequest, state: "verified" | "dismissed"): Promise<HttpResponse> {
    const id = req.params.id ?? "";
    const body = (req.body ?? {}) as { by?: unknown; fault?: unknown };
    const match = /^([a-z0-9][a-z0-9_.-]{0,63}):(\d{1,10})$/.exec(id);
    if (!match) return { status: 400, body: { error: 'id is "<device>:<seq>" of a dissatisfied rating' } };
    if (typeof body.by !== "string" || body.by.trim() === "" || body.by.length > 64)
      return { status: 400, body: { error: '"by": who decides (1 to 64 characters) is required' } };
    const fault = body.fault ?? "clerk";
    if (fault !== "clerk" && fault !== "unit") return { status: 400, body: { error: '"fault" is "clerk" or "unit"' } };
    const rows = await ctx.influx.query<{
      time: { getTime(): number };
      site: string;
      window: string;
      department: string;
      clerk: string;
      region: string;
      town: string;
    }>(
      `SELECT "site", "window", "department", "clerk", "region", "town", "negative" FROM "raw"."rating" WHERE "device" = ${q(match[1]!)} AND "seq" = ${Number(match[2])} AND "negative" = 1 AND time > now() - 400d`,
    );
    const rating = rows[0];
    if (!rating) return { status: 404, body: { error: `no dissatisfied rating ${id} in the last 400 days` } };
    const point: IPoint = {
      measurement: "dissatisfaction",
      timestamp: ns(rating.time.getTime()),
      tags: {
        region: rating.region ?? "",
        town: rating.town ?? "",
        site: rating.site ?? "",
        window: rating.window ?? "",
        department: rating.department ?? "",
        clerk: rating.clerk ?? "",
        state,
      },
      fields: { rating_id: id, rating_seq: Number(match[2]), device: match[1]!, by: body.by.trim(), fault, decided_at: ctx.now() },
    };
    await save([point]);
    await tick();
    return { status: 200, body: { id, state, by: body.by.trim(), fault } };
  }

  /** An entry a person observed (thanks, complaint, smoking at the window...), with who entered it. */
  async function enter(req: HttpRequest): Promise<HttpResponse> {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const registry = ctx.registry.current();
    const rule = typeof body.rule === "string" ? body.rule : "";
    const by = typeof body.by === "string" ? body.by.trim() : "";
    if ((typeof body.person === "string") === (typeof body.window === "string"))
      return { status: 400, body: { error: 'give "person" or "window"' } };
    const subject = String(body.person ?? body.window);
    const person = typeof body.person === "string" ? registry.people.get(subject) : undefined;
    const window = typeof body.window === "string" ? registry.windows.get(subject) : undefined;
    const kind = window ? "window_unit" : person?.role;
    const siteId = window?.site ?? person?.site;
    if (!kind || !siteId) return { status: 404, body: { error: `no ${body.window ? "window" : "person"} "${subject}" in the registry` } };
    if (!/^[a-z][a-z_]{1,31}$/.test(rule) || DERIVED_DEDUCTION_RULES.includes(rule))
      return { status: 400, body: { error: '"rule": a name such as thanks, complaint, smoking, dozing (not one the rules compute)' } };
    if (by === "" || by.length > 64) return { status: 400, body: { error: '"by": who enters it (1 to 64 characters) is required' } };
    const points = body.points === undefined && rule === "thanks" ? settings.scoring.thanks : body.points;
    if (typeof points !== "number" || !Number.isFinite(points) || Math.abs(points) > 100)
      return { status: 400, body: { error: '"points": a number from -100 to 100 (thanks defaults to the scoring rule)' } };
    const at = typeof body.at === "number" && Number.isInteger(body.at) ? body.at : ctx.now();
    const site = registry.sites.get(siteId)!;
    const town = registry.towns.get(site.town);
    const note = typeof body.note === "string" ? body.note.slice(0, 512) : "";
    await save(
      [
        {
          measurement: "deduction",
          timestamp: ns(at),
          tags: { region: town?.region ?? "", town: site.town, site: site.id, subject_kind: kind, subject, rule },
          fields: { points, reason: note || rule, entered_by: by },
        },
      ].map((p) => ({ ...p, tags: Object.fromEntries(Object.entries(p.tags).filter(([, v]) => v !== "")) })),
    );
    await tick();
    return { status: 201, body: { subjectKind: kind, subject, rule, points, by, at } };
  }

  return {
    name: "supervision",
    async start(context) {
      ctx = context;
      if (!settings.enabled) return;
      notifier = new Notifier(settings.notifications, {
        dataDir: join(ctx.dataDir, "supervision"),
        logger: ctx.logger,
        now: ctx.now,
        record: (points) => save(points),
        tzOf: (site) => ctx.registry.current().sites.get(site)?.tz ?? "UTC",
      });
      const n = notifier;
      registerSupervisionMetrics(ctx.metrics, {
        lastRunAt: () => last.runAt,
        lastError: () => last.error,
        notifications: () => ({ pending: n.pending(), ...n.counts }),
      });
      ctx.events.on("warning", (warning) => n.notify(warning));
      n.start();
      ctx.http.add("POST", "/api/dissatisfaction/:id/verify", (req) => decide(req, "verified"));
      ctx.http.add("POST", "/api/dissatisfaction/:id/dismiss", (req) => decide(req, "dismissed"));
      ctx.http.add("POST", "/api/entries", enter);
      ctx.http.add("POST", "/api/supervision/run", async () => {
        await tick();
        return { status: 200, body: { ...last } };
      });
      timer = setInterval(() => void tick(), settings.intervalMs);
      void tick();
    },
    async stop() {
      clearInterval(timer);
      await running;
      notifier?.stop();
    },
    status: () => ({
      enabled: settings.enabled,
      lastRunAt: last.runAt || null,
      sites: last.sites,
      error: last.error ?? null,
      partition: settings.partition,
      notifications: notifier ? { pending: notifier.pending(), ...notifier.counts } : null,
    }),
  };
}
