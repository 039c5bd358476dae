import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign, verify } from "node:crypto";
import { z } from "zod";
import type { PayloadError } from "./errors.ts";
import {
  HeartbeatEvent,
  Id,
  ItemEvent,
  itemRules,
  MotionEvent,
  QueueEvent,
  queueRules,
  RatingEvent,
  ratingRules,
  SigninEvent,
} from "./events.ts";
import { err, ok, type Result } from "./result.ts";
import { EVENT_KINDS } from "./topics.ts";
import { GATEWAY_READING_KINDS, PresenceReport, presenceRules } from "./presence.ts";
import { parseBatchJson } from "./batch-json.ts";
import { compileCheck, type FastCheck } from "./compiled-check.ts";
import { issueToError } from "./validate.ts";
import { type LayoutNumber, parseRowReading, READING_LAYOUTS } from "./envelope-v2.ts";

/**
 * The uplink envelope, v1 (and v2, whose readings are rows: envelope-v2.ts): how a gateway hands readings to the hub.
 *
 * Wire format of one MQTT message on sv/v1/gw/{gatewayId}/batch:
 *
 *     <body: UTF-8 JSON, one line>  LF  <signature: base64 of the 64-byte Ed25519 signature over the body bytes>
 *
 * The batch hash is SHA-256 of the body bytes (hex). Each body names the previous batch's hash, so the batches of
 * a chain form a hash chain: the hub detects a missing batch (a gap in seq), an altered one (signature or hash) and
 * a replayed one (seq and hash it has already stored). A chain is identified by `epoch`, a random id the gateway
 * picks when its buffer starts empty; a new epoch is visible to the hub as a chain restart.
 */

export const MAX_BATCH_BYTES = 4 * 1024 * 1024;
export const GENESIS_HASH = "0".repeat(64);
/** An Ed25519 signature (64 bytes) in canonical base64. */
const SIGNATURE_BASE64_LENGTH = 88;

/** What a batch may carry: the device event kinds, and what the gateway reports itself (a device's presence). */
export const READING_KINDS = [...EVENT_KINDS, ...GATEWAY_READING_KINDS] as const;
export type ReadingKind = (typeof READING_KINDS)[number];

/** A device event as the gateway buffered it: the event, its kind, and the gateway's receive time. */
export const Reading = z.looseObject({
  kind: z.enum(READING_KINDS),
  deviceId: Id,
  seq: z.int().min(0).max(0xffffffff),
  ts: z.int().min(0),
  /** Gateway receive time, UTC ms: evidence for judging the device clock. */
  rxTs: z.int().min(0),
});
export type Reading = z.infer<typeof Reading>;

/**
 * What a reading adds to its event: the kind (the topic's, on the device side) and the gateway's receive time.
 * Gateways buffer events without their `v` (the batch carries it), so it may be absent; if present it is 1.
 */
const readingFields = <K extends ReadingKind>(kind: K) => ({ kind: z.literal(kind), rxTs: z.int().min(0), v: z.literal(1).optional() });

/**
 * Each kind's reading checked in full in one pass: the event's own fields and rules plus the reading fields. The
 * hub checks every reading of a batch with these, one by one, so a bad reading is refused without costing its batch.
 */
export const READING_SCHEMAS = {
  rating: z.strictObject({ ...RatingEvent.shape, ...readingFields("rating") }).check(ratingRules),
  signin: z.strictObject({ ...SigninEvent.shape, ...readingFields("signin") }),
  motion: z.strictObject({ ...MotionEvent.shape, ...readingFields("motion") }),
  heartbeat: z.strictObject({ ...HeartbeatEvent.shape, ...readingFields("heartbeat") }),
  item: z.strictObject({ ...ItemEvent.shape, ...readingFields("item") }).check(itemRules),
  queue: z.strictObject({ ...QueueEvent.shape, ...readingFields("queue") }).check(queueRules),
  presence: z.strictObject({ ...PresenceReport.shape, ...readingFields("presence") }).check(presenceRules),
} as const satisfies Record<ReadingKind, z.ZodType>;

export type CheckedReading = { [K in ReadingKind]: z.infer<(typeof READING_SCHEMAS)[K]> }[ReadingKind];

/** Each kind's schema compiled (compiled-check.ts), made on first use: the gateway never needs them. */
let compiledReadingChecks: Partial<Record<ReadingKind, FastCheck>> | undefined;
function compiledReadingCheck(kind: ReadingKind): FastCheck | undefined {
  compiledReadingChecks ??= Object.fromEntries(READING_KINDS.map((k) => [k, compileCheck(READING_SCHEMAS[k])]));
  return compiledReadingChecks[kind];
}

