/**
 * The v1 MQTT topic tree. Devices talk to their hall's gateway; gateways talk to the hub.
 *
 *   sv/v1/dev/{deviceId}/evt/{kind}     device → gateway   QoS 1   events (rating, signin, motion, heartbeat, item, queue)
 *   sv/v1/dev/{deviceId}/status         device → gateway   QoS 1   retained availability; also the device's last will
 *   sv/v1/dev/{deviceId}/cmd/{name}     gateway → device   QoS 1   commands (display, prompt, time, config)
 *
 *   sv/v1/gw/{gatewayId}/batch          gateway → hub      QoS 1   signed, hash-chained uplink batches
 *   sv/v1/gw/{gatewayId}/ack            hub → gateway      QoS 1   application-level acknowledgement of a stored batch
 *   sv/v1/gw/{gatewayId}/status         gateway → hub      QoS 1   retained gateway health; also its last will
 *   sv/v1/gw/{gatewayId}/config         hub → gateway      QoS 1   retained registry slice for this gateway
 *   sv/v1/gw/{gatewayId}/cmd            hub → gateway      QoS 1   a command for one of the gateway's devices
 *   sv/v1/gw/{gatewayId}/camera         hub → gateway      QoS 1   a camera request (PTZ, take a snapshot, fetch a kept one)
 *   sv/v1/gw/{gatewayId}/camera-reply   gateway → hub      QoS 1   its answer, by request id (a fetched JPEG in base64)
 */
export const TOPIC_ROOT = "sv/v1";

export const EVENT_KINDS = ["rating", "signin", "motion", "heartbeat", "item", "queue"] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

export const COMMAND_NAMES = ["display", "prompt", "time", "config"] as const;
export type CommandName = (typeof COMMAND_NAMES)[number];

/** Ids of devices, gateways, halls, windows and people: lowercase, safe in topics and InfluxDB tags. */
export const ID_PATTERN = /^[a-z0-9][a-z0-9_.-]{0,63}$/;

export const deviceTopics = {
  event: (deviceId: string, kind: EventKind) => `${TOPIC_ROOT}/dev/${deviceId}/evt/${kind}`,
  status: (deviceId: string) => `${TOPIC_ROOT}/dev/${deviceId}/status`,
  command: (deviceId: string, name: CommandName) => `${TOPIC_ROOT}/dev/${deviceId}/cmd/${name}`,
  /** What a device subscribes to. */
  commandFilter: (deviceId: string) => `${TOPIC_ROOT}/dev/${deviceId}/cmd/+`,
};

export const gatewayTopics = {
  batch: (gatewayId: string) => `${TOPIC_ROOT}/gw/${gatewayId}/batch`,
  ack: (gatewayId: string) => `${TOPIC_ROOT}/gw/${gatewayId}/ack`,
  status: (gatewayId: string) => `${TOPIC_ROOT}/gw/${gatewayId}/status`,
  config: (gatewayId: string) => `${TOPIC_ROOT}/gw/${gatewayId}/config`,
  command: (gatewayId: string) => `${TOPIC_ROOT}/gw/${gatewayId}/cmd`,
  camera: (gatewayId: string) => `${TOPIC_ROOT}/gw/${gatewayId}/camera`,
  cameraReply: (gatewayId: string) => `${TOPIC_ROOT}/gw/${gatewayId}/camera-reply`,
  allCameraReplies: `${TOPIC_ROOT}/gw/+/camera-reply`,
  /** What the hub subscribes to; several hub copies share it through `$share/{group}/...`. */
  allBatches: `${TOPIC_ROOT}/gw/+/batch`,
  allStatus: `${TOPIC_ROOT}/gw/+/status`,
  shared: (group: string, filter: string) => `$share/${group}/${filter}`,
};

export type ParsedTopic =
  | { scope: "dev"; deviceId: string; type: "evt"; kind: EventKind }
  | { scope: "dev"; deviceId: string; type: "status" }
  | { scope: "dev"; deviceId: string; type: "cmd"; name: CommandName }
  | { scope: "gw"; gatewayId: string; type: "batch" | "ack" | "status" | "config" | "cmd" | "camera" | "camera-reply" };

export type TopicError = { code: "bad_topic" | "unknown_kind"; message: string };

/** Parses a topic of the v1 tree; anything else is a typed error, never an exception. */
export function parseTopic(topic: string): { ok: true; value: ParsedTopic } | { ok: false; error: TopicError } {
  const bad = (message: string) => ({ ok: false as const, error: { code: "bad_topic" as const, message } });
  if (typeof topic !== "string" || topic.length > 256) return bad("topic missing or longer than 256 characters");
  const parts = topic.split("/");
  if (parts[0] !== "sv" || parts[1] !== "v1") return bad(`topic "${topic}" is not under ${TOPIC_ROOT}/`);
  const [, , scope, id, type, sub, ...rest] = parts;
  if (rest.length > 0) return bad(`topic "${topic}" has too many levels`);
  if (!id || !ID_PATTERN.test(id)) return bad(`topic "${topic}" has an invalid id "${id ?? ""}"`);
  if (scope === "dev") {
    if (type === "evt") {
      if (sub === undefined) return bad(`topic "${topic}" lacks the event kind`);
      if (!(EVENT_KINDS as readonly string[]).includes(sub)) {
        return { ok: false, error: { code: "unknown_kind", message: `unknown event kind "${sub}"; v1 kinds: ${EVENT_KINDS.join(", ")}` } };
      }
      return { ok: true, value: { scope, deviceId: id, type, kind: sub as EventKind } };
    }
    if (type === "status" && sub === undefined) return { ok: true, value: { scope, deviceId: id, type } };
    if (type === "cmd" && sub !== undefined && (COMMAND_NAMES as readonly string[]).includes(sub)) {
      return { ok: true, value: { scope, deviceId: id, type, name: sub as CommandName } };
    }
    return bad(`topic "${topic}" is not a v1 device topic`);
  }
  if (
    scope === "gw" &&
    sub === undefined &&
    (type === "batch" ||
      type === "ack" ||
      type === "status" ||
      type === "config" ||
      type === "cmd" ||
      type === "camera" ||
      type === "camera-reply")
  ) {
    return { ok: true, value: { scope, gatewayId: id, type } };
  }
  return bad(`topic "${topic}" is not a v1 topic`);
}
