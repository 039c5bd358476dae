/**
 * What Frigate publishes (Frigate 0.14-0.18 docs and code), read without trusting it: every message is checked and
 * a malformed one is refused with the reason, never thrown.
 *
 *   {prefix}/{camera}/motion   "ON" | "OFF"              not retained; OFF comes mqtt_off_delay after motion stops
 *   {prefix}/events            JSON {type: new|update|end, before, after}
 *   {prefix}/available         "online" | "offline" (last will) | "stopped"
 */

export type FrigateMessage =
  | { kind: "motion"; camera: string; on: boolean }
  | {
      kind: "event";
      type: "new" | "update" | "end";
      id: string;
      camera: string;
      label: string;
      zones: string[];
      startMs: number | null;
      endMs: number | null;
      frameMs: number | null;
      falsePositive: boolean;
      hasSnapshot: boolean;
    }
  | { kind: "available"; state: "online" | "offline" | "stopped" };

export type Parsed = { ok: true; value: FrigateMessage | undefined } | { ok: false; error: string };

const NAME = /^[A-Za-z0-9_-]{1,64}$/;
/** A Frigate event is a few kilobytes; anything far bigger is not one. */
export const MAX_FRIGATE_MESSAGE_BYTES = 64 * 1024;

/** One message on a topic under `prefix/`; undefined value: a topic this adapter does not use (stats, snapshots, ...). */
export function parseFrigateMessage(prefix: string, topic: string, payload: Buffer): Parsed {
  if (!topic.startsWith(`${prefix}/`)) return { ok: true, value: undefined };
  if (payload.length > MAX_FRIGATE_MESSAGE_BYTES)
    return { ok: false, error: `${topic}: ${payload.length} bytes, more than a Frigate message` };
  const rest = topic.slice(prefix.length + 1).split("/");
  const text = payload.toString("utf8").trim();
  if (rest.length === 1 && rest[0] === "available") {
    if (text === "online" || text === "offline" || text === "stopped") return { ok: true, value: { kind: "available", state: text } };
    return { ok: false, error: `${topic}: "${text.slice(0, 40)}" is not online, offline or stopped` };
  }
  if (rest.length === 2 && rest[1] === "motion") {
    if (!NAME.test(rest[0]!)) return { ok: false, error: `${topic}: not a Frigate camera name` };
    if (text === "ON" || text === "OFF") return { ok: true, value: { kind: "motion", camera: rest[0]!, on: text === "ON" } };
    return { ok: false, error: `${topic}: "${text.slice(0, 40)}" is not ON or OFF` };
  }
  if (rest.length === 1 && rest[0] === "events") return parseEvent(topic, text);
  return { ok: true, value: undefined };
}

function parseEvent(topic: string, text: string): Parsed {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, error: `${topic}: not JSON` };
  }
  const bad = (why: string): Parsed => ({ ok: false, error: `${topic}: ${why}` });
  if (typeof json !== "object" || json === null || Array.isArray(json)) return bad("not a JSON object");
  const { type, after } = json as { type?: unknown; after?: unknown };
  if (type !== "new" && type !== "update" && type !== "end")
    return bad(`type ${JSON.stringify(type)?.slice(0, 40)} is not new, update or end`);
  if (typeof after !== "object" || after === null || Array.isArray(after)) return bad("no `after` object");
  const a = after as Record<string, unknown>;
  if (typeof a.id !== "string" || a.id.length === 0 || a.id.length > 128) return bad("after.id is not an event id");
  if (typeof a.camera !== "string" || !NAME.test(a.camera)) return bad("after.camera is not a Frigate camera name");
  if (typeof a.label !== "string" || a.label.length > 64) return bad("after.label is not a label");
  const zones = a.current_zones ?? [];
  if (!Array.isArray(zones) || zones.length > 64 || !zones.every((z) => typeof z === "string" && z.length <= 64))
    return bad("after.current_zones is not a list of zone names");
  const time = (v: unknown, name: string): number | null | string => {
    if (v === null || v === undefined) return null;
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || v > 32_503_680_000) return `after.${name} is not epoch seconds`;
    return Math.round(v * 1000);
  };
  const startMs = time(a.start_time, "start_time");
  const endMs = time(a.end_time, "end_time");
  const frameMs = time(a.frame_time, "frame_time");
  if (typeof startMs === "string") return bad(startMs);
  if (typeof endMs === "string") return bad(endMs);
  if (typeof frameMs === "string") return bad(frameMs);
  return {
    ok: true,
    value: {
      kind: "event",
      type,
      id: a.id,
      camera: a.camera,
      label: a.label,
      zones: zones as string[],
      startMs,
      endMs,
      frameMs,
      falsePositive: a.false_positive === true,
      hasSnapshot: a.has_snapshot === true,
    },
  };
}
