import { PRESENCE_SILENCE_FACTOR } from "@supervision/firmware-protocols";
import type { InfluxDB } from "influx";
import { lit, ns, type Row } from "../influx/query.ts";
import { INFLUXQL } from "../schema/index.ts";

const { heartbeat, presence } = INFLUXQL;

/**
 * A device's availability, exact to its heartbeat interval, from either kind of gateway (a mixed fleet): heartbeat
 * points (older gateways) or presence reports (firmware-protocols PROTOCOL.md 4.1). Both give the same answer for the
 * same heartbeats: a device is offline from its last heartbeat before a silence longer than 2.5 intervals to its first
 * heartbeat after it (device time), and, while such a silence goes on, up to now.
 */
export interface DeviceHistory {
  /** Offline spans (ms, device time), sorted and merged; `to` undefined while it goes on. */
  offline: { from: number; to: number | undefined }[];
  /** The newest heartbeat known (ms). */
  lastSeen: number | undefined;
  /** As last known: a heartbeat device by its silence at `now`, a summarised one by its gateway's last report. */
  state: "online" | "offline" | undefined;
  /** When the device was first known within the rows read (ms). */
  knownFrom: number | undefined;
}

export interface HeartbeatRow {
  time: number;
  intervalS: number;
}

export interface PresenceRow {
  time: number;
  type: "online" | "offline" | "summary";
  /** The state after the report (1 online). */
  online: number;
  lastSeen: number | undefined;
  firstSeen: number | undefined;
  /** A summary's gaps field: `fromTs-toTs,...`. */
  gaps: string | undefined;
}

const silenceMs = (intervalS: number) => Math.round(PRESENCE_SILENCE_FACTOR * intervalS * 1000);

/** From heartbeat points, oldest first: each silence past 2.5 of the interval the heartbeat before it promised. */
export function historyFromHeartbeats(beats: readonly HeartbeatRow[], now: number): DeviceHistory {
  const offline: DeviceHistory["offline"] = [];
  for (let i = 1; i < beats.length; i++) {
    const prev = beats[i - 1]!;
    if (beats[i]!.time - prev.time > silenceMs(prev.intervalS)) offline.push({ from: prev.time, to: beats[i]!.time });
  }
  const last = beats.at(-1);
  let state: DeviceHistory["state"];
  if (last) {
    state = now - last.time > silenceMs(last.intervalS) ? "offline" : "online";
    if (state === "offline") offline.push({ from: last.time, to: undefined });
  }
  return { offline: merged(offline), lastSeen: last?.time, state, knownFrom: beats[0]?.time };
}

/** From presence reports, oldest first: the summaries' gaps, and the state changes for what no summary holds yet. */
export function historyFromPresence(rows: readonly PresenceRow[]): DeviceHistory {
  const offline: DeviceHistory["offline"] = [];
  let open: { from: number; to: number | undefined } | undefined;
  let lastSeen: number | undefined;
  let state: DeviceHistory["state"];
  for (const r of rows) {
    if (r.lastSeen !== undefined) lastSeen = Math.max(lastSeen ?? r.lastSeen, r.lastSeen);
    if (r.type === "summary") {
      for (const gap of parseGaps(r.gaps)) offline.push(gap);
      state = r.online === 1 ? "online" : "offline";
    } else if (r.type === "offline") {
      open = { from: r.lastSeen ?? r.time, to: undefined };
      offline.push(open);
      state = "offline";
    } else {
      if (open && open.to === undefined && r.time > open.from) open.to = r.time;
      open = undefined;
      state = "online";
    }
  }
  // A silence going on that only summaries report (its offline report is older than the rows read).
  const last = rows.at(-1);
  if (state === "offline" && !offline.some((s) => s.to === undefined) && last?.type === "summary")
    offline.push({ from: lastSeen ?? last.time, to: undefined });
  const firstSeen = rows.find((r) => r.type !== "summary" || r.firstSeen !== undefined);
  return {
    offline: merged(offline),
    lastSeen,
    state,
    knownFrom: firstSeen === undefined ? undefined : (firstSeen.firstSeen ?? firstSeen.lastSeen ?? firstSeen.time),
  };
}

