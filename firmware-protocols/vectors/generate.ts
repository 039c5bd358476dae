/**
 * Writes the test vectors (mqtt-payloads.json, serial-frames.json, uplink-readings.json, uplink-rows.json,
 * uplink-batches.json) from the cases below, with the answers of
 * the TypeScript codec at the time of writing. Review the diff of a regeneration by hand: a changed answer is a
 * protocol change. Run: npx tsx firmware-protocols/vectors/generate.ts
 */
import { createHash, sign } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  type DeviceCommand,
  type DeviceEvent,
  GENESIS_HASH,
  loadPrivateKey,
  loadPublicKey,
  openBatch,
  parseBatchReading,
  parseReading,
  readingFromRow,
  readingRow,
  signBatch,
  signedMessage,
  validateDeviceMessage,
} from "../src/index.ts";
import {
  COMMANDS,
  decodeEventFrame,
  encodeCommandFrame,
  encodeEventFrame,
  encodeFrame,
  FrameDecoder,
  NACK_REASONS,
} from "../src/serial/index.ts";

const NOW = Date.UTC(2026, 10, 23, 2, 0, 0);
const TS = NOW - 60_000;
/** Days the hub keeps each kind (what a gateway config's retentionDays says). */
const RETENTION_DAYS = { rating: 1095, signin: 1095, motion: 1095, heartbeat: 30, item: 1095, queue: 1095 };
const dir = import.meta.dirname;

type Mqtt = { name: string; topic: string; payload: string };
const rating = {
  v: 1,
  deviceId: "kp-w01",
  seq: 101,
  ts: TS,
  windowId: "w01",
  clerkId: "clerk-01",
  txnId: "T-20261123-0042",
  outcome: "rated",
  scale: "four",
  key: 1,
  level: "very_satisfied",
};
const signin = { v: 1, deviceId: "term-1", seq: 7, ts: TS, personId: "clerk-01", method: "card", direction: "in" };
const motion = { v: 1, deviceId: "cam-w01", seq: 9, ts: TS, cameraId: "cam-w01", state: "start", source: "onvif" };
const heartbeat = { v: 1, deviceId: "kp-w01", seq: 102, ts: TS, intervalS: 60, uptimeS: 86400 };
const accepted = {
  v: 1,
  deviceId: "qs-hall-1",
  seq: 5,
  ts: TS,
  type: "accepted",
  applicationNo: "XK2026-000123",
  itemCode: "330100-XK-0001",
  windowId: "w01",
  clerkId: "clerk-01",
  applicantType: "company",
  txnId: "T-20261123-A023",
};
const queue = {
  v: 1,
  deviceId: "qs-hall-1",
  seq: 6,
  ts: TS,
  type: "finished",
  ticket: "A023",
  txnId: "T-20261123-A023",
  windowId: "w01",
  clerkId: "clerk-01",
  applicationNo: "XK2026-000123",
  itemCode: "330100-XK-0001",
};
const t = (id: string, kind: string) => `sv/v1/dev/${id}/evt/${kind}`;
const j = (o: unknown) => JSON.stringify(o);
const without = (o: Record<string, unknown>, key: string) => Object.fromEntries(Object.entries(o).filter(([k]) => k !== key));

