import { type CheckedReading, checkDeviceTime, parseBatchReading, type ReceivedBody } from "@supervision/firmware-protocols";
import type { Logger } from "pino";
import type { Registry } from "../registry/schema.ts";
import type { BatchHeader } from "./chain-check.ts";
import { encodePoint, type Point } from "../influx/line-protocol.ts";
import { ARRIVAL_FIELDS, type Arrivals, type ReadingMemory } from "./arrivals.ts";
import type { DeadLetter, WriteContext } from "../influx/dead-letters.ts";
import { type IntegrityKind, readingToPoint, retentionPolicyFor } from "./points.ts";
import { readingLine, writeReadingLine } from "./reading-lines.ts";
import { ManifestBuilder } from "./manifest.ts";
import { clerkMismatch, outsideSlice } from "./slice-check.ts";
import { LineGroups, RETENTION_MARGIN_MS } from "./writer.ts";
import { RETENTION_MS } from "../influx/setup.ts";
import { MEASUREMENT } from "../schema/index.ts";

export interface EncodedBatch {
  /** All that is kept of the body. */
  header: BatchHeader;
  /** The stored readings' lines by policy, compacted. */
  groups: LineGroups;
  /** Readings refused alone (their batch is stored without them). */
  refused: number;
  /** Integrity alerts the readings raise, by kind, with their detail. */
  alerts: Array<[IntegrityKind, string]>;
  /** Identities of the readings written with their arrival fields: remembered once the batch is stored. */
  arrivals: Arrivals;
  /** Readings refused as outside the gateway's slice or crediting another window's clerk, kept as dead letters. */
  kept: DeadLetter[];
}

/**
 * A batch's readings as lines by policy, with the alerts its readings raise; the header is all that is kept of the
 * body. Each reading is checked alone, and a bad one is refused with its reason, never its batch: against its
 * kind's schema (`malformed`), against the sending gateway's slice of the registry (`outside_slice`), and its
 * device time against the hub's clock `now` (`device_time`: ahead by more than the allowed skew, or before 2020).
 */
export function encodeBatch(
  body: ReceivedBody,
  registry: Registry,
  now: number,
  logger: Logger,
  seen: ReadingMemory,
  audit: { hash: string; key?: Buffer } = { hash: "" },
): EncodedBatch {
  const { readings, ...rest } = body;
  const header: BatchHeader = { ...rest, readings: readings.length };
  const groups = new LineGroups({
    source: "batch",
    gatewayId: header.gatewayId,
    epoch: header.epoch,
    seq: header.seq,
    createdAt: header.createdAt,
  });
  const site = registry.gateways.get(header.gatewayId)?.site;
  const refusals = new Refusals(readings.length);
  const unknownDevices = new Set<string>();
  const arrivals = seen.arrivals(readings.length);
  const manifest = new ManifestBuilder();
  const kept: DeadLetter[] = [];
  // Older readings are dead-lettered by the writer (judged by the real clock, as influxd does): no manifest entry.
  const rawCutoffMs = Date.now() - (RETENTION_MS.raw ?? Infinity) + RETENTION_MARGIN_MS;
  for (const reading of readings) {
    // v1: the reading as parsed; v2: its row turned back into it first (PROTOCOL.md 4.2). The same check either way.
    const checked = parseBatchReading(body, reading);
    if (!checked.ok) {
      refusals.add("malformed", reading, `${checked.error.code}: ${checked.error.message}`);
      continue;
    }
    const r = checked.value;
    const foreign = outsideSlice(r, registry, site);
    if (foreign) {
      refusals.add("outside_slice", r, foreign);
      kept.push(keptReading(r, registry, "outside_slice", foreign, groups.context));
      continue;
    }
    const credit = clerkMismatch(r, registry);
    if (credit) {
      refusals.add("clerk_mismatch", r, credit);
      kept.push(keptReading(r, registry, "clerk_mismatch", credit, groups.context));
      continue;
    }
    const timeError = checkDeviceTime(r.ts, { now });
    if (timeError) {
      refusals.add("device_time", r, `${timeError.code}: ${timeError.message}`);
      continue;
    }
    try {
      const policy = retentionPolicyFor(r.kind);
      // Health readings (heartbeats, presence reports) have no arrival fields and are not in the manifest (raw only).
      const health = r.kind === "heartbeat" || r.kind === "presence";
      const first = health || seen.isNew(r.kind, r.deviceId, r.ts, r.seq, arrivals);
      const written = first
        ? groups.addEncoded(policy, r.ts, writeReadingLine, r, registry)
        : groups.add(policy, lineWithoutArrival(r, registry), r.ts);
      if (!health) manifest.add(r.kind, r.deviceId, r.seq, r.ts, written, !first, r.ts < rawCutoffMs);
    } catch (e) {
      refusals.add("malformed", r, `unwritable: ${(e as Error).message}`);
      continue;
    }
    if (!registry.devices.has(r.deviceId)) unknownDevices.add(r.deviceId);
  }
  if (refusals.count > 0)
    logger.warn({ gateway: header.gatewayId, refused: refusals.count, detail: refusals.summary() }, "readings not stored");
  const alerts = refusals.alerts();
  if (unknownDevices.size > 0)
    alerts.unshift(["unknown_device", `readings of devices not in the registry: ${[...unknownDevices].join(", ")}`]);
  // The batch_manifest points (what was verified and written, for `hub audit`) go with the readings' lines at once.
  manifest.write(groups, retentionPolicyFor(MEASUREMENT.batch_manifest), { ...header, hash: audit.hash }, audit.key);
  return { header, groups, refused: refusals.count, alerts, arrivals, kept };
}