/** A device reported both ways (its gateway replaced): the union of what each says, the state of the newer. */
export function mergeHistories(a: DeviceHistory, b: DeviceHistory): DeviceHistory {
  const newer = (b.lastSeen ?? -Infinity) >= (a.lastSeen ?? -Infinity) ? b : a;
  const older = newer === a ? b : a;
  // The older source's ongoing silence ended where the newer one heard the device.
  const offline = [
    ...newer.offline,
    ...older.offline.map((s) =>
      s.to === undefined && newer.lastSeen !== undefined && newer.lastSeen > s.from ? { ...s, to: newer.knownFrom ?? newer.lastSeen } : s,
    ),
  ];
  const known = [a.knownFrom, b.knownFrom].filter((t): t is number => t !== undefined);
  return {
    offline: merged(offline),
    lastSeen: newer.lastSeen ?? older.lastSeen,
    state: newer.state ?? older.state,
    knownFrom: known.length > 0 ? Math.min(...known) : undefined,
  };
}

/** Milliseconds of `from`..`to` the device was offline (a span going on counts up to `to`). */
export function offlineMs(history: DeviceHistory, from: number, to: number): number {
  let total = 0;
  for (const s of history.offline) total += Math.max(0, Math.min(s.to ?? to, to) - Math.max(s.from, from));
  return total;
}

/** The share of `from`..`to` the device was online, of the part of it the device was known (undefined: unknown). */
export function availability(history: DeviceHistory, from: number, to: number): number | undefined {
  if (history.knownFrom === undefined) return undefined;
  const start = Math.max(from, history.knownFrom);
  if (start >= to) return undefined;
  return 1 - offlineMs(history, start, to) / (to - start);
}

/**
 * When a summarised device was heard, as its heartbeats would have been: one time every interval across the spans it
 * was online (from its first heartbeat known to its last, less its silences), between `from` and `to`. For the rules that read
 * heartbeat times (a terminal connected when a late sign-in was made, a camera up while nobody was seen).
 */
export function seenTimes(rows: readonly PresenceRow[], intervalS: number, from: number, to: number): number[] {
  const history = historyFromPresence(rows);
  if (history.knownFrom === undefined) return [];
  // Up to its last heartbeat known (device time): a report's own time is the gateway's clock, and a device replaying
  // its past (the demo catching up) must not seem heard beyond what it has sent. So the last summary period of a
  // device online now is known only when its summary comes.
  const until = history.lastSeen ?? history.knownFrom;
  const step = intervalS * 1000;
  const times: number[] = [];
  const start = Math.max(from, history.knownFrom);
  // On the device's own beat (from its first heartbeat known), as its heartbeats were.
  let t = history.knownFrom + Math.ceil((start - history.knownFrom) / step) * step;
  for (; t <= Math.min(until, to); t += step)
    if (!history.offline.some((s) => t > s.from && (s.to === undefined || t < s.to))) times.push(t);
  return times;
}

/** `fromTs-toTs,...` as spans; anything malformed is skipped (the hub wrote it from a checked reading). */
export function parseGaps(text: string | undefined): { from: number; to: number }[] {
  if (!text) return [];
  const gaps: { from: number; to: number }[] = [];
  for (const part of text.split(",")) {
    const m = /^(\d+)-(\d+)$/.exec(part);
    if (m) gaps.push({ from: Number(m[1]), to: Number(m[2]) });
  }
  return gaps;
}

function merged(spans: { from: number; to: number | undefined }[]): DeviceHistory["offline"] {
  const sorted = [...spans].sort((x, y) => x.from - y.from);
  const out: DeviceHistory["offline"] = [];
  for (const s of sorted) {
    const last = out.at(-1);
    if (last && (last.to === undefined || s.from <= last.to)) {
      if (last.to !== undefined) last.to = s.to === undefined ? undefined : Math.max(last.to, s.to);
    } else out.push({ ...s });
  }
  return out;
}

/**
 * Every device of a site with heartbeats or presence reports, its history from `from` to `now`: the rows of the span
 * and the last of each kind before it (a silence that began earlier). Two days back at most.
 */