const mqttCases: Mqtt[] = [
  { name: "rating, four-level scale, very satisfied", topic: t("kp-w01", "rating"), payload: j(rating) },
  {
    name: "rating, five-level scale, basically satisfied",
    topic: t("kp-w01", "rating"),
    payload: j({ ...rating, scale: "five", key: 3, level: "basically_satisfied" }),
  },
  { name: "rating, dissatisfied", topic: t("kp-w01", "rating"), payload: j({ ...rating, key: 4, level: "dissatisfied" }) },
  {
    name: "rating, prompt timed out (no key, no level)",
    topic: t("kp-w01", "rating"),
    payload: j({ ...without(without(rating, "key"), "level"), outcome: "timeout" }),
  },
  {
    name: "rating, key pressed without a prompt",
    topic: t("kp-w01", "rating"),
    payload: j({ ...without(without(rating, "txnId"), "clerkId"), outcome: "unsolicited", key: 2, level: "satisfied" }),
  },
  { name: "sign-in with a card", topic: t("term-1", "signin"), payload: j(signin) },
  {
    name: "sign-out by face at a construction site, with location",
    topic: t("term-1", "signin"),
    payload: j({
      ...signin,
      method: "face",
      direction: "out",
      personId: "sup-01",
      location: { lat: 31.2304, lon: 121.4737, accuracyM: 8 },
    }),
  },
  { name: "sign-in by PIN", topic: t("term-1", "signin"), payload: j({ ...signin, method: "pin" }) },
  { name: "motion start from ONVIF", topic: t("cam-w01", "motion"), payload: j(motion) },
  {
    name: "motion end from the camera's own detection",
    topic: t("cam-w01", "motion"),
    payload: j({ ...motion, state: "end", source: "vmd" }),
  },
  { name: "heartbeat, minimal", topic: t("kp-w01", "heartbeat"), payload: j(heartbeat) },
  { name: "heartbeat, every field", topic: t("kp-w01", "heartbeat"), payload: j({ ...heartbeat, fw: "2.1.0", rssi: -61, pending: 3 }) },
  { name: "item accepted at a hall window", topic: t("qs-hall-1", "item"), payload: j(accepted) },
  {
    name: "item step with its handler and result",
    topic: t("qs-hall-1", "item"),
    payload: j({
      ...without(without(without(accepted, "windowId"), "clerkId"), "applicantType"),
      seq: 7,
      type: "step",
      step: "审核",
      handler: "王审",
      result: "pass",
    }),
  },
  {
    name: "item suspended while the applicant completes the materials",
    topic: t("qs-hall-1", "item"),
    payload: j({ ...without(accepted, "applicantType"), seq: 8, type: "suspended", step: "审核", reason: "补正材料" }),
  },
  {
    name: "item resumed",
    topic: t("qs-hall-1", "item"),
    payload: j({ ...without(accepted, "applicantType"), seq: 9, type: "resumed", step: "审核" }),
  },
  {
    name: "item completed, approved",
    topic: t("qs-hall-1", "item"),
    payload: j({ ...without(accepted, "applicantType"), seq: 10, type: "completed", outcome: "approved" }),
  },
  {
    name: "item completed, refused with its reason",
    topic: t("qs-hall-1", "item"),
    payload: j({ ...without(accepted, "applicantType"), seq: 11, type: "completed", outcome: "refused", reason: "材料不符合法定形式" }),
  },
  {
    name: "item refused without a reason",
    topic: t("qs-hall-1", "item"),
    payload: j({ ...without(accepted, "applicantType"), seq: 12, type: "completed", outcome: "refused" }),
  },
  {
    name: "item completed without an outcome",
    topic: t("qs-hall-1", "item"),
    payload: j({ ...without(accepted, "applicantType"), seq: 13, type: "completed" }),
  },
  {
    name: "item step without its handler",
    topic: t("qs-hall-1", "item"),
    payload: j({ ...without(accepted, "applicantType"), seq: 14, type: "step", step: "审核", result: "pass" }),
  },
  { name: "item accepted without the applicant type", topic: t("qs-hall-1", "item"), payload: j(without(accepted, "applicantType")) },
  {
    name: "an outcome on an item step",
    topic: t("qs-hall-1", "item"),
    payload: j({ ...without(accepted, "applicantType"), type: "step", step: "审核", handler: "王审", result: "pass", outcome: "approved" }),
  },
  { name: "item with an unknown type", topic: t("qs-hall-1", "item"), payload: j({ ...accepted, type: "withdrawn" }) },
  { name: "application number with a space", topic: t("qs-hall-1", "item"), payload: j({ ...accepted, applicationNo: "XK 2026" }) },
  {
    name: "queue ticket taken",
    topic: t("qs-hall-1", "queue"),
    payload: j({ ...without(without(without(without(queue, "windowId"), "clerkId"), "applicationNo"), "itemCode"), type: "ticket" }),
  },
  {
    name: "queue ticket called to a window",
    topic: t("qs-hall-1", "queue"),
    payload: j({ ...without(without(queue, "applicationNo"), "itemCode"), type: "called" }),
  },
  { name: "queue service finished with its application", topic: t("qs-hall-1", "queue"), payload: j(queue) },
  {
    name: "queue service started without a window",
    topic: t("qs-hall-1", "queue"),
    payload: j({ ...without(queue, "windowId"), type: "started" }),
  },
  { name: "not JSON", topic: t("kp-w01", "rating"), payload: '{"v":1,"deviceId":' },
  { name: "JSON but not an object", topic: t("kp-w01", "rating"), payload: "[1,2,3]" },
  { name: "protocol version 2", topic: t("kp-w01", "rating"), payload: j({ ...rating, v: 2 }) },
  { name: "rating without a window", topic: t("kp-w01", "rating"), payload: j(without(rating, "windowId")) },
  { name: "rating without a sequence number", topic: t("kp-w01", "rating"), payload: j(without(rating, "seq")) },
  { name: "level not on the four-level scale", topic: t("kp-w01", "rating"), payload: j({ ...rating, level: "very_dissatisfied" }) },
  { name: "level unknown", topic: t("kp-w01", "rating"), payload: j({ ...rating, level: "delighted" }) },
  { name: "timeout carrying a level", topic: t("kp-w01", "rating"), payload: j({ ...rating, outcome: "timeout" }) },
  { name: "unknown field", topic: t("kp-w01", "rating"), payload: j({ ...rating, mood: "happy" }) },
  { name: "negative sequence number", topic: t("kp-w01", "rating"), payload: j({ ...rating, seq: -1 }) },
  { name: "sequence number above 32 bits", topic: t("kp-w01", "rating"), payload: j({ ...rating, seq: 2 ** 32 }) },
  { name: "unknown sign-in method", topic: t("term-1", "signin"), payload: j({ ...signin, method: "retina" }) },
  { name: "latitude out of range", topic: t("term-1", "signin"), payload: j({ ...signin, location: { lat: 91, lon: 0 } }) },
  { name: "payload names another device than the topic", topic: t("kp-w02", "rating"), payload: j(rating) },
  { name: "sequence number as text", topic: t("kp-w01", "rating"), payload: j({ ...rating, seq: "905" }) },
  { name: "device time as text", topic: t("kp-w01", "rating"), payload: j({ ...rating, ts: "yesterday" }) },
  { name: "sequence number null", topic: t("kp-w01", "rating"), payload: j({ ...rating, seq: null }) },
  { name: "rating without an outcome", topic: t("kp-w01", "rating"), payload: j(without(rating, "outcome")) },
  { name: "heartbeat without its interval", topic: t("kp-w01", "heartbeat"), payload: j(without(heartbeat, "intervalS")) },
  { name: "heartbeat interval as text", topic: t("kp-w01", "heartbeat"), payload: j({ ...heartbeat, intervalS: "60" }) },
  { name: "sign-in location without a longitude", topic: t("term-1", "signin"), payload: j({ ...signin, location: { lat: 31.2 } }) },
  {
    name: "unknown field inside a sign-in location",
    topic: t("term-1", "signin"),
    payload: j({ ...signin, location: { lat: 31.2, lon: 121.4, alt: 5 } }),
  },
  { name: "unknown field in a heartbeat", topic: t("kp-w01", "heartbeat"), payload: j({ ...heartbeat, battery: 80 }) },
  {
    name: "heartbeat older than its 30-day retention",
    topic: t("kp-w01", "heartbeat"),
    payload: j({ ...heartbeat, ts: NOW - 31 * 86_400_000 }),
  },
  { name: "heartbeat 29 days old", topic: t("kp-w01", "heartbeat"), payload: j({ ...heartbeat, ts: NOW - 29 * 86_400_000 }) },
  {
    name: "rating older than its 1,095-day retention",
    topic: t("kp-w01", "rating"),
    payload: j({ ...rating, ts: NOW - 1100 * 86_400_000 }),
  },
  { name: "device time an hour ahead", topic: t("kp-w01", "rating"), payload: j({ ...rating, ts: NOW + 3_600_000 }) },
  { name: "device clock never set (1970)", topic: t("kp-w01", "rating"), payload: j({ ...rating, ts: 5000 }) },
  { name: "oversized payload (5,000 bytes)", topic: t("kp-w01", "rating"), payload: j({ ...rating, txnId: "x".repeat(4900) }) },
  { name: "unknown event kind", topic: t("kp-w01", "temperature"), payload: j(heartbeat) },
  {
    name: "a device may not send a presence report (the gateway makes those)",
    topic: t("kp-w01", "presence"),
    payload: j({ deviceId: "kp-w01", seq: 1, ts: TS, type: "online", intervalS: 30, lastSeenTs: TS }),
  },
  { name: "upper-case device id in the topic", topic: t("KP-W01", "rating"), payload: j(rating) },
  { name: "wildcard in the topic", topic: "sv/v1/dev/+/evt/rating", payload: j(rating) },
  { name: "another protocol version in the topic", topic: "sv/v2/dev/kp-w01/evt/rating", payload: j(rating) },
  { name: "a command topic is not an event topic", topic: "sv/v1/dev/kp-w01/cmd/display", payload: j(rating) },
];

