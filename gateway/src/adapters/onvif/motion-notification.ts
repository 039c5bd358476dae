/**
 * Reads a motion state out of one ONVIF notification message, as the `onvif` package hands it over (its
 * "linerased" form of the XML: attributes under `$`, text under `_`, "true"/"1" already turned into true/1).
 *
 * Accepted, as cameras really send them:
 * - `tns1:RuleEngine/CellMotionDetector/Motion`, data item `IsMotion` (most cameras) or `Value` (Pelco);
 * - `tns1:VideoSource/MotionAlarm`, data item `State`;
 * - `PropertyOperation` "Initialized" (the current state, sent on subscribe), "Changed", or none.
 * Other topics (tampering, I/O, ...) are not motion: `null`. A motion topic without a readable state is an error.
 */

export interface MotionNotification {
  motion: boolean;
  /** The camera's UtcTime in ms, when it sent one. */
  cameraTime: number | undefined;
  operation: "Initialized" | "Changed" | "Deleted" | undefined;
  /** The topic without namespace prefixes, e.g. "RuleEngine/CellMotionDetector/Motion". */
  topic: string;
}

export type ParsedNotification = { ok: true; value: MotionNotification | null } | { ok: false; error: string };

const MOTION_ITEMS: Record<string, readonly string[]> = {
  "RuleEngine/CellMotionDetector/Motion": ["IsMotion", "Value"],
  "VideoSource/MotionAlarm": ["State"],
};

type Loose = Record<string, unknown>;
const isObject = (v: unknown): v is Loose => typeof v === "object" && v !== null && !Array.isArray(v);
const asList = (v: unknown): unknown[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]);

/** "tns1:RuleEngine/CellMotionDetector/Motion" → "RuleEngine/CellMotionDetector/Motion". */
export function plainTopic(topic: string): string {
  return topic
    .trim()
    .split("/")
    .map((part) => part.replace(/^[\w.-]*:/, ""))
    .join("/");
}

function booleanOf(value: unknown): boolean | undefined {
  if (value === true || value === 1) return true;
  if (value === false || value === 0) return false;
  if (typeof value === "string") {
    const v = value.trim().toLowerCase();
    if (v === "true" || v === "1" || v === "active") return true;
    if (v === "false" || v === "0" || v === "inactive") return false;
  }
  return undefined;
}

export function parseMotionNotification(raw: unknown): ParsedNotification {
  if (!isObject(raw)) return { ok: false, error: "notification is not an object" };
  const topicNode = raw.topic;
  const topicText =
    typeof topicNode === "string" ? topicNode : isObject(topicNode) && typeof topicNode._ === "string" ? topicNode._ : undefined;
  if (topicText === undefined) return { ok: false, error: "notification has no topic" };
  if (topicText.length > 512) return { ok: false, error: "notification topic longer than 512 characters" };
  const topic = plainTopic(topicText);
  const items = MOTION_ITEMS[topic];
  if (!items) return { ok: true, value: null };

  const outer = raw.message;
  const message = isObject(outer) && isObject(outer.message) ? outer.message : undefined;
  if (!message) return { ok: false, error: `${topic}: notification without a tt:Message` };
  const attrs = isObject(message.$) ? message.$ : {};
  const data = isObject(message.data) ? message.data : undefined;
  const simpleItems = asList(data?.simpleItem)
    .filter(isObject)
    .map((i) => (isObject(i.$) ? i.$ : {}));
  const item = simpleItems.find((i) => typeof i.Name === "string" && items.includes(i.Name));
  if (!item) return { ok: false, error: `${topic}: no ${items.join(" or ")} data item` };
  const motion = booleanOf(item.Value);
  if (motion === undefined)
    return { ok: false, error: `${topic}: ${String(item.Name)} is ${JSON.stringify(item.Value)}, not true or false` };

  const op = attrs.PropertyOperation;
  const operation = op === "Initialized" || op === "Changed" || op === "Deleted" ? op : undefined;
  const utc = attrs.UtcTime;
  const time = utc instanceof Date ? utc.getTime() : typeof utc === "string" ? Date.parse(utc) : NaN;
  return { ok: true, value: { motion, cameraTime: Number.isFinite(time) ? time : undefined, operation, topic } };
}
