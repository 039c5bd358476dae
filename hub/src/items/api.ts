import { checkDeviceTime, issueToError, ItemEvent } from "@supervision/firmware-protocols";
import type { HttpRequest, HttpResponse } from "../controller/extension.ts";
import type { Registry } from "../registry/schema.ts";
import { readingToPoint } from "../ingest/points.ts";
import type { SchemaPoint } from "../schema/index.ts";
import type { ItemTrail } from "./trail.ts";

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
 * seq = FNV-1a of its key, is stored as `item_event`, and entered in the system's hash-chained trail. Sent again
 * (same application, type and step) it changes nothing: 200 `duplicate`; with other content: 409 `conflict`.
 */
export async function postItemEvent(
  req: HttpRequest,
  deps: { registry: () => Registry; now: () => number; trail: ItemTrail; write: (points: SchemaPoint[]) => Promise<void> },
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
  const answer = await deps.trail.record(system.id, key, event, now, () => deps.write([point as SchemaPoint]));
  if (answer.status === "conflict")
    return fail(
      409,
      "conflict",
      `application ${event.applicationNo} already has a ${event.type}${event.step ? ` "${event.step}"` : ""} event (trail entry ${answer.seq}) with other content; an event is reported once`,
    );
  return { status: answer.status === "recorded" ? 201 : 200, body: answer };
}
