/**
 * The InfluxDB schema in one place: every measurement the hub writes or reads, its retention policy, its tags and
 * its fields. hub/SCHEMA.md documents it (hub/test/schema.test.ts keeps the two in agreement); the ingest, the
 * supervision rules, the report and the dashboards take their names from here, so a renamed tag fails typecheck
 * instead of matching nothing at run time.
 */

export const POLICIES = ["raw", "health", "rollup", "chain"] as const;
export type Policy = (typeof POLICIES)[number];

export interface MeasurementSchema {
  policy: Policy;
  tags: readonly string[];
  fields: readonly string[];
}

/** Placement tags of everything tied to a site: site → town → region, from the registry. */
const PLACE = ["region", "town", "site"] as const;

export const MEASUREMENTS = {
  // Raw readings, as the ingest writes them (hub/src/ingest/points.ts).
  rating: {
    policy: "raw",
    tags: [...PLACE, "window", "department", "clerk", "device", "outcome", "level", "scale"],
    fields: ["seq", "key", "txn", "rx_ts", "rated", "positive", "negative"],
  },
  signin: {
    policy: "raw",
    tags: [...PLACE, "site_kind", "person", "role", "window", "device", "method", "direction"],
    fields: ["seq", "rx_ts", "delay_s", "lat", "lon", "accuracy_m", "time_suspect"],
  },
  motion: {
    policy: "raw",
    tags: [...PLACE, "window", "device", "camera", "state", "source"],
    fields: ["seq", "rx_ts", "active", "snapshot_sha256"],
  },
  /** A snapshot a gateway took on the hub's request (an unattended-window warning), kept on the gateway as evidence. */
  camera_snapshot: {
    policy: "raw",
    tags: [...PLACE, "window", "device", "reason"],
    fields: ["sha256", "warning_ts"],
  },
  /** An approval item's event (from a hall's queue system or a department's approval system); placed by the item's catalogue entry. */
  item_event: {
    policy: "raw",
    tags: [...PLACE, "department", "item", "device", "type", "outcome"],
    fields: ["seq", "rx_ts", "application", "window", "clerk", "applicant", "step", "handler", "result", "reason", "txn"],
  },
  /** A hall's queue and counter system: a ticket taken, called, its service started and finished. */
  queue_event: {
    policy: "raw",
    tags: [...PLACE, "window", "device", "type"],
    fields: ["seq", "rx_ts", "ticket", "txn", "clerk", "application", "item"],
  },
  /** The hub's hash-chained trail of manual entries, decisions and warning handling (hub/src/audit/trail.ts). */
  hub_trail: { policy: "raw", tags: ["book"], fields: ["seq", "hash", "prev_hash", "point", "by"] },
  uplink_batch: { policy: "raw", tags: ["gateway"], fields: ["epoch", "seq", "hash", "prev_hash", "readings"] },
  /** What the hub verified of a stored batch, per UTC day of its readings: their identities and digests (hub audit). */
  batch_manifest: {
    policy: "raw",
    tags: ["gateway", "epoch"],
    fields: ["seq", "hash", "part", "parts", "readings", "entries", "digest"],
  },
  /** Each gateway's hash chain by (epoch, seq), whatever the batches' creation times say (policy chain, never expires). */
  batch_chain: { policy: "chain", tags: ["gateway", "epoch"], fields: ["seq", "hash", "prev_hash", "created_at", "readings"] },
  integrity_alert: { policy: "raw", tags: ["gateway", "kind"], fields: ["epoch", "seq", "detail"] },
  /** A point InfluxDB refused for good (hub/src/influx/dead-letters.ts); `measurement` is the refused point's. */
  dead_letter: {
    policy: "raw",
    tags: ["gateway", "measurement", "reason", "source"],
    fields: ["epoch", "batch_seq", "policy", "line", "truncated", "detail"],
  },

  // Health (kept 30 days).
  heartbeat: {
    policy: "health",
    tags: ["site", "device", "device_kind"],
    fields: ["seq", "uptime_s", "interval_s", "rssi", "pending", "fw"],
  },
  /**
   * A gateway's report of a device's heartbeats instead of one point each (firmware-protocols PROTOCOL.md 4.1): a state
   * change (`type` online / offline) or a period's summary. Times are ms (device time); `gaps` is
   * `fromTs-toTs,...` (silences past 2.5 intervals that ended in the period), `offline_s` their total.
   */
  presence: {
    policy: "health",
    tags: ["site", "device", "device_kind", "type"],
    fields: ["seq", "interval_s", "online", "last_seen", "first_seen", "period_from", "count", "gaps", "offline_s"],
  },
  /** A hub copy's claim, renewal or release of a site's supervision lease (hub/src/supervision/leases.ts). */
  site_lease: { policy: "health", tags: ["site", "copy", "kind"], fields: ["term", "expires"] },
  /** A hub copy alive until `expires` (ms), written every third of a lease: the copies sites are shared among. */
  hub_copy: { policy: "health", tags: ["copy"], fields: ["expires"] },
  device_status: { policy: "health", tags: ["site", "gateway", "device", "device_kind"], fields: ["online"] },
  gateway_health: {
    policy: "health",
    tags: ["gateway", "site"],
    fields: [
      "online",
      "buffer_depth",
      "buffer_bytes",
      "capacity_bytes",
      "dead_letters",
      "oldest_age_s",
      "devices_online",
      "devices_total",
      "in_flight",
      "rtt_ms",
      "drain_rate",
      "config_version",
      "alarms",
    ],
  },

  // Derived series, written by the supervision rules (hub/src/supervision).
  attendance: {
    policy: "raw",
    tags: [...PLACE, "site_kind", "person", "role", "window", "status"],
    fields: ["period", "minutes", "at", "level"],
  },
  /** Who is on duty in a shift period that has begun, and whether they have signed in for it yet. */
  duty: {
    policy: "raw",
    tags: [...PLACE, "site_kind", "person", "role", "window"],
    fields: ["period", "signed_in"],
  },
  warning: {
    policy: "raw",
    tags: [...PLACE, "category", "subject_kind", "subject", "rule", "severity"],
    fields: [
      "active",
      "message",
      "minutes",
      "rate",
      "rated",
      "handling",
      "handled_by",
      "handling_overdue",
      "snapshot_device",
      "snapshot_sha256",
    ],
  },
  warning_action: {
    policy: "raw",
    tags: [...PLACE, "rule", "subject_kind", "subject", "action"],
    fields: ["warning_ts", "by", "role", "note"],
  },
  card: { policy: "raw", tags: [...PLACE, "department", "subject_kind", "subject", "color"], fields: ["level", "reasons"] },
  /** Site presence (hub/src/supervision/rules/site-presence): a sign-in outside the site's radius, missed check-ins. */
  site_presence: {
    policy: "raw",
    tags: [...PLACE, "person", "role", "finding"],
    fields: ["count", "required", "distance_m", "beyond_m", "accuracy_m"],
  },
  dissatisfaction: {
    policy: "raw",
    tags: [...PLACE, "window", "department", "clerk", "state"],
    fields: ["rating_id", "rating_seq", "device", "by", "fault", "decided_at"],
  },
  deduction: { policy: "raw", tags: [...PLACE, "subject_kind", "subject", "rule"], fields: ["points", "reason", "entered_by"] },
  score_daily: {
    policy: "raw",
    tags: [...PLACE, "department", "subject_kind", "subject"],
    fields: ["score", "deductions", "bonuses"],
  },
  score_monthly: {
    policy: "raw",
    tags: [...PLACE, "department", "subject_kind", "subject"],
    fields: ["score", "deductions", "bonuses", "month"],
  },
  /** An application of an approval item as the items rule last saw it (one point per application, rewritten each run). */
  item_state: {
    policy: "raw",
    tags: [...PLACE, "department", "item"],
    fields: [
      "application",
      "state",
      "stage",
      "open",
      "near",
      "overdue",
      "left",
      "overdue_days",
      "due",
      "due_date",
      "handler",
      "completed_at",
      "timeliness",
      "outcome",
      "complaints",
    ],
  },
  /** A transaction served at a window (items rule, from the queue system's events): its waiting and service time. */
  transaction: {
    policy: "raw",
    tags: [...PLACE, "department", "window"],
    fields: ["txn", "clerk", "item", "application", "waiting_s", "service_s"],
  },
  /** Each device's availability per hour (equipment rule, hub/src/supervision/availability.ts), rewritten while the hour runs. */
  device_availability: { policy: "raw", tags: [...PLACE, "device", "device_kind"], fields: ["availability", "offline_s", "span_s"] },
  /** A warning a hub copy decided to notify (any copy's; shared de-duplication, hub/src/supervision/notify.ts). */
  notification_sent: { policy: "raw", tags: ["site", "copy"], fields: ["key", "episode", "queued"] },
  notification: { policy: "raw", tags: ["channel", "status"], fields: ["target", "message", "attempt", "error"] },

  // Rollups, filled by continuous queries (hub/src/influx/setup.ts).
  rating_1h: {
    policy: "rollup",
    tags: [...PLACE, "window", "department", "clerk"],
    fields: ["rated", "positive", "negative"],
  },
  motion_1h: { policy: "rollup", tags: [...PLACE, "window"], fields: ["starts"] },
  signin_1d: { policy: "rollup", tags: [...PLACE, "role"], fields: ["signins"] },

  // Province rollups, gathered from every region's InfluxDB into the central one by `hub rollup` (hub/src/rollup);
  // `period` is day (a local day, at its midnight) or month (at the month's first midnight).
  province_rating: { policy: "rollup", tags: [...PLACE, "department", "period"], fields: ["rated", "positive", "negative"] },
  province_attendance: { policy: "rollup", tags: [...PLACE, "status", "period"], fields: ["count"] },
  province_card: { policy: "rollup", tags: [...PLACE, "color", "period"], fields: ["count"] },
  province_warning: { policy: "rollup", tags: [...PLACE, "category", "period"], fields: ["raised"] },
  province_item: { policy: "rollup", tags: [...PLACE, "department", "type", "period"], fields: ["count"] },
} as const satisfies Record<string, MeasurementSchema>;

export type Measurement = keyof typeof MEASUREMENTS;
export type TagOf<M extends Measurement> = (typeof MEASUREMENTS)[M]["tags"][number];
export type FieldOf<M extends Measurement> = (typeof MEASUREMENTS)[M]["fields"][number];
export type ColumnOf<M extends Measurement> = TagOf<M> | FieldOf<M>;
/** The measurements whose points belong to a site (they carry the `site` tag). */
export type SitedMeasurement = { [M in Measurement]: "site" extends TagOf<M> ? M : never }[Measurement];

/** Measurement names, for code that names one: `MEASUREMENT.signin` rather than a string that may drift. */
export const MEASUREMENT = Object.fromEntries(Object.keys(MEASUREMENTS).map((m) => [m, m])) as { readonly [M in Measurement]: M };

/** The measurements a policy holds. */
export function measurementsIn(policy: Policy): Measurement[] {
  return (Object.keys(MEASUREMENTS) as Measurement[]).filter((m) => MEASUREMENTS[m].policy === policy);
}