const mqttVectors = mqttCases.map((c) => {
  const r = validateDeviceMessage(c.topic, c.payload, { now: NOW, retentionDays: RETENTION_DAYS });
  return { ...c, expect: r.ok ? { ok: true, event: r.value } : { ok: false, code: r.error.code } };
});
writeFileSync(
  join(dir, "mqtt-payloads.json"),
  `${JSON.stringify({ description: "MQTT device payloads: topic + payload -> the decoded event (with its kind) or the error code. Validate with now = the given time (ms) and retentionDays.", now: NOW, retentionDays: RETENTION_DAYS, cases: mqttVectors }, null, 2)}\n`,
);

// Uplink readings the gateway makes itself: presence reports (PROTOCOL.md 4.1), as the hub checks each reading.
const P = NOW - 600_000;
const online = {
  kind: "presence",
  deviceId: "kp-w01",
  seq: 4,
  ts: P + 30_000,
  rxTs: P + 30_000,
  type: "online",
  intervalS: 30,
  lastSeenTs: P + 30_000,
};
const offline = { ...online, seq: 5, type: "offline", lastSeenTs: P + 300_000, ts: P + 375_000, rxTs: P + 375_000 };
const summary = {
  kind: "presence",
  deviceId: "kp-w01",
  seq: 6,
  ts: NOW,
  rxTs: NOW,
  type: "summary",
  intervalS: 30,
  fromTs: P,
  toTs: NOW,
  count: 11,
  firstSeenTs: P + 30_000,
  lastSeenTs: P + 300_000,
  gaps: [{ fromTs: P - 200_000, toTs: P + 30_000 }],
  state: "offline",
};
const readingCases: { name: string; reading: unknown }[] = [
  { name: "presence: back online", reading: online },
  { name: "presence: gone offline, 2.5 intervals after its last heartbeat", reading: offline },
  { name: "presence: a ten-minute summary with a gap and the device offline at its end", reading: summary },
  {
    name: "presence: a summary of a device silent all period",
    reading: { ...without(without(summary, "firstSeenTs"), "lastSeenTs"), count: 0, gaps: [] },
  },
  { name: "presence: offline at the wrong moment", reading: { ...offline, ts: P + 300_000 } },
  { name: "presence: online without when it was seen", reading: without(online, "lastSeenTs") },
  { name: "presence: a state change with a summary's fields", reading: { ...online, count: 3 } },
  { name: "presence: a summary without its gaps", reading: without(summary, "gaps") },
  { name: "presence: a summary whose ts is not its period's end", reading: { ...summary, ts: NOW - 1 } },
  { name: "presence: a gap that ends before it starts", reading: { ...summary, gaps: [{ fromTs: P, toTs: P - 1 }] } },
  {
    name: "presence: too many gaps",
    reading: { ...summary, gaps: Array.from({ length: 501 }, (_, i) => ({ fromTs: P + i, toTs: P + i + 1 })) },
  },
  { name: "presence: an unknown type", reading: { ...online, type: "flapping" } },
  { name: "presence: an unknown field", reading: { ...online, battery: 80 } },
  { name: "presence: counted heartbeats but no first or last", reading: without(summary, "firstSeenTs") },
];
const readingVectors = readingCases.map((c) => {
  const r = parseReading(c.reading);
  return { ...c, expect: r.ok ? { ok: true } : { ok: false, code: r.error.code, path: r.error.path } };
});
writeFileSync(
  join(dir, "uplink-readings.json"),
  `${JSON.stringify({ description: "Readings of an uplink batch that the gateway makes itself (presence reports): the reading -> accepted, or refused with the error code and path, as the hub checks each reading of a batch.", cases: readingVectors }, null, 2)}\n`,
);

