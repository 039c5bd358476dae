import type { HubContext, HttpResponse } from "../controller/extension.ts";
import type { Identity } from "../http/auth.ts";
import { lit, ns, type Row } from "../influx/query.ts";
import { INFLUXQL, schemaPoint } from "../schema/index.ts";
import {
  HANDLING_STATES,
  type HandlingAction,
  handlingOf,
  handlingOverdue,
  type HandlingSettings,
  type HandlingState,
  nextState,
  parseWarningId,
  warningId,
} from "./handling.ts";
import { writeRecorded } from "../audit/trail.ts";
import { siteDatabases, siteInflux } from "../influx/regions.ts";

const { warning, warning_action } = INFLUXQL;
const NOTE_MAX = 500;

/** One warning as the centre lists it: what, where, since when, and where its handling stands. */
export interface ListedWarning {
  id: string;
  site: string;
  category: string;
  subjectKind: string;
  subject: string;
  rule: string;
  severity: string;
  raisedAt: number;
  active: boolean;
  message: string;
  handling: HandlingState;
  handledBy: string;
  overdue: boolean;
}

const actionsQuery = (where: string) =>
  `SELECT ${warning_action.site}, ${warning_action.rule}, ${warning_action.subject}, ${warning_action.action}, ${warning_action.warning_ts}, ${warning_action.by}, ${warning_action.role}, ${warning_action.note} FROM ${warning_action.FROM} WHERE ${where}`;

/** The steps taken on one warning (they come after it was raised). */
const historyWhere = (key: { site: string; rule: string; subject: string; ts: number }) =>
  `${warning_action.site} = ${lit(key.site)} AND ${warning_action.rule} = ${lit(key.rule)} AND ${warning_action.subject} = ${lit(key.subject)} AND ${warning_action.warning_ts} = ${key.ts} AND time >= ${ns(key.ts)}`;

/**
 * `POST /api/warnings/:id/acknowledge|handle|close`: one step of a warning's handling, recorded as a
 * `warning_action` point with the caller's identity; the rules then rewrite the warning with its new state.
 */
export async function actOnWarning(
  ctx: HubContext,
  id: string,
  action: HandlingAction,
  /** Who takes the step: the request's authenticated identity, never a name typed into the body. */
  actor: Identity | undefined,
  body: unknown,
  rerun: () => Promise<void>,
): Promise<HttpResponse> {
  if (!actor) return { status: 401, body: { error: "an operator's API token is required (Authorization: Bearer <token>)" } };
  const key = parseWarningId(id);
  if (!key) return { status: 400, body: { error: 'a warning id is "<site>:<rule>:<subject>:<ms>", as `hub warnings` lists it' } };
  const note = (body as { note?: unknown } | undefined)?.note ?? "";
  if (typeof note !== "string" || note.length > NOTE_MAX)
    return { status: 400, body: { error: `"note" is text of at most ${NOTE_MAX} characters` } };
  if (action === "handle" && note.trim() === "")
    return { status: 400, body: { error: '"note" is required to handle a warning: say what was done' } };
  const db = siteInflux(ctx, key.site); // the warning is where its site's points are (influx.regions)
  const found = await db.influx.query<Row>(
    `SELECT ${warning.message}, ${warning.region}, ${warning.town}, ${warning.subject_kind} FROM ${warning.FROM} WHERE ${warning.site} = ${lit(key.site)} AND ${warning.rule} = ${lit(key.rule)} AND ${warning.subject} = ${lit(key.subject)} AND time = ${ns(key.ts)}`,
  );
  const w = found[0];
  if (!w) return { status: 404, body: { error: `no warning ${id}` } };
  const history = await db.influx.query<Row>(actionsQuery(historyWhere(key)));
  const current = handlingOf(key.site, history).get(id)?.state ?? "open";
  const next = nextState(current, action);
  if ("error" in next) return { status: 409, body: { error: next.error, state: current } };
  // Each step strictly after the one before, so the record's order is the order the steps were taken in.
  const at = Math.max(ctx.now(), key.ts, ...history.map((h) => h.time.getTime() + 1));
  await writeRecorded(
    ctx,
    "warning_handling",
    schemaPoint(
      "warning_action",
      ns(at),
      {
        region: String(w.region ?? ""),
        town: String(w.town ?? ""),
        site: key.site,
        rule: key.rule,
        subject_kind: String(w.subject_kind ?? ""),
        subject: key.subject,
        action,
      },
      { warning_ts: key.ts, by: actor.name, role: actor.role, note: note.trim() },
    ),
    actor.name,
  );
  await rerun();
  return { status: 200, body: { id, state: next.state, by: actor.name, at, note: note.trim() } };
}