/**
 * A reading this process stored before is written without its arrival fields (hub/SCHEMA.md, "First arrival
 * wins"): InfluxDB merges the fields of a point written again, so the first arrival's receive time stays. Its
 * identity is its point's measurement, device and timestamp (ReadingMemory). Heartbeats have no arrival fields.
 */
function lineWithoutArrival(r: CheckedReading, registry: Registry): string {
  const point = readingToPoint(r, registry) as Point;
  for (const field of ARRIVAL_FIELDS) delete point.fields[field];
  return encodePoint(point);
}

/** A refused reading as the line it would have been (its JSON when it has none), with why: a dead letter for review. */
function keptReading(
  r: CheckedReading,
  registry: Registry,
  reason: "outside_slice" | "clerk_mismatch",
  detail: string,
  context: WriteContext,
): DeadLetter {
  let line: string;
  try {
    line = readingLine(r, registry);
  } catch {
    line = JSON.stringify(r);
  }
  return { policy: retentionPolicyFor(r.kind), line, reason, detail, context };
}

/** Alert details are cut here (integrity_alert keeps 1,024 characters). */
const DETAIL_CHARS = 1000;

/** The readings of one batch refused so far, by alert kind, each with its reason. */
class Refusals {
  count = 0;
  private readonly byKind = new Map<IntegrityKind, string[]>();
  private readonly chars = new Map<IntegrityKind, number>();

  constructor(private readonly total: number) {}

  add(kind: IntegrityKind, reading: unknown, reason: string): void {
    this.count++;
    const list = this.byKind.get(kind) ?? [];
    this.byKind.set(kind, list);
    // Enough to find the reading and say why; the rest of the batch's refusals of this kind are only counted.
    const chars = this.chars.get(kind) ?? 0;
    const text = chars < DETAIL_CHARS ? `${describe(reading)}: ${reason.slice(0, 300)}` : "";
    list.push(text);
    this.chars.set(kind, chars + text.length + 2);
  }

  /** One alert per kind: how many of the batch's readings, and each one's reason (as many as fit). */
  alerts(): Array<[IntegrityKind, string]> {
    return [...this.byKind].map(([kind, list]) => {
      const shown = list.filter(Boolean);
      const more = list.length - shown.length;
      const text = `${list.length} of ${this.total} readings refused: ${shown.join("; ")}${more > 0 ? `; and ${more} more` : ""}`;
      return [kind, text.length > DETAIL_CHARS ? `${text.slice(0, DETAIL_CHARS)}…` : text];
    });
  }

  summary(): string {
    return this.alerts()
      .map(([kind, text]) => `${kind}: ${text}`)
      .join(" | ");
  }
}

/** kind, device and seq of a reading or a v2 row (maybe hostile), short and printable. */
function describe(reading: unknown): string {
  const r = (
    Array.isArray(reading)
      ? { kind: reading[0], deviceId: reading[1], seq: reading[2] }
      : typeof reading === "object" && reading !== null
        ? reading
        : {}
  ) as Partial<CheckedReading> & Record<string, unknown>;
  return `${String(r.kind).slice(0, 32)} reading ${String(JSON.stringify(r.deviceId)).slice(0, 80)} seq ${String(r.seq).slice(0, 16)}`;
}