/**
 * Validates one reading of a received batch against its kind's schema. A reading the compiled check passes is
 * returned as it is (it holds exactly the schema's fields, each valid); any other is judged by zod, which gives
 * the error. `parseReadingWithZod` is the same without the compiled check.
 */
export function parseReading(reading: unknown): Result<CheckedReading, PayloadError> {
  const kind = readingKind(reading);
  if (typeof kind !== "string") return kind;
  if (compiledReadingCheck(kind)?.(reading)) return ok(reading as CheckedReading);
  return zodReading(kind, reading);
}

export function parseReadingWithZod(reading: unknown): Result<CheckedReading, PayloadError> {
  const kind = readingKind(reading);
  return typeof kind === "string" ? zodReading(kind, reading) : kind;
}

function readingKind(reading: unknown): ReadingKind | { ok: false; error: PayloadError } {
  if (reading === null || typeof reading !== "object" || Array.isArray(reading))
    return err({ code: "invalid_field", message: "a reading must be a JSON object" });
  const kind = (reading as { kind?: unknown }).kind;
  if (typeof kind === "string" && Object.hasOwn(READING_SCHEMAS, kind)) return kind as ReadingKind;
  return err({ code: "invalid_field", message: `unknown reading kind ${JSON.stringify(kind) ?? "(none)"}`, path: "kind" });
}

function zodReading(kind: ReadingKind, reading: unknown): Result<CheckedReading, PayloadError> {
  const parsed = (READING_SCHEMAS[kind] as z.ZodType<CheckedReading>).safeParse(reading);
  return parsed.success ? ok(parsed.data) : err(issueToError(parsed.error.issues, reading));
}

export const BatchBody = z.strictObject({
  v: z.literal(1),
  gatewayId: Id,
  epoch: z.string().regex(/^[0-9a-f]{16}$/, "16 hex digits"),
  /** 1 for the first batch of an epoch, then +1 per batch. */
  seq: z.int().min(1),
  prevHash: z.string().regex(/^[0-9a-f]{64}$/, "64 hex digits"),
  createdAt: z.int().min(0),
  readings: z.array(Reading).max(100_000),
});
export type BatchBody = z.infer<typeof BatchBody>;

/**
 * A body as openBatch checks it: all of it but the readings, which the receiver checks one by one with
 * parseReading, so one bad reading does not cost its batch (and each reading is parsed once, not twice).
 */
export const ReceivedBodyV1 = BatchBody.extend({ readings: z.array(z.unknown()).max(100_000) });

/** A v2 body (envelope-v2.ts, PROTOCOL.md 4.2): the v1 header, the layout its rows follow, and the rows. */
export const BatchBodyV2 = z.strictObject({
  ...BatchBody.shape,
  v: z.literal(2),
  layout: z.literal(Object.keys(READING_LAYOUTS).map(Number) as LayoutNumber[]),
  readings: z.array(z.array(z.unknown())).max(100_000),
});
export type BatchBodyV2 = z.infer<typeof BatchBodyV2>;
export const ReceivedBodyV2 = BatchBodyV2.extend({ readings: z.array(z.unknown()).max(100_000) });

/**
 * A v3 body (PROTOCOL.md 4.3): a v2 body with `"v":3`, whose signature is over its SHA-256 (`signedMessage`) instead
 * of over its bytes.
 */
export const BatchBodyV3 = z.strictObject({ ...BatchBodyV2.shape, v: z.literal(3) });
export type BatchBodyV3 = z.infer<typeof BatchBodyV3>;
export const ReceivedBodyV3 = BatchBodyV3.extend({ readings: z.array(z.unknown()).max(100_000) });

/** A body as openBatch checked it, any version. */
export type ReceivedBody = z.infer<typeof ReceivedBodyV1> | z.infer<typeof ReceivedBodyV2> | z.infer<typeof ReceivedBodyV3>;
/** Kept for v1 callers: the v1 body. */
export const ReceivedBody = ReceivedBodyV1;

/**
 * One reading of a received batch checked in full: a v1 reading as it is, a v2 row turned back into its reading
 * first. Either way parseReading judges it (compiled check, zod for every refusal).
 */
export function parseBatchReading(
  body: Pick<ReceivedBody, "v"> & { layout?: LayoutNumber },
  reading: unknown,
): Result<CheckedReading, PayloadError> {
  return body.v === 1 ? parseReading(reading) : parseRowReading(reading, body.layout ?? 1, parseReading);
}

