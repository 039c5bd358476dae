import { type GatewayStatus, type Level, NEGATIVE_LEVELS, parseReading, type PresenceGap } from "@supervision/firmware-protocols";
import { integerText, type Point } from "../influx/line-protocol.ts";
import { RETENTION_MS } from "../influx/setup.ts";
import type { Registry } from "../registry/schema.ts";
import { MEASUREMENT, MEASUREMENTS } from "../schema/index.ts";

/**
 * Maps one buffered reading to its InfluxDB point per hub/SCHEMA.md. Pure: the point depends only on the
 * reading and the registry, so a replayed reading rewrites the identical point (same key, same fields).
 */

export type PointError = { code: "malformed"; message: string };

/** A device clock this far ahead of the gateway's receive time cannot be trusted. */
export const CLOCK_AHEAD_SUSPECT_MS = 60_000;
const POSITIVE_LEVELS: ReadonlySet<Level> = new Set(["very_satisfied", "satisfied"]);
export const isPositiveLevel = (level: Level | undefined): boolean => level !== undefined && POSITIVE_LEVELS.has(level);
export const isNegativeLevel = (level: Level | undefined): boolean => level !== undefined && NEGATIVE_LEVELS.has(level);

export const RETENTION_POLICY: Record<string, "raw" | "health" | "chain"> = {
  rating: MEASUREMENTS.rating.policy,
  signin: MEASUREMENTS.signin.policy,
  motion: MEASUREMENTS.motion.policy,
  uplink_batch: MEASUREMENTS.uplink_batch.policy,
  integrity_alert: MEASUREMENTS.integrity_alert.policy,
  dead_letter: MEASUREMENTS.dead_letter.policy,
  batch_chain: MEASUREMENTS.batch_chain.policy,
  batch_manifest: MEASUREMENTS.batch_manifest.policy,
  heartbeat: MEASUREMENTS.heartbeat.policy,
  presence: MEASUREMENTS.presence.policy,
  item: MEASUREMENTS.item_event.policy,
  queue: MEASUREMENTS.queue_event.policy,
  device_status: MEASUREMENTS.device_status.policy,
  gateway_health: MEASUREMENTS.gateway_health.policy,
};

/** Days the hub keeps each kind of reading (its policy's duration), sent to gateways so they refuse older ones. */
export function readingRetentionDays(): Record<"rating" | "signin" | "motion" | "heartbeat" | "item" | "queue", number> {
  const days = (measurement: string) => Math.floor((RETENTION_MS[retentionPolicyFor(measurement)] ?? Infinity) / 86_400_000);
  return {
    rating: days("rating"),
    signin: days("signin"),
    motion: days("motion"),
    heartbeat: days("heartbeat"),
    item: days("item"),
    queue: days("queue"),
  };
}

/** The policy a measurement is written to (raw unless SCHEMA.md says health). */
export function retentionPolicyFor(measurement: string): "raw" | "health" | "chain" {
  return RETENTION_POLICY[measurement] ?? "raw";
}

/** Nanosecond timestamp: device ms × 1e6 + (seq mod 1e6), as a string because it exceeds 2^53. */
export function readingTimestampNs(ts: number, seq: number): string {
  // ms × 1e6 is the ms digits followed by six zeros, so the sum is exact as text (no BigInt on the hot path).
  const sub = seq % 1_000_000;
  return ts === 0 ? String(sub) : `${integerText(ts)}${String(sub).padStart(6, "0")}`;
}

/** A summary's gaps as the `gaps` field: `fromTs-toTs` in ms, comma-separated (hub/SCHEMA.md, presence). */
export function presenceGapsText(gaps: readonly PresenceGap[]): string {
  return gaps.map((g) => `${integerText(g.fromTs)}-${integerText(g.toTs)}`).join(",");
}

/** The seconds of a summary's gaps, rounded: the `offline_s` field. */
export function presenceOfflineS(gaps: readonly PresenceGap[]): number {
  return Math.round(gaps.reduce((sum, g) => sum + (g.toTs - g.fromTs), 0) / 1000);
}

/**
 * Keeps only defined values, so unknown placement is omitted rather than written as "undefined". Each point's
 * tags and fields are built by one call, without object spreads: this runs for every reading.
 */
function defined<T>(entries: Record<string, T | undefined>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const k in entries) if (entries[k] !== undefined) out[k] = entries[k] as T;
  return out;
}

/** site → town → region of a site id, as far as the registry knows them. */
function placement(registry: Registry, siteId: string | undefined): { region?: string; town?: string; site?: string } {
  if (siteId === undefined) return {};
  const town = registry.sites.get(siteId)?.town;
  return { region: town === undefined ? undefined : registry.towns.get(town)?.region, town, site: siteId };
}

