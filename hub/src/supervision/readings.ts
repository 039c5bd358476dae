import type { InfluxDB } from "influx";
import { lit, ns, type Row } from "../influx/query.ts";
import type { Site } from "../registry/schema.ts";
import { ITEM_LOOKBACK_DAYS, queryItemEvents, queryQueueEvents } from "../items/read.ts";
import { INFLUXQL } from "../schema/index.ts";
import { presenceHeartbeatRows, siteDeviceHistories } from "./availability.ts";

const {
  signin,
  heartbeat,
  presence,
  motion,
  rating,
  dissatisfaction,
  deduction,
  gateway_health,
  integrity_alert,
  warning,
  warning_action,
  camera_snapshot,
} = INFLUXQL;

/** The centre's handling steps on the site's warnings raised since `since` (ms). */
const warningActions = (influx: InfluxDB, site: Site, since: number) =>
  influx.query<Row>(
    `SELECT ${warning_action.rule}, ${warning_action.subject}, ${warning_action.action}, ${warning_action.warning_ts}, ${warning_action.by}, ${warning_action.note} FROM ${warning_action.FROM} WHERE ${warning_action.site} = ${lit(site.id)} AND time >= ${ns(since)}`,
  );

/** Asks once, however many rules ask: the rules of a day run together and share the day's queries. */
function once<T>(load: () => Promise<T>): () => Promise<T> {
  let answer: Promise<T> | undefined;
  return () => (answer ??= load());
}

export interface RatingTallyRow {
  clerk?: string;
  window?: string;
  rated: number;
  positive: number;
}

/**
 * The readings of one site's day that rules judge, queried from InfluxDB on first use. Sign-ins, heartbeats and
 * motion count within the working span (`from`..`to`); ratings, decisions and people's entries for the whole
 * local day, not only its working hours.
 */