// Uplink v2 rows (PROTOCOL.md 4.2): a row of layout 1 -> the reading it stands for and the hub's verdict on it.
const R = { ...rating, kind: "rating", rxTs: TS + 40 };
const rowOf = (reading: Record<string, unknown>) => {
  const row = readingRow(reading);
  if (!row) throw new Error(`layout 1 cannot carry ${JSON.stringify(reading)}`);
  return row;
};
const ratingRow = rowOf(R);
const rowCases: { name: string; row: unknown }[] = [
  { name: "rating: every column", row: ratingRow },
  { name: "rating: trailing absent columns left off", row: rowOf(without(without(R, "txnId"), "clerkId")) },
  { name: "rating: a null in the middle is an absent field (a rated rating needs its key)", row: rowOf(without(R, "key")) },
  { name: "timeout rating: key and level null, clerk given", row: rowOf({ ...without(without(R, "key"), "level"), outcome: "timeout" }) },
  { name: "sign-in", row: rowOf({ ...signin, kind: "signin", rxTs: TS + 3 }) },
  { name: "motion", row: rowOf({ ...motion, kind: "motion", rxTs: TS + 3 }) },
  { name: "heartbeat", row: rowOf({ ...heartbeat, kind: "heartbeat", rxTs: TS + 3 }) },
  { name: "item accepted", row: rowOf({ ...accepted, kind: "item", rxTs: TS + 3 }) },
  { name: "presence summary (a nested gaps column)", row: rowOf(summary) },
  { name: "truncated: only kind and device", row: ["rating", "kp-w01"] },
  { name: "truncated: a required column left off", row: ratingRow.slice(0, 7) },
  { name: "a required column null", row: ratingRow.map((v, i) => (i === 5 ? null : v)) },
  { name: "an extra column", row: [...ratingRow, ...Array(11 - (ratingRow.length - 1)).fill(null), "extra"] },
  { name: "seq as text", row: ratingRow.map((v, i) => (i === 2 ? "101" : v)) },
  { name: "ts not an integer", row: ratingRow.map((v, i) => (i === 3 ? 1.5 : v)) },
  { name: "device id too long", row: ratingRow.map((v, i) => (i === 1 ? "k".repeat(65) : v)) },
  { name: "oversized transaction id", row: ratingRow.map((v, i) => (i === 11 ? "T".repeat(10_000) : v)) },
  { name: "a level not on the scale", row: ratingRow.map((v, i) => (i === 9 ? "basically_satisfied" : v)) },
  { name: "unknown kind", row: ["alarm", "kp-w01", 1, TS, TS] },
  { name: "no kind", row: [null, "kp-w01", 1, TS, TS] },
  { name: "an empty row", row: [] },
  { name: "an object instead of a row", row: R },
  { name: "a text instead of a row", row: "rating" },
];
const rowVectors = rowCases.map((c) => {
  const decoded = readingFromRow(c.row, 1);
  const r = parseBatchReading({ v: 2, layout: 1 }, c.row);
  return {
    ...c,
    expect: r.ok ? { ok: true, reading: decoded.ok ? decoded.value : undefined } : { ok: false, code: r.error.code, path: r.error.path },
  };
});
writeFileSync(
  join(dir, "uplink-rows.json"),
  `${JSON.stringify({ description: "Readings of a v2 uplink batch (layout 1): the row -> the reading it stands for (accepted), or refused with the error code and path, as the hub checks each row of a batch. Device time checks are left out (the rows' ts are of the vectors' time).", layout: 1, cases: rowVectors }, null, 2)}\n`,
);