/** A reading of a received batch (checked here) as its point. */
export function readingToPoint(reading: unknown, registry: Registry): Point | { error: PointError } {
  const checked = parseReading(reading);
  if (!checked.ok) {
    const r = (typeof reading === "object" && reading !== null ? reading : {}) as Partial<Record<"kind" | "deviceId" | "seq", unknown>>;
    const what = `${String(r.kind).slice(0, 32)} reading of device ${String(JSON.stringify(r.deviceId)).slice(0, 80)} seq ${String(r.seq).slice(0, 16)}`;
    return { error: { code: "malformed", message: `${what}: ${checked.error.message}` } };
  }
  const r = checked.value;
  const device = registry.devices.get(r.deviceId);
  const timestamp = readingTimestampNs(r.ts, r.seq);
  // Tags are listed in key order, the order line protocol wants them in.
  switch (r.kind) {
    case "rating": {
      const window = registry.windows.get(r.windowId);
      const rated = r.outcome === "rated";
      const where = placement(registry, window?.site ?? device?.site);
      return {
        measurement: MEASUREMENT.rating,
        timestamp,
        tags: defined({
          clerk: r.clerkId,
          department: window?.department,
          device: r.deviceId,
          level: r.level,
          outcome: r.outcome,
          region: where.region,
          scale: r.scale,
          site: where.site,
          town: where.town,
          window: r.windowId,
        }),
        fields: defined<number | string>({
          seq: r.seq,
          rx_ts: r.rxTs,
          key: r.key,
          txn: r.txnId ?? "",
          rated: rated ? 1 : 0,
          positive: rated && isPositiveLevel(r.level) ? 1 : 0,
          negative: rated && isNegativeLevel(r.level) ? 1 : 0,
        }),
      };
    }
    case "signin": {
      const person = registry.people.get(r.personId);
      const siteId = device?.site ?? person?.site;
      const where = placement(registry, siteId);
      return {
        measurement: MEASUREMENT.signin,
        timestamp,
        tags: defined({
          device: r.deviceId,
          direction: r.direction,
          method: r.method,
          person: r.personId,
          region: where.region,
          role: person?.role,
          site: where.site,
          site_kind: siteId === undefined ? undefined : registry.sites.get(siteId)?.kind,
          town: where.town,
          window: person?.window,
        }),
        fields: defined<number | boolean>({
          seq: r.seq,
          rx_ts: r.rxTs,
          delay_s: Math.round((r.rxTs - r.ts) / 1000),
          lat: r.location?.lat,
          lon: r.location?.lon,
          accuracy_m: r.location?.accuracyM,
          clock_offset_s: r.clockOffsetS,
          // Ahead of its receipt, or made on a terminal whose gateway found its clock off (ADMS terminals).
          time_suspect: r.ts - r.rxTs > CLOCK_AHEAD_SUSPECT_MS || Math.abs(r.clockOffsetS ?? 0) * 1000 > CLOCK_AHEAD_SUSPECT_MS,
        }),
      };
    }
    case "motion": {
      const windowId = device?.window ?? registry.devices.get(r.cameraId)?.window;
      const siteId = device?.site ?? (windowId ? registry.windows.get(windowId)?.site : undefined);
      const where = placement(registry, siteId);
      return {
        measurement: MEASUREMENT.motion,
        timestamp,
        tags: defined({
          camera: r.cameraId,
          device: r.deviceId,
          region: where.region,
          site: where.site,
          source: r.source,
          state: r.state,
          town: where.town,
          window: windowId,
        }),
        fields: defined<number | string>({
          seq: r.seq,
          rx_ts: r.rxTs,
          active: r.state === "start" ? 1 : 0,
          snapshot_sha256: r.snapshotSha256,
        }),
      };
    }
    case "heartbeat":
      return {
        measurement: MEASUREMENT.heartbeat,
        timestamp,
        tags: defined({ device: r.deviceId, device_kind: device?.kind, site: device?.site }),
        fields: defined<number | string>({
          seq: r.seq,
          uptime_s: r.uptimeS,
          interval_s: r.intervalS,
          rssi: r.rssi,
          pending: r.pending,
          fw: r.fw,
        }),
      };
    case "presence": {
      const summary = r.type === "summary";
      return {
        measurement: MEASUREMENT.presence,
        timestamp,
        tags: defined({ device: r.deviceId, device_kind: device?.kind, site: device?.site, type: r.type }),
        fields: defined<number | string>({
          seq: r.seq,
          interval_s: r.intervalS,
          online: (summary ? r.state === "online" : r.type === "online") ? 1 : 0,
          last_seen: r.lastSeenTs,
          first_seen: r.firstSeenTs,
          period_from: r.fromTs,
          count: r.count,
          gaps: summary ? presenceGapsText(r.gaps ?? []) : undefined,
          offline_s: summary ? presenceOfflineS(r.gaps ?? []) : undefined,
        }),
      };
    }
    case "item": {
      const item = registry.items?.get(r.itemCode);
      const where = placement(registry, item?.site);
      return {
        measurement: MEASUREMENT.item_event,
        timestamp,
        tags: defined({
          department: item?.department,
          device: r.deviceId,
          item: r.itemCode,
          outcome: r.outcome,
          region: where.region,
          site: where.site,
          town: where.town,
          type: r.type,
        }),
        fields: defined<number | string>({
          seq: r.seq,
          rx_ts: r.rxTs,
          application: r.applicationNo,
          window: r.windowId,
          clerk: r.clerkId,
          applicant: r.applicantType,
          step: r.step,
          handler: r.handler,
          result: r.result,
          reason: r.reason,
          txn: r.txnId,
        }),
      };
    }
    case "queue": {
      const where = placement(registry, device?.site ?? (r.windowId ? registry.windows.get(r.windowId)?.site : undefined));
      return {
        measurement: MEASUREMENT.queue_event,
        timestamp,
        tags: defined({
          device: r.deviceId,
          region: where.region,
          site: where.site,
          town: where.town,
          type: r.type,
          window: r.windowId,
        }),
        fields: defined<number | string>({
          seq: r.seq,
          rx_ts: r.rxTs,
          ticket: r.ticket,
          txn: r.txnId,
          clerk: r.clerkId,
          application: r.applicationNo,
          item: r.itemCode,
        }),
      };
    }
  }
}

