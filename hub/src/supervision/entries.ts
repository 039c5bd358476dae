import type { HubContext, HttpRequest, HttpResponse } from "../controller/extension.ts";
import { ns } from "../influx/query.ts";
import { schemaPoint } from "../schema/index.ts";
import { writeRecorded } from "../audit/trail.ts";
import type { ScoringRules } from "./settings.ts";

/**
 * An entry a person observed (thanks, complaint, smoking at the window...), with who entered it
 * (`POST /api/entries`): a `deduction` point counted in the day's and month's scores. Rules the supervision
 * computes itself (`derivedRules`) cannot be entered by hand.
 */
export async function enter(
  ctx: HubContext,
  req: HttpRequest,
  scoring: ScoringRules,
  derivedRules: readonly string[],
  rerun: () => Promise<void>,
): Promise<HttpResponse> {
  const body = (req.body ?? {}) as Record<string, unknown>;
  const registry = ctx.registry.current();
  const rule = typeof body.rule === "string" ? body.rule : "";
  // Who entered it is the caller's API token, never a name typed into the request.
  const by = req.identity?.name;
  if (by === undefined) return { status: 401, body: { error: "an operator's API token is required", code: "unauthenticated" } };
  if (body.by !== undefined)
    return { status: 400, body: { error: '"by" is not accepted: who enters it is the name of the API token used' } };
  if ((typeof body.person === "string") === (typeof body.window === "string"))
    return { status: 400, body: { error: 'give "person" or "window"' } };
  const subject = String(body.person ?? body.window);
  const person = typeof body.person === "string" ? registry.people.get(subject) : undefined;
  const window = typeof body.window === "string" ? registry.windows.get(subject) : undefined;
  const kind = window ? "window_unit" : person?.role;
  const siteId = window?.site ?? person?.site;
  if (!kind || !siteId) return { status: 404, body: { error: `no ${body.window ? "window" : "person"} "${subject}" in the registry` } };
  if (!/^[a-z][a-z_]{1,31}$/.test(rule) || derivedRules.includes(rule))
    return { status: 400, body: { error: '"rule": a name such as thanks, complaint, smoking, dozing (not one the rules compute)' } };
  const points = body.points === undefined && rule === "thanks" ? scoring.thanks : body.points;
  if (typeof points !== "number" || !Number.isFinite(points) || Math.abs(points) > 100)
    return { status: 400, body: { error: '"points": a number from -100 to 100 (thanks defaults to the scoring rule)' } };
  const at = typeof body.at === "number" && Number.isInteger(body.at) ? body.at : ctx.now();
  const site = registry.sites.get(siteId)!;
  const town = registry.towns.get(site.town);
  const note = typeof body.note === "string" ? body.note.slice(0, 512) : "";
  await writeRecorded(
    ctx,
    "entry",
    schemaPoint(
      "deduction",
      ns(at),
      { region: town?.region ?? "", town: site.town, site: site.id, subject_kind: kind, subject, rule },
      { points, reason: note || rule, entered_by: by },
    ),
    by,
  );
  await rerun();
  return { status: 201, body: { subjectKind: kind, subject, rule, points, by, at } };
}