export async function siteDeviceHistories(
  influx: InfluxDB,
  siteId: string,
  from: number,
  now: number,
): Promise<Map<string, DeviceHistory>> {
  const site = lit(siteId);
  const before = `time < ${ns(from)} AND time > ${ns(from - 2 * 86_400_000)}`;
  const within = `time >= ${ns(from)} AND time <= ${ns(now)}`;
  const [beatsBefore, beats, reportsBefore, reports] = await Promise.all([
    influx.query<Row>(
      `SELECT ${heartbeat.interval_s} FROM ${heartbeat.FROM} WHERE ${heartbeat.site} = ${site} AND ${before} GROUP BY ${heartbeat.device} ORDER BY time DESC LIMIT 1`,
    ),
    influx.query<Row>(
      `SELECT ${heartbeat.interval_s} FROM ${heartbeat.FROM} WHERE ${heartbeat.site} = ${site} AND ${within} GROUP BY ${heartbeat.device}`,
    ),
    influx.query<Row>(
      `SELECT ${PRESENCE_COLUMNS} FROM ${presence.FROM} WHERE ${presence.site} = ${site} AND ${presence.type} != 'summary' AND ${before} GROUP BY ${presence.device} ORDER BY time DESC LIMIT 1`,
    ),
    influx.query<Row>(
      `SELECT ${PRESENCE_COLUMNS} FROM ${presence.FROM} WHERE ${presence.site} = ${site} AND ${within} GROUP BY ${presence.device}`,
    ),
  ]);
  const reportRows = presenceRowsByDevice([...reportsBefore, ...reports]);
  const beatRows = new Map<string, HeartbeatRow[]>();
  for (const r of [...beatsBefore, ...beats]) {
    const list = beatRows.get(String(r.device)) ?? [];
    list.push({ time: r.time.getTime(), intervalS: Number(r.interval_s) });
    beatRows.set(String(r.device), list);
  }
  const histories = new Map<string, DeviceHistory>();
  for (const device of new Set([...beatRows.keys(), ...reportRows.keys()])) {
    const b = beatRows.get(device)?.sort((x, y) => x.time - y.time);
    const p = reportRows.get(device);
    const fromBeats = b ? historyFromHeartbeats(b, now) : undefined;
    const fromReports = p ? historyFromPresence(p) : undefined;
    histories.set(device, fromBeats && fromReports ? mergeHistories(fromBeats, fromReports) : (fromBeats ?? fromReports)!);
  }
  return histories;
}

const PRESENCE_COLUMNS = `${presence.type}, ${presence.online}, ${presence.last_seen}, ${presence.first_seen}, ${presence.gaps}, ${presence.interval_s}`;

/** Rows of the presence measurement as PresenceRows by device, oldest first. */
function presenceRowsByDevice(rows: readonly Row[]): Map<string, PresenceRow[]> {
  const byDevice = new Map<string, PresenceRow[]>();
  const optional = (v: unknown) => (v === null || v === undefined ? undefined : Number(v));
  for (const r of rows) {
    const list = byDevice.get(String(r.device)) ?? [];
    list.push({
      time: r.time.getTime(),
      type: String(r.type) as PresenceRow["type"],
      online: Number(r.online),
      lastSeen: optional(r.last_seen),
      firstSeen: optional(r.first_seen),
      gaps: r.gaps === null || r.gaps === undefined ? undefined : String(r.gaps),
    });
    byDevice.set(String(r.device), list);
  }
  for (const list of byDevice.values()) list.sort((x, y) => x.time - y.time);
  return byDevice;
}

/**
 * Heartbeat-like rows (`device`, `interval_s`, `time`) for a site's summarised devices of one kind from `from` to `to`:
 * `seenTimes` of each, so the rules that read heartbeat rows read these beside the heartbeat points of older gateways.
 */
export async function presenceHeartbeatRows(
  influx: InfluxDB,
  siteId: string,
  deviceKind: string,
  from: number,
  to: number,
): Promise<Row[]> {
  const where = `${presence.site} = ${lit(siteId)} AND ${presence.device_kind} = ${lit(deviceKind)}`;
  const [before, within] = await Promise.all([
    influx.query<Row>(
      `SELECT ${PRESENCE_COLUMNS} FROM ${presence.FROM} WHERE ${where} AND ${presence.type} != 'summary' AND time < ${ns(from)} AND time > ${ns(from - 2 * 86_400_000)} GROUP BY ${presence.device} ORDER BY time DESC LIMIT 1`,
    ),
    // A silence still going on at `to` is known from its offline report; one that ended by then, from a summary or
    // its online report.
    influx.query<Row>(
      `SELECT ${PRESENCE_COLUMNS} FROM ${presence.FROM} WHERE ${where} AND time >= ${ns(from)} AND time <= ${ns(to)} GROUP BY ${presence.device}`,
    ),
  ]);
  const intervals = new Map<string, number>();
  for (const r of [...before, ...within]) intervals.set(String(r.device), Number(r.interval_s) || 60);
  const rows: Row[] = [];
  for (const [device, list] of presenceRowsByDevice([...before, ...within])) {
    const intervalS = intervals.get(device) ?? 60;
    for (const t of seenTimes(list, intervalS, from, to)) rows.push({ time: new Date(t), device, interval_s: intervalS, seq: 0 });
  }
  return rows;
}