export type IntegrityKind =
  | "gap"
  | "altered"
  | "bad_signature"
  | "unknown_gateway"
  | "chain_restart"
  | "malformed"
  | "unknown_device"
  | "dead_letter"
  | "outside_slice"
  | "clerk_mismatch"
  | "audit"
  | "device_time";

const msToNs = (ms: number) => `${ms}000000`;

/**
 * The record of one stored batch; the hash chain of every hub copy is checked against these points. Its time is
 * the creation time plus seq mod 1e6 ns, so two batches created in the same millisecond stay two points.
 */
export function uplinkBatchPoint(
  b: { gatewayId: string; epoch: string; seq: number; prevHash: string; createdAt: number; readings: number },
  hash: string,
): Point {
  return {
    measurement: MEASUREMENT.uplink_batch,
    timestamp: readingTimestampNs(b.createdAt, b.seq),
    tags: { gateway: b.gatewayId },
    fields: { epoch: b.epoch, seq: b.seq, hash, prev_hash: b.prevHash, readings: b.readings },
  };
}

/**
 * An integrity alert at `atMs` + `discriminator` ns: alerts about a batch pass its creation time and seq, so a
 * replay rewrites the same point; alerts about rejected messages pass the arrival time and a running count.
 */
export function integrityAlertPoint(a: {
  gatewayId: string;
  kind: IntegrityKind;
  epoch: string;
  seq: number;
  detail: string;
  atMs: number;
  discriminator: number;
}): Point {
  return {
    measurement: MEASUREMENT.integrity_alert,
    timestamp: readingTimestampNs(a.atMs, a.discriminator),
    tags: { gateway: a.gatewayId, kind: a.kind },
    fields: { epoch: a.epoch, seq: a.seq, detail: a.detail.slice(0, 1024) },
  };
}

export function gatewayHealthPoint(s: GatewayStatus, registry: Registry, nowMs: number): Point {
  const oldest = s.buffer?.oldestTs;
  return {
    measurement: MEASUREMENT.gateway_health,
    timestamp: msToNs(s.ts ?? nowMs),
    tags: defined({ gateway: s.gatewayId, site: registry.gateways.get(s.gatewayId)?.site }),
    fields: defined<number | string>({
      online: s.state === "online" ? 1 : 0,
      buffer_depth: s.buffer?.depth,
      buffer_bytes: s.buffer?.bytes,
      capacity_bytes: s.buffer?.capacityBytes,
      dead_letters: s.buffer?.deadLetters,
      oldest_age_s: oldest === null || oldest === undefined ? undefined : Math.max(0, ((s.ts ?? nowMs) - oldest) / 1000),
      devices_online: s.devices?.online,
      devices_total: s.devices?.total,
      in_flight: s.uplink?.inFlight,
      rtt_ms: s.uplink?.rttMs ?? undefined,
      drain_rate: s.uplink?.drainRatePerS,
      config_version: s.configVersion,
      alarms: s.alarms?.join("; "),
    }),
  };
}