// Uplink batches: whole wires (body, LF, signature) of each envelope version, and the ways a signature or version is refused.
/** The vectors' gateway key, published here for the vectors only (Ed25519 signatures are deterministic). */
const VECTOR_KEY = {
  privateKeyPem:
    "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIBrD4cauou0PmHYwr7bWj7XHL6a8lHWZJttZuLU9c92p\n-----END PRIVATE KEY-----\n",
  publicKeyPem: "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAe8EAjdKpBuGcuu1lsdEsXeZjHCQWQKfVLAAM8KEDG1A=\n-----END PUBLIC KEY-----\n",
};
const vectorKey = loadPrivateKey(VECTOR_KEY.privateKeyPem);
const batchHeader = { gatewayId: "gw-hall-1", epoch: "9f2c4e1a7b3d5c60", seq: 1, prevHash: GENESIS_HASH, createdAt: NOW };
const batchRating = { kind: "rating", ...rating, rxTs: TS + 40 } as Record<string, unknown>;
const batchRows = [readingRow(batchRating as never)!];
/** A wire of `body` (text) and an Ed25519 signature over `message`. */
const wireOver = (body: string, message: Uint8Array) => `${body}\n${sign(null, message, vectorKey).toString("base64")}`;
const digestOf = (body: string) => createHash("sha256").update(body).digest();
const v3Body = JSON.stringify({ v: 3, ...batchHeader, seq: 3, layout: 1, readings: batchRows });
const twiceBody = `{"v":3,"v":2,${v3Body.slice(7)}`;
const v2Body = JSON.stringify({ v: 2, ...batchHeader, seq: 2, layout: 1, readings: batchRows });
const batchCases: Array<{ name: string; wire: string }> = [
  {
    name: "v1: readings as objects, signed over the body",
    wire: signBatch({ v: 1, ...batchHeader, readings: [batchRating as never] }, vectorKey).wire.toString(),
  },
  {
    name: "v2: readings as rows, signed over the body",
    wire: signBatch({ v: 2, ...batchHeader, seq: 2, layout: 1, readings: batchRows }, vectorKey).wire.toString(),
  },
  {
    name: "v3: rows, signed over the context and the body's SHA-256",
    wire: signBatch({ v: 3, ...batchHeader, seq: 3, layout: 1, readings: batchRows }, vectorKey).wire.toString(),
  },
  { name: "v3 body signed over its bytes", wire: wireOver(v3Body, Buffer.from(v3Body)) },
  { name: "v3 body signed over its bare SHA-256 (no context)", wire: wireOver(v3Body, digestOf(v3Body)) },
  {
    name: "v2 body signed over the v3 context and its SHA-256",
    wire: wireOver(v2Body, signedMessage(3, Buffer.from(v2Body), digestOf(v2Body))),
  },
  {
    name: "starts as v3, says v 2 as well (the last wins), signed over its SHA-256",
    wire: wireOver(twiceBody, signedMessage(3, Buffer.from(twiceBody), digestOf(twiceBody))),
  },
  {
    name: "v3 with a space before v, signed over its bytes",
    wire: wireOver(`{ "v":3,${v3Body.slice(7)}`, Buffer.from(`{ "v":3,${v3Body.slice(7)}`)),
  },
  {
    name: "version 4",
    wire: wireOver(
      JSON.stringify({ v: 4, ...batchHeader, layout: 1, readings: batchRows }),
      Buffer.from(JSON.stringify({ v: 4, ...batchHeader, layout: 1, readings: batchRows })),
    ),
  },
];
const vectorPublicKey = loadPublicKey(VECTOR_KEY.publicKeyPem);
const batchVectors = batchCases.map((c) => {
  const opened = openBatch("gw-hall-1", Buffer.from(c.wire), () => vectorPublicKey);
  return {
    ...c,
    expect: opened.ok
      ? { ok: true, v: opened.value.body.v, hash: opened.value.hash, readings: opened.value.body.readings.length }
      : { ok: false, code: opened.error.code, ...("path" in opened.error && opened.error.path ? { path: opened.error.path } : {}) },
  };
});
writeFileSync(
  join(dir, "uplink-batches.json"),
  `${JSON.stringify({ description: "Uplink batch wires (PROTOCOL.md 4, 4.2, 4.3) as the gateway gw-hall-1 with the vectors' key sends them -> opened (the body's version, its hash, how many readings) or refused with the code and path. The key is published for these vectors only; Ed25519 signatures are deterministic, so a gateway of another language signing the same bodies must write the same wires.", gatewayId: "gw-hall-1", ...VECTOR_KEY, v3Context: "supervision uplink v3 sha256\n", cases: batchVectors }, null, 2)}\n`,
);