export function dayReadings(influx: InfluxDB, site: Site, span: { from: number; to: number; dayFrom: number; dayTo: number }) {
  const range = `time >= ${ns(span.from)} AND time <= ${ns(span.to)} AND ${signin.site} = ${lit(site.id)}`;
  const wholeDay = `time >= ${ns(span.dayFrom)} AND time < ${ns(span.dayTo)} AND ${rating.site} = ${lit(site.id)}`;
  const tallies = new Map<string, Promise<RatingTallyRow[]>>();
  const between = new Map<string, Promise<Row[]>>();
  return {
    signins: once(() =>
      influx.query<Row>(
        `SELECT ${signin.person}, ${signin.device}, ${signin.direction}, ${signin.time_suspect}, ${signin.rx_ts}, ${signin.lat}, ${signin.lon}, ${signin.accuracy_m} FROM ${signin.FROM} WHERE ${range}`,
      ),
    ),
    /** The site's sign-ins (with GPS) from `from` to `to` (ms), beyond the day: a week's check-ins. */
    signinsBetween(from: number, to: number): Promise<Row[]> {
      const key = `${from}/${to}`;
      let answer = between.get(key);
      if (!answer) {
        answer = influx.query<Row>(
          `SELECT ${signin.person}, ${signin.direction}, ${signin.lat}, ${signin.lon}, ${signin.accuracy_m} FROM ${signin.FROM} WHERE ${signin.site} = ${lit(site.id)} AND time >= ${ns(from)} AND time < ${ns(to)}`,
        );
        between.set(key, answer);
      }
      return answer;
    },
    /**
     * The terminals' heartbeats: was a late-received sign-in's terminal connected when it was made? Terminals behind a
     * gateway that summarises heartbeats give the times they were heard (availability.ts, presenceHeartbeatRows).
     */
    terminalHeartbeats: once(async () => [
      ...(await influx.query<Row>(
        `SELECT ${heartbeat.device}, ${heartbeat.seq} FROM ${heartbeat.FROM} WHERE ${heartbeat.site} = ${lit(site.id)} AND ${heartbeat.device_kind} = 'terminal' AND time >= ${ns(span.from)} AND time <= ${ns(span.to)}`,
      )),
      ...(await presenceHeartbeatRows(influx, site.id, "terminal", span.from, span.to)),
    ]),
    /**
     * Up to when the site's terminals are known to have delivered (ms, device time): their last heartbeat or sign-in
     * since the span began, or undefined when none was heard. A terminal cut off from its gateway (or the demo
     * catching up on the past) delivers its punches late, so nothing missing before this is proof of absence.
     */
    terminalsHeardUntil: once(async () => {
      const since = `${signin.site} = ${lit(site.id)} AND time >= ${ns(span.from)}`;
      const [beats, punches, reports] = await Promise.all([
        influx.query<Row>(`SELECT last(${heartbeat.seq}) FROM ${heartbeat.FROM} WHERE ${since} AND ${heartbeat.device_kind} = 'terminal'`),
        influx.query<Row>(`SELECT last(${signin.seq}) FROM ${signin.FROM} WHERE ${since}`),
        // A summarising gateway's terminals: their last heartbeat reported (device time, as a heartbeat's).
        influx.query<Row>(
          `SELECT max(${presence.last_seen}) AS seen FROM ${presence.FROM} WHERE ${since} AND ${presence.device_kind} = 'terminal'`,
        ),
      ]);
      const times = [...beats, ...punches]
        .map((r) => r.time.getTime())
        .concat(reports.flatMap((r) => (typeof r.seen === "number" ? [r.seen] : [])));
      return times.length > 0 ? Math.max(...times) : undefined;
    }),
    motion: once(() =>
      influx.query<Row>(
        `SELECT ${motion.window}, ${motion.device}, ${motion.active}, ${motion.snapshot_sha256} FROM ${motion.FROM} WHERE ${range}`,
      ),
    ),
    /** Cameras' heartbeats from an hour before the span (or when summarised cameras were heard): was a window's camera up when nobody was seen? */
    cameraHeartbeats: once(async () => [
      ...(await influx.query<Row>(
        `SELECT ${heartbeat.device}, ${heartbeat.interval_s} FROM ${heartbeat.FROM} WHERE ${heartbeat.site} = ${lit(site.id)} AND ${heartbeat.device_kind} = 'camera' AND time >= ${ns(span.from - 3_600_000)} AND time <= ${ns(span.to)}`,
      )),
      ...(await presenceHeartbeatRows(influx, site.id, "camera", span.from - 3_600_000, span.to)),
    ]),
    /** Ratings at the windows in the working span: a clerk serving citizens is at the window, moving or not. */
    windowRatings: once(() => influx.query<Row>(`SELECT ${rating.window}, ${rating.seq} FROM ${rating.FROM} WHERE ${range}`)),
    negativeRatings: once(() =>
      influx.query<Row>(
        `SELECT ${rating.window}, ${rating.department}, ${rating.clerk}, ${rating.device}, ${rating.seq} FROM ${rating.FROM} WHERE ${wholeDay} AND ${rating.negative} = 1`,
      ),
    ),
    /** Supervisors' decisions on dissatisfied ratings (verified or dismissed). */
    decisions: once(() =>
      influx.query<Row>(
        `SELECT ${dissatisfaction.rating_id}, ${dissatisfaction.fault}, ${dissatisfaction.by}, ${dissatisfaction.state} FROM ${dissatisfaction.FROM} WHERE ${wholeDay} AND ${dissatisfaction.state} != 'to_verify'`,
      ),
    ),
    /** The centre's handling of the day's warnings. */
    warningActions: once(() => warningActions(influx, site, span.dayFrom)),
    /** The snapshots the hub took for the day's unattended-window warnings (the cameras extension's evidence). */
    warningSnapshots: once(() =>
      influx.query<Row>(
        `SELECT ${camera_snapshot.window}, ${camera_snapshot.device}, ${camera_snapshot.sha256}, ${camera_snapshot.warning_ts} FROM ${camera_snapshot.FROM} WHERE ${camera_snapshot.site} = ${lit(site.id)} AND ${camera_snapshot.reason} = 'unattended' AND time >= ${ns(span.dayFrom)}`,
      ),
    ),
    /** People's entries: deductions and bonuses entered by a person, not computed by the rules. */
    entries: once(() =>
      influx.query<Row>(
        `SELECT ${deduction.subject_kind}, ${deduction.subject}, ${deduction.rule}, ${deduction.points} FROM ${deduction.FROM} WHERE ${wholeDay} AND ${deduction.entered_by} != 'rules'`,
      ),
    ),
    /**
     * Points each person lost from `from` to `to` (ms) through the rules named: the month so far before the day
     * judged, for shares that count a month's losses (a window unit's pro-rata deduction).
     */
    lossesBefore(rules: readonly string[], from: number, to: number): Promise<Row[]> {
      const names = rules.map((r) => r.replace(/[^a-z_]/g, "")).join("|");
      return influx.query<Row>(
        `SELECT sum(${deduction.points}) AS points FROM ${deduction.FROM} WHERE ${deduction.site} = ${lit(site.id)} AND ${deduction.rule} =~ /^(${names})$/ AND ${deduction.points} < 0 AND time >= ${ns(from)} AND time < ${ns(to)} GROUP BY ${deduction.subject}`,
      );
    },
    /** Rated and positive ratings per clerk and window from `from` to `to` (ms). */
    ratingTallies(from: number, to: number): Promise<RatingTallyRow[]> {
      const key = `${from}/${to}`;
      let answer = tallies.get(key);
      if (!answer) {
        answer = influx.query<RatingTallyRow>(
          `SELECT sum(${rating.rated}) AS rated, sum(${rating.positive}) AS positive FROM ${rating.FROM} WHERE ${rating.site} = ${lit(site.id)} AND time >= ${ns(from)} AND time < ${ns(to)} GROUP BY ${rating.clerk}, ${rating.window}`,
        );
        tallies.set(key, answer);
      }
      return answer;
    },
  };
}
export type DayReadings = ReturnType<typeof dayReadings>;

