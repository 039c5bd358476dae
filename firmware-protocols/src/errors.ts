/**
 * Every way a device message or uplink batch can be refused, as a stable code.
 * Codes are part of the v1 contract: test vectors, dead-letter records and
 * metrics labels use them, so add new ones, never rename.
 */
export const PAYLOAD_ERROR_CODES = [
  "bad_topic", // topic is not in the v1 tree
  "unknown_kind", // event kind in the topic is not one of the known kinds
  "oversized", // payload larger than MAX_EVENT_BYTES
  "malformed_json", // not UTF-8 JSON, or not a JSON object
  "unsupported_version", // "v" is not 1
  "missing_field", // a required field is absent
  "invalid_field", // a field has the wrong type, range or format
  "unknown_field", // a field that v1 does not define (typo protection)
  "bad_level", // rating level not on the declared scale, or key/level inconsistent with the outcome
  "device_mismatch", // deviceId in the payload differs from the topic
  "future_timestamp", // device time ahead of the receiver's clock by more than the allowed skew
  "clock_unset", // device time before 2020-01-01: the device clock was never set
  "login_refused", // an MQTT login with an unknown device, a wrong secret, or a client id that is not the device id
  "beyond_retention", // device time older than the hub keeps readings of its kind (retentionDays of the gateway config)
] as const;
export type PayloadErrorCode = (typeof PAYLOAD_ERROR_CODES)[number];

export interface PayloadError {
  code: PayloadErrorCode;
  message: string;
  /** JSON path of the offending field, when there is one. */
  path?: string;
}
