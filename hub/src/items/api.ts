import { checkDeviceTime, issueToError, ItemEvent } from "@supervision/firmware-protocols";
import type { HttpRequest, HttpResponse } from "../controller/extension.ts";
import type { Registry } from "../registry/schema.ts";
import { readingToPoint } from "../ingest/points.ts";
import type { InfluxDB } from "influx";
import { lit } from "../influx/query.ts";
import { INFLUXQL, type SchemaPoint } from "../schema/index.ts";
import { canonicalJson } from "./trail.ts";

const { item_event } = INFLUXQL;

/** Fields the hub sets itself: an approval system sends the event without them. */
const HUB_FIELDS = ["v", "deviceId", "seq"] as const;

/** FNV-1a, 32 bits: an event's sequence number derived from its identity, so a resend is the same reading. */
export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(text, "utf8")) h = Math.imul(h ^ byte, 0x01000193) >>> 0;
  return h;
}

/** What makes an API event the same event: its application, type and step (a system that resends is harmless). */
export const apiEventKey = (e: { applicationNo: string; type: string; step?: string | undefined }): string =>
  `${e.applicationNo}\t${e.type}\t${e.step ?? ""}`;

const fail = (status: number, code: string, message: string, path?: string): HttpResponse => ({
  status,
  body: { error: message, code, ...(path ? { path } : {}) },
});

/**
 * `POST /api/items/events`: an approval system reports one item event (PROTOCOL.md 2.4 `item`, without `v`,
 * `deviceId` and `seq`). The caller is the token's name, which must be an approval system of the registry; it may
 * report the items of its own department (and joint items). The event becomes a reading of device = the system with
 * seq = FNV-1a of its key, is stored as `item_event` and entered in the hub's trail (book `item_event`,
 * hub/src/audit/trail.ts) by `record`. Sent again (same application, type and step) it changes nothing: 200
 * `duplicate`; with other content: 409 `conflict`. Requests of one system are taken one at a time.
 */
export async function postItemEvent(
  req: HttpRequest,
  deps: {
    registry: () => Registry;
    now: () => number;
    influx: InfluxDB;
    /** The database of a site's points (influx.regions); default `influx`. */
    influxOf?: (site: string) => InfluxDB;
    record: (point: SchemaPoint, by: string) => Promise<void>;
  },
): Promise<HttpResponse> {
  const registry = deps.registry();
  const caller = req.identity?.name ?? "";
  const system = registry.approvalSystems?.get(caller);
  if (!system)
    return fail(
      403,
      "not_an_approval_system",
      `the token "${caller}" is not an approval system's: add the system to the registry's approvalSystems and give it a token named after its id (hub token add <id> --role operator)`,
    );
  const body = req.body;
  if (body === null || typeof body !== "object" || Array.isArray(body))
    return fail(400, "malformed_json", 'send one item event as a JSON object, e.g. {"type":"accepted","applicationNo":...}');
  for (const field of HUB_FIELDS)
    if (Object.hasOwn(body, field)) return fail(400, "unknown_field", `"${field}" is set by the hub; leave it out`, field);
  const fields = body as Record<string, unknown>;
  const key = apiEventKey({
    applicationNo: String(fields.applicationNo ?? ""),
    type: String(fields.type ?? ""),
    step: typeof fields.step === "string" ? fields.step : undefined,
  });
  const parsed = ItemEvent.safeParse({ v: 1, deviceId: system.id, seq: fnv1a32(key), ...fields });
  if (!parsed.success) {
    const error = issueToError(parsed.error.issues, body);
    return fail(400, error.code, error.message, error.path);
  }
  const event = parsed.data;
  const now = deps.now();
  const timeError = checkDeviceTime(event.ts, { now }, "item");
  if (timeError) return fail(400, timeError.code, timeError.message, "ts");
  const item = registry.items?.get(event.itemCode);
  if (!item) return fail(422, "unknown_item", `item code "${event.itemCode}" is not in the registry's item catalogue`, "itemCode");
  if (item.department !== system.department && !item.joint)
    return fail(
      403,
      "other_department",
      `item "${item.code}" belongs to department "${item.department}", not to ${system.id}'s "${system.department}"`,
      "itemCode",
    );
  const point = readingToPoint({ ...event, kind: "item", rxTs: now }, registry);
  if ("error" in point) return fail(400, point.error.code, point.error.message);
  const stored = point as SchemaPoint;
  return oneAtATime(system.id, async () => {
    const site = stored.tags.site;
    const earlier = await storedEvent(site && deps.influxOf ? deps.influxOf(site) : deps.influx, system.id, stored, event.seq);
    if (earlier) {
      if (earlier === "same") return { status: 200, body: { status: "duplicate", seq: event.seq } };
      return fail(
        409,
        "conflict",
        `application ${event.applicationNo} already has a ${event.type}${event.step ? ` "${event.step}"` : ""} event with other content; an event is reported once`,
      );
    }
    await deps.record(stored, system.id);
    return { status: 201, body: { status: "recorded", seq: event.seq } };
  });
}

const queues = new Map<string, Promise<unknown>>();
/** Runs `task` after the system's earlier requests: two resends arriving together are still one event. */
function oneAtATime<T>(system: string, task: () => Promise<T>): Promise<T> {
  const next = (queues.get(system) ?? Promise.resolve()).then(task, task);
  queues.set(
    system,
    next.catch(() => undefined),
  );
  return next;
}

/** A point's tags and fields without its arrival (`rx_ts`), as canonical JSON. */
function comparable(tags: Record<string, unknown>, fields: Record<string, unknown>): string {
  const { rx_ts: _arrival, ...rest } = fields;
  return canonicalJson({ tags, fields: rest });
}

/**
 * The system's stored event of this key: "same" when stored at the same time with the same content, "other" when the
 * key is stored otherwise (other content or another time), undefined when it is not stored.
 */
async function storedEvent(influx: InfluxDB, system: string, point: SchemaPoint, seq: number): Promise<"same" | "other" | undefined> {
  const where = `${item_event.device} = ${lit(system)} AND ${item_event.seq} = ${seq}`;
  const query = async (extra: string) =>
    (
      (await influx.queryRaw(`SELECT * FROM ${item_event.FROM} WHERE ${where}${extra} GROUP BY *`)) as {
        results: { series?: { tags?: Record<string, string>; columns: string[]; values: unknown[][] }[] }[];
      }
    ).results[0]?.series ?? [];
  const atTime = await query(` AND time = ${point.timestamp}`);
  for (const s of atTime)
    for (const row of s.values) {
      const fields: Record<string, unknown> = {};
      s.columns.forEach((c, i) => {
        if (c !== "time" && row[i] !== null && !(c in (s.tags ?? {}))) fields[c] = row[i];
      });
      const tags = Object.fromEntries(Object.entries(s.tags ?? {}).filter(([, v]) => v !== ""));
      return comparable(tags, fields) === comparable(point.tags, point.fields) ? "same" : "other";
    }
  return (await query("")).length > 0 ? "other" : undefined;
}