// Serial frames
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const ev = (e: Record<string, unknown>) => ({ ...e, v: 1 }) as unknown as DeviceEvent;
const ratingEvent = ev({ ...rating, kind: "rating" });
const frames = {
  poll: encodeFrame({ address: 3, command: COMMANDS.poll, seq: 17, payload: new Uint8Array() }),
  ack: encodeFrame({ address: 3, command: COMMANDS.ack, seq: 17, payload: new Uint8Array() }),
  nack: encodeFrame({ address: 3, command: COMMANDS.nack, seq: 17, payload: Uint8Array.of(NACK_REASONS.bad_crc) }),
  nothing: encodeFrame({ address: 3, command: COMMANDS.nothing, seq: 17, payload: new Uint8Array() }),
  rating: encodeEventFrame(ratingEvent, 3, 18),
  timeout: encodeEventFrame(ev({ ...without(without(rating, "key"), "level"), kind: "rating", outcome: "timeout" }), 3, 19),
  signin: encodeEventFrame(
    ev({
      ...signin,
      kind: "signin",
      deviceId: "term-1",
      personId: "sup-01",
      method: "fingerprint",
      location: { lat: 31.2304, lon: 121.4737, accuracyM: 8 },
    }),
    5,
    1,
  ),
  motion: encodeEventFrame(ev({ ...motion, kind: "motion" }), 7, 2),
  heartbeat: encodeEventFrame(ev({ ...heartbeat, kind: "heartbeat", fw: "2.1.0", rssi: -61, pending: 3 }), 3, 20),
  fiveLevel: encodeEventFrame(ev({ ...rating, kind: "rating", scale: "five", key: 5, level: "very_dissatisfied" }), 3, 21),
  // The encoder does not validate, so it can write what a faulty device would send.
  badLevel: encodeEventFrame(ev({ ...rating, kind: "rating", scale: "five", key: 3, level: "average" }), 3, 23),
  future: encodeEventFrame(ev({ ...rating, kind: "rating", ts: NOW + 3_600_000 }), 3, 22),
};
const commands: Record<string, DeviceCommand> = {
  display: {
    name: "display",
    payload: {
      v: 1,
      cmdId: "c-1",
      ts: NOW,
      windowId: "w01",
      clerk: { id: "clerk-01", name: "Li Na", post: "Tax clerk", photoUrl: "https://photos.example/clerk-01.jpg" },
    },
  },
  displayClosed: { name: "display", payload: { v: 1, cmdId: "c-2", ts: NOW, windowId: "w01", clerk: null } },
  prompt: {
    name: "prompt",
    payload: { v: 1, cmdId: "c-3", ts: NOW, windowId: "w01", txnId: "T-20261123-0042", clerkId: "clerk-01", timeoutS: 30 },
  },
  time: { name: "time", payload: { v: 1, cmdId: "c-4", ts: NOW, tz: "Asia/Shanghai" } },
  config: { name: "config", payload: { v: 1, cmdId: "c-5", ts: NOW, heartbeatS: 30, scale: "five" } },
};

