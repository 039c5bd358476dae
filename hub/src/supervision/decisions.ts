import type { HubContext, HttpRequest, HttpResponse } from "../controller/extension.ts";
import { lit, ns } from "../influx/query.ts";
import { INFLUXQL, schemaPoint } from "../schema/index.ts";
import { writeRecorded } from "../audit/trail.ts";
import { siteInflux } from "../influx/regions.ts";

const { rating } = INFLUXQL;

/**
 * A supervisor's decision on a dissatisfied rating (`POST /api/dissatisfaction/:id/verify|dismiss`), stored as a
 * `dissatisfaction` point beside the rating; the rules then count it (verified) or not (dismissed).
 */
export async function decide(
  ctx: HubContext,
  req: HttpRequest,
  state: "verified" | "dismissed",
  rerun: () => Promise<void>,
): Promise<HttpResponse> {
  const id = req.params.id ?? "";
  const body = (req.body ?? {}) as { by?: unknown; fault?: unknown };
  // Who decided is the caller's API token, never a name typed into the request.
  const by = req.identity?.name;
  if (by === undefined) return { status: 401, body: { error: "an operator's API token is required", code: "unauthenticated" } };
  if (body.by !== undefined) return { status: 400, body: { error: '"by" is not accepted: who decides is the name of the API token used' } };
  const match = /^([a-z0-9][a-z0-9_.-]{0,63}):(\d{1,10})$/.exec(id);
  if (!match) return { status: 400, body: { error: 'id is "<device>:<seq>" of a dissatisfied rating' } };
  const fault = body.fault ?? "clerk";
  if (fault !== "clerk" && fault !== "unit") return { status: 400, body: { error: '"fault" is "clerk" or "unit"' } };
  // The rating is where its device's site keeps its points (influx.regions).
  const at = siteInflux(ctx, ctx.registry.current().devices.get(match[1]!)?.site ?? "");
  const rows = await at.influx.query<{
    time: { getTime(): number };
    site: string;
    window: string;
    department: string;
    clerk: string;
    region: string;
    town: string;
  }>(
    `SELECT ${rating.site}, ${rating.window}, ${rating.department}, ${rating.clerk}, ${rating.region}, ${rating.town}, ${rating.negative} FROM ${rating.FROM} WHERE ${rating.device} = ${lit(match[1]!)} AND ${rating.seq} = ${Number(match[2])} AND ${rating.negative} = 1 AND time > now() - 400d`,
  );
  const found = rows[0];
  if (!found) return { status: 404, body: { error: `no dissatisfied rating ${id} in the last 400 days` } };
  const point = schemaPoint(
    "dissatisfaction",
    ns(found.time.getTime()),
    {
      region: found.region ?? "",
      town: found.town ?? "",
      site: found.site ?? "",
      window: found.window ?? "",
      department: found.department ?? "",
      clerk: found.clerk ?? "",
      state,
    },
    { rating_id: id, rating_seq: Number(match[2]), device: match[1]!, by, fault, decided_at: ctx.now() },
  );
  await writeRecorded(ctx, "decision", point, by);
  await rerun();
  return { status: 200, body: { id, state, by, fault } };
}