/** A batch whose signature and envelope were checked: its readings are still to be checked. */
export interface OpenedBatch {
  body: ReceivedBody;
  /** SHA-256 of the body bytes, hex. */
  hash: string;
}

export interface SignedBatch {
  body: BatchBody;
  /** SHA-256 of the body bytes, hex. */
  hash: string;
  /** The exact MQTT payload. */
  wire: Buffer;
}

export const BatchAck = z.strictObject({
  v: z.literal(1),
  gatewayId: Id,
  epoch: z.string(),
  seq: z.int().min(1),
  hash: z.string(),
  /** stored: every reading is in InfluxDB (or was already); rejected: the hub refuses the batch as it is (see code). */
  status: z.enum(["stored", "rejected"]),
  code: z.enum(["bad_signature", "unknown_gateway", "malformed", "altered"]).optional(),
  reason: z.string().max(512).optional(),
});
export type BatchAck = z.infer<typeof BatchAck>;

export type BatchErrorCode = "oversized" | "malformed" | "bad_signature" | "unknown_gateway";
export interface BatchError {
  code: BatchErrorCode;
  message: string;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * What a gateway's Ed25519 key signs for a body: v1 and v2, the body's bytes; v3, a fixed context and the 32 bytes of
 * the body's SHA-256 (PROTOCOL.md 4.3). Ed25519 hashes what it signs twice over with SHA-512, so a signature over a
 * 90 KB body cost the hub more than the SHA-256 it computes for the chain anyway; the context keeps a v3 signature
 * from standing for anything else the key might sign.
 */
export function signedMessage(version: number, bodyBytes: Uint8Array, digest: Buffer): Uint8Array {
  return version === 3 ? Buffer.concat([V3_CONTEXT, digest]) : bodyBytes;
}
const V3_CONTEXT = Buffer.from("supervision uplink v3 sha256\n", "ascii");
/** How a body that is signed over its digest starts (gateways write `v` first); openBatch reads nothing else before verifying. */
const V3_START = Buffer.from('{"v":3,', "ascii");

const sha256 = (bytes: Uint8Array): Buffer => createHash("sha256").update(bytes).digest();

/** Serialises, hashes and signs a batch body (v2 and v3: its rows as given). */
export function signBatch(body: BatchBody, privateKey: KeyObject): SignedBatch;
export function signBatch<B extends BatchBodyV2 | BatchBodyV3>(body: B, privateKey: KeyObject): Omit<SignedBatch, "body"> & { body: B };
export function signBatch(
  body: BatchBody | BatchBodyV2 | BatchBodyV3,
  privateKey: KeyObject,
): Omit<SignedBatch, "body"> & { body: BatchBody | BatchBodyV2 | BatchBodyV3 } {
  const bodyBytes = Buffer.from(JSON.stringify(body), "utf8");
  const digest = sha256(bodyBytes);
  const signature = sign(null, signedMessage(body.v, bodyBytes, digest), privateKey);
  const wire = Buffer.concat([bodyBytes, Buffer.from(`\n${signature.toString("base64")}`, "ascii")]);
  return { body, hash: digest.toString("hex"), wire };
}

/**
 * signBatch for readings that are already JSON (the gateway's buffer keeps them so), given comma-separated: the
 * same bytes signBatch writes for the same body, without parsing and re-serialising thousands of readings per
 * batch. `readingsAt` is the byte offset of that JSON in the wire.
 */
export function signSerializedBatch(
  header: Omit<BatchBody, "readings"> | Omit<BatchBodyV2, "readings"> | Omit<BatchBodyV3, "readings">,
  readingsJson: Uint8Array,
  privateKey: KeyObject,
): { epoch: string; seq: number; hash: string; wire: Buffer; readingsAt: number } {
  // Same key order as BatchBody, so the bytes equal JSON.stringify of the whole body.
  const head = JSON.stringify({
    v: header.v,
    gatewayId: header.gatewayId,
    epoch: header.epoch,
    seq: header.seq,
    prevHash: header.prevHash,
    createdAt: header.createdAt,
    ...("layout" in header ? { layout: header.layout } : {}),
  });
  const before = Buffer.from(`${head.slice(0, -1)},"readings":[`, "utf8");
  // One buffer for the whole wire, the signature written into its end: a batch is a megabyte, copied once.
  const bodyLength = before.length + readingsJson.length + 2;
  const wire = Buffer.allocUnsafe(bodyLength + 1 + SIGNATURE_BASE64_LENGTH);
  before.copy(wire, 0);
  wire.set(readingsJson, before.length);
  wire.write("]}\n", bodyLength - 2, "ascii");
  const body = wire.subarray(0, bodyLength);
  const digest = sha256(body);
  wire.write(sign(null, signedMessage(header.v, body, digest), privateKey).toString("base64"), bodyLength + 1, "ascii");
  return { epoch: header.epoch, seq: header.seq, hash: digest.toString("hex"), wire, readingsAt: before.length };
}

/** Splits a wire message without trusting it. */
export function splitBatch(wire: Uint8Array): Result<{ bodyBytes: Buffer; signature: Buffer }, BatchError> {
  if (wire.byteLength > MAX_BATCH_BYTES)
    return err({ code: "oversized", message: `batch is ${wire.byteLength} bytes; at most ${MAX_BATCH_BYTES}` });
  const buf = Buffer.from(wire.buffer, wire.byteOffset, wire.byteLength);
  const lf = buf.lastIndexOf(0x0a);
  if (lf <= 0) return err({ code: "malformed", message: "batch lacks the LF that separates body and signature" });
  const signatureText = buf.subarray(lf + 1).toString("latin1");
  const signature = Buffer.from(signatureText, "base64");
  // Node's base64 decoder skips stray characters; only the canonical text of 64 bytes is accepted.
  if (signature.length !== 64 || signature.toString("base64") !== signatureText)
    return err({ code: "malformed", message: "signature is not 64 bytes of canonical base64" });
  return ok({ bodyBytes: buf.subarray(0, lf), signature });
}

/**
 * Verifies and parses a batch that arrived on sv/v1/gw/{gatewayId}/batch. `keyFor` returns the registered
 * public key of a gateway. The signature is checked before the body is parsed, so unsigned bytes are never
 * interpreted, and the body must name the same gateway as the topic. The readings are left to parseReading.
 */
export function openBatch(
  gatewayId: string,
  wire: Uint8Array,
  keyFor: (gatewayId: string) => KeyObject | undefined,
): Result<OpenedBatch, BatchError | PayloadError> {
  const parts = splitBatch(wire);
  if (!parts.ok) return parts;
  const { bodyBytes, signature } = parts.value;
  const key = keyFor(gatewayId);
  if (!key) return err({ code: "unknown_gateway", message: `gateway "${gatewayId}" is not in the registry (or has no public key)` });
  // Which message the signature is over is told by the body's first bytes alone; what it says is believed only once
  // verified, and then the parsed version must agree (below).
  const signedOverDigest = bodyBytes.subarray(0, V3_START.length).equals(V3_START);
  const digest = sha256(bodyBytes);
  if (!verify(null, signedMessage(signedOverDigest ? 3 : 1, bodyBytes, digest), key, signature))
    return err({
      code: "bad_signature",
      message: `signature does not match gateway "${gatewayId}"'s key: altered in transit or signed by another key`,
    });
  const json = parseBatchJson(bodyBytes, MAX_BATCH_BYTES);
  if (!json.ok) return json;
  const version = json.value.v;
  if (version !== 1 && version !== 2 && version !== 3)
    return err({
      code: "unsupported_version",
      message: `uplink envelope version ${String(JSON.stringify(version)).slice(0, 20)} is not supported; this hub reads versions 1, 2 and 3`,
      path: "v",
    });
  if ((version === 3) !== signedOverDigest)
    return err({
      code: "invalid_field",
      message: `a v3 body starts with {"v":3, and is signed over its SHA-256; this one is v${version} and signed over ${signedOverDigest ? "its SHA-256" : "its bytes"}`,
      path: "v",
    });
  const schema = version === 3 ? ReceivedBodyV3 : version === 2 ? ReceivedBodyV2 : ReceivedBodyV1;
  const body = schema.safeParse(json.value);
  if (!body.success) return err(issueToError(body.error.issues, json.value));
  if (body.data.gatewayId !== gatewayId)
    return err({ code: "malformed", message: `body names gateway "${body.data.gatewayId}" but arrived on gateway "${gatewayId}"'s topic` });
  return ok({ body: body.data, hash: digest.toString("hex") });
}

/** A fresh Ed25519 key pair in PEM. */
export function generateGatewayKeys(): { privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return {
    privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
  };
}

export const loadPrivateKey = (pem: string): KeyObject => createPrivateKey(pem);
export const loadPublicKey = (pem: string): KeyObject => createPublicKey(pem);