/** A valid frame whose CRC is recomputed over altered bytes: structure errors the CRC cannot catch. */
const forged = (bytes: number[]) => {
  const body = Uint8Array.from(bytes.slice(1));
  let crc = 0xffff;
  for (const byte of body) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  }
  return Uint8Array.from([...bytes, crc & 0xff, crc >>> 8]);
};
const flipped = Buffer.from(frames.rating);
flipped[10] = flipped[10]! ^ 0x01;
const shortRating = forged([0xa5, 6, 3, COMMANDS.rating, 5, 1, 0, 0]);

type SerialCase = { name: string; chunks: string[]; end?: boolean; deviceId?: string };
const serialCases: SerialCase[] = [
  { name: "poll from the gateway", chunks: [hex(frames.poll)] },
  { name: "ack", chunks: [hex(frames.ack)] },
  { name: "nack with reason bad_crc", chunks: [hex(frames.nack)] },
  { name: "nothing pending", chunks: [hex(frames.nothing)] },
  { name: "rating event", chunks: [hex(frames.rating)], deviceId: "kp-w01" },
  { name: "rating event, prompt timed out", chunks: [hex(frames.timeout)], deviceId: "kp-w01" },
  { name: "sign-in event with location", chunks: [hex(frames.signin)], deviceId: "term-1" },
  { name: "motion event", chunks: [hex(frames.motion)], deviceId: "cam-w01" },
  { name: "heartbeat event with every field", chunks: [hex(frames.heartbeat)], deviceId: "kp-w01" },
  ...Object.entries(commands).map(([name, c]) => ({ name: `${name} command`, chunks: [hex(encodeCommandFrame(c, 3, 40))] })),
  { name: "two frames in one chunk", chunks: [hex(Buffer.concat([frames.poll, frames.ack]))] },
  {
    name: "a frame split across three chunks",
    chunks: [hex(frames.rating.subarray(0, 2)), hex(frames.rating.subarray(2, 9)), hex(frames.rating.subarray(9))],
    deviceId: "kp-w01",
  },
  { name: "line noise before a good frame", chunks: [`00ff13${hex(frames.poll)}`] },
  {
    name: "noise containing a false start byte before a good frame (found when the line goes quiet)",
    chunks: [`a50a0102${hex(frames.ack)}`],
    end: true,
  },
  { name: "bad CRC (one bit flipped in the payload)", chunks: [hex(flipped)] },
  { name: "bad CRC, then a good frame", chunks: [hex(flipped), hex(frames.ack)] },
  { name: "truncated frame (line went quiet)", chunks: [hex(frames.rating.subarray(0, 12))], end: true },
  { name: "length byte below the minimum", chunks: ["a502030102"], end: true },
  { name: "unknown command with a valid CRC", chunks: [hex(forged([0xa5, 3, 3, 0x7f, 1]))] },
  { name: "rating payload cut short (valid CRC)", chunks: [hex(shortRating)], deviceId: "kp-w01" },
  { name: "rating on the five-level scale", chunks: [hex(frames.fiveLevel)], deviceId: "kp-w01" },
  { name: "level not on the five-level scale (valid frame)", chunks: [hex(frames.badLevel)], deviceId: "kp-w01" },
  { name: "device time an hour ahead", chunks: [hex(frames.future)], deviceId: "kp-w01" },
  { name: "only noise", chunks: ["000102030405"] },
];