/**
 * When the site's devices were first heard (by device time: its earliest heartbeat or sign-in still kept; a sign-in
 * an offline terminal kept and handed over later proves the terminal was there when it was made, though its
 * heartbeats only start when it is back), or "earlier" when that was more than `days` before `now`, or undefined
 * when they were never heard: nobody is judged for a day before the system existed.
 */
export async function siteHeardSince(influx: InfluxDB, site: Site, now: number, days = 3): Promise<number | "earlier" | undefined> {
  // The first point of the site's heartbeats and sign-ins: LIMIT 1 reads only the start of each series.
  const [beats, punches, reports] = await Promise.all([
    influx.query<Row>(`SELECT ${heartbeat.seq} FROM ${heartbeat.FROM} WHERE ${heartbeat.site} = ${lit(site.id)} LIMIT 1`),
    influx.query<Row>(`SELECT ${signin.seq} FROM ${signin.FROM} WHERE ${signin.site} = ${lit(site.id)} LIMIT 1`),
    // A summarising gateway's first report (its first online report is at the device's first heartbeat).
    influx.query<Row>(`SELECT ${presence.seq} FROM ${presence.FROM} WHERE ${presence.site} = ${lit(site.id)} LIMIT 1`),
  ]);
  const times = [...beats, ...punches, ...reports].map((r) => r.time.getTime());
  if (times.length === 0) return undefined;
  const first = Math.min(...times);
  return first < now - days * 86_400_000 ? "earlier" : first;
}

/** The readings a site's state at `now` is judged from (equipment): the last two days of health and alerts. */
export function siteReadings(influx: InfluxDB, site: Site, now: number) {
  const since = now - 2 * 86_400_000;
  return {
    // Not two last() selectors: with more than one, InfluxQL reports the range's start instead of the point's time.
    lastGatewayHealth: once(() =>
      influx.query<Row>(
        `SELECT ${gateway_health.buffer_depth} AS depth, ${gateway_health.oldest_age_s} AS age FROM ${gateway_health.FROM} WHERE ${gateway_health.gateway} = ${lit(site.gateway)} AND time > ${since}ms ORDER BY time DESC LIMIT 1`,
      ),
    ),
    /**
     * Each device's availability history since the start of the previous hour (and its state now), from heartbeats
     * or presence reports alike (availability.ts).
     */
    deviceHistories: once(() => siteDeviceHistories(influx, site.id, Math.floor(now / 3_600_000) * 3_600_000 - 3_600_000, now)),
    integrityAlerts: once(() =>
      influx.query<Row>(
        `SELECT ${integrity_alert.detail}, ${integrity_alert.seq} FROM ${integrity_alert.FROM} WHERE ${integrity_alert.gateway} = ${lit(site.gateway)} AND time > ${now - 86_400_000}ms`,
      ),
    ),
    /** The centre's handling of the warnings of the last two days. */
    warningActions: once(() => warningActions(influx, site, since)),
    /** The approval items' events of the site since the oldest application still followed. */
    itemEvents: once(() => queryItemEvents(influx, { site: site.id, from: now - ITEM_LOOKBACK_DAYS * 86_400_000, to: now })),
    /** The transaction ids of the site's dissatisfied ratings over the items' lookback: what applications were complained about. */
    complainedTxns: once(async () =>
      (
        await influx.query<Row>(
          `SELECT ${rating.txn} FROM ${rating.FROM} WHERE ${rating.site} = ${lit(site.id)} AND ${rating.negative} = 1 AND ${rating.txn} != '' AND time >= ${ns(now - ITEM_LOOKBACK_DAYS * 86_400_000)}`,
        )
      ).map((r) => String(r.txn)),
    ),
    /** The queue system's events of the last two days: the transactions served at the site's windows. */
    queueEvents: once(() => queryQueueEvents(influx, { site: site.id, from: now - 2 * 86_400_000, to: now })),
    /** Equipment warnings written by earlier runs, to close the ones that no longer hold. */
    equipmentWarnings: once(() =>
      influx.query<Row>(
        `SELECT ${warning.message}, ${warning.active} FROM ${warning.FROM} WHERE ${warning.site} = ${lit(site.id)} AND ${warning.category} = 'equipment' AND time > ${since}ms GROUP BY ${warning.subject_kind}, ${warning.subject}, ${warning.rule}, ${warning.severity}`,
      ),
    ),
  };
}
export type SiteReadings = ReturnType<typeof siteReadings>;