/** `GET /api/warnings/:id`: the warning and every step of its handling, oldest first. */
export async function warningRecord(ctx: HubContext, id: string): Promise<HttpResponse> {
  const key = parseWarningId(id);
  if (!key) return { status: 400, body: { error: 'a warning id is "<site>:<rule>:<subject>:<ms>", as `hub warnings` lists it' } };
  const at = siteInflux(ctx, key.site);
  const [found, history] = await Promise.all([
    at.influx.query<Row>(
      `SELECT * FROM ${warning.FROM} WHERE ${warning.site} = ${lit(key.site)} AND ${warning.rule} = ${lit(key.rule)} AND ${warning.subject} = ${lit(key.subject)} AND time = ${ns(key.ts)}`,
    ),
    at.influx.query<Row>(actionsQuery(historyWhere(key))),
  ]);
  const w = found[0];
  if (!w) return { status: 404, body: { error: `no warning ${id}` } };
  const steps = [...history]
    .sort((a, b) => a.time.getTime() - b.time.getTime())
    .map((a) => ({
      action: String(a.action),
      by: String(a.by),
      role: String(a.role ?? ""),
      at: a.time.getTime(),
      note: String(a.note ?? ""),
    }));
  return { status: 200, body: { id, message: String(w.message), severity: String(w.severity), active: Number(w.active) === 1, steps } };
}

/** `GET /api/warnings?site=&state=&days=`: the warnings raised in the last `days` (1 by default), newest first. */
export async function listWarnings(ctx: HubContext, query: URLSearchParams, limits: HandlingSettings): Promise<HttpResponse> {
  const site = query.get("site");
  const state = query.get("state");
  const days = Number(query.get("days") ?? 1);
  if (!Number.isInteger(days) || days < 1 || days > 31) return { status: 400, body: { error: '"days" is a whole number from 1 to 31' } };
  if (state !== null && !HANDLING_STATES.includes(state as HandlingState))
    return { status: 400, body: { error: `"state" is one of ${HANDLING_STATES.join(", ")}` } };
  if (site !== null && !/^[a-z0-9][a-z0-9_.-]{0,63}$/.test(site)) return { status: 400, body: { error: '"site" is a site id' } };
  const now = ctx.now();
  const since = now - days * 86_400_000;
  const siteWhere = site === null ? "" : ` AND ${warning.site} = ${lit(site)}`;
  // One site's database, or every one (the central and each region's, influx.regions).
  const databases = site === null ? siteDatabases(ctx) : [siteInflux(ctx, site)];
  const answers = await Promise.all(
    databases.map(({ influx }) =>
      Promise.all([
        influx.query<Row>(`SELECT * FROM ${warning.FROM} WHERE time >= ${ns(since)}${siteWhere}`),
        influx.query<Row>(actionsQuery(`time >= ${ns(since)}${siteWhere.replace(warning.site, warning_action.site)}`)),
      ]),
    ),
  );
  const rows = answers.flatMap(([r]) => r);
  const actions = answers.flatMap(([, a]) => a);
  const bySite = new Map<string, Row[]>();
  for (const a of actions) bySite.set(String(a.site), [...(bySite.get(String(a.site)) ?? []), a]);
  const handling = new Map([...bySite].flatMap(([s, list]) => [...handlingOf(s, list)]));
  const listed: ListedWarning[] = rows.map((r) => {
    const raised = { site: String(r.site), rule: String(r.rule), subject: String(r.subject), ts: r.time.getTime() };
    const id = warningId(raised);
    const h = handling.get(id);
    return {
      id,
      site: raised.site,
      category: String(r.category),
      subjectKind: String(r.subject_kind),
      subject: raised.subject,
      rule: raised.rule,
      severity: String(r.severity),
      raisedAt: raised.ts,
      active: Number(r.active) === 1,
      message: String(r.message ?? ""),
      handling: h?.state ?? "open",
      handledBy: h?.by ?? "",
      overdue: handlingOverdue(raised.ts, h, now, limits),
    };
  });
  const chosen = state === null ? listed : listed.filter((w) => w.handling === state);
  return { status: 200, body: { warnings: chosen.sort((a, b) => b.raisedAt - a.raisedAt) } };
}