const serialVectors = serialCases.map((c) => {
  const decoder = new FrameDecoder();
  const results = [...c.chunks.flatMap((h) => decoder.push(Buffer.from(h, "hex"))), ...(c.end ? decoder.end() : [])];
  const expect = results.map((r) =>
    r.ok
      ? { ok: true, frame: { address: r.value.address, command: r.value.command, seq: r.value.seq, payload: hex(r.value.payload) } }
      : { ok: false, code: r.error.code },
  );
  const frame = results.find((r) => r.ok);
  let event: unknown;
  if (c.deviceId && frame?.ok) {
    const decoded = decodeEventFrame(frame.value, c.deviceId, { now: NOW });
    event = decoded.ok ? { ok: true, event: decoded.value } : { ok: false, code: decoded.error.code };
  }
  return { ...c, expect, ...(event ? { event } : {}) };
});
writeFileSync(
  join(dir, "serial-frames.json"),
  `${JSON.stringify({ description: "RS-485 frames: hex chunks pushed into the streaming decoder (end: the line then went quiet) -> the frames or error codes in order; with deviceId, the first frame decoded as that device's event. now in ms.", now: NOW, cases: serialVectors }, null, 2)}\n`,
);
console.log(
  `${mqttVectors.length} MQTT, ${readingVectors.length} uplink reading, ${rowVectors.length} uplink row, ${batchVectors.length} uplink batch and ${serialVectors.length} serial vectors written`,
);
