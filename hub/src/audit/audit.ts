import { escape as influxEscape, type InfluxDB } from "influx";
import { encodePoint, type FieldValue } from "../influx/line-protocol.ts";
import { ARRIVAL_FIELDS } from "../ingest/arrivals.ts";
import {
  type AuditedKind,
  type ManifestEntry as Entry,
  KIND_LETTER,
  lineDigest,
  MEASUREMENT_OF,
  parseEntries,
  partHasher,
  partPreamble,
} from "../ingest/manifest.ts";
import { MEASUREMENTS } from "../schema/index.ts";
import { checkTrails, type TrailState } from "./trail.ts";

export { parseEntries };

/**
 * The audit of what sits in InfluxDB against what the hub verified when it stored it (the `batch_manifest` points,
 * hub/src/ingest/manifest.ts): every reading deleted, altered or added since, and each gateway's chain. Read-only.
 */

export const DAY_MS = 86_400_000;

/** The fields of each audited measurement in the order the ingest writes them (hub/src/ingest/reading-lines.ts). */
export const FIELD_ORDER: Readonly<Record<AuditedKind, readonly string[]>> = {
  rating: ["seq", "rx_ts", "key", "txn", "rated", "positive", "negative"],
  signin: ["seq", "rx_ts", "delay_s", "lat", "lon", "accuracy_m", "clock_offset_s", "time_suspect"],
  motion: ["seq", "rx_ts", "active", "snapshot_sha256"],
  // Written from readingToPoint, in the schema's order.
  item: MEASUREMENTS.item_event.fields,
  queue: MEASUREMENTS.queue_event.fields,
};
const AUDITED = Object.keys(KIND_LETTER) as AuditedKind[];

export type FindingKind = "deleted" | "altered" | "added" | "unverified";

export interface Finding {
  kind: FindingKind;
  measurement: string;
  device: string;
  /** The reading's own sequence number. */
  seq: number;
  /** The reading's time (ISO, ms). */
  time: string;
  /** The batch the hub stored it from (absent for an added reading). */
  gateway?: string;
  epoch?: string;
  batchSeq?: number;
}

export interface ChainState {
  gateway: string;
  epoch: string;
  /** Batches stored of this epoch. */
  batches: number;
  lastSeq: number;
  /** Seqs below lastSeq with no stored batch. */
  missing: number;
  /** Creation time of the newest stored batch (ISO). */
  lastCreatedAt: string;
}

export interface AuditReport {
  /** The whole UTC days audited (ISO). */
  from: string;
  to: string;
  /** Manifest parts checked and the readings they name. */
  parts: number;
  readings: number;
  /** Readings found in InfluxDB. */
  stored: number;
  findings: Finding[];
  chains: ChainState[];
  /** The hub's own trail of manual entries, decisions and warning handling (trail.ts), per book. */
  trails: TrailState[];
}

export interface DayProgress {
  day: string;
  index: number;
  days: number;
  parts: number;
  readings: number;
  findings: number;
}

export interface AuditOptions {
  influx: InfluxDB;
  database: string;
  fromMs: number;
  toMs: number;
  /** The hub's audit key; the manifests' digests are checked with it. */
  key?: Buffer;
  onDay?(progress: DayProgress): void;
  /**
   * The databases holding readings and their manifests (influx.regions: each region's and the central one); default
   * `influx` alone. The chains and the hub's trail are read from `influx` (the central database).
   */
  sites?: Array<{ influx: InfluxDB; database: string }>;
  /** Where a site's recorded points are (influx.regions); default `influx`. */
  siteDatabase?: (site: string) => { influx: InfluxDB; database: string };
}

interface Part {
  gateway: string;
  epoch: string;
  seq: number;
  hash: string;
  part: number;
  entries: string;
  digest: string;
}

interface StoredReading {
  /** The line as the ingest wrote it, rebuilt from the stored point; and without the arrival fields. */
  full: string;
  partial: string;
  device: string;
  seq: number;
}

/** InfluxDB's RFC 3339 time (nanoseconds, UTC) as decimal nanoseconds since 1970. */
export function rfc3339ToNs(text: string): string {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z$/.exec(text);
  if (!m) throw new Error(`InfluxDB answered a time ${JSON.stringify(text.slice(0, 40))} the audit cannot read`);
  return (BigInt(Date.parse(`${m[1]}Z`)) * 1_000_000n + BigInt((m[2] ?? "").padEnd(9, "0"))).toString();
}

const identity = (kind: string, device: string, ns: string) => `${kind}|${device}|${ns}`;
const KIND_OF_MEASUREMENT: ReadonlyMap<string, AuditedKind> = new Map(
  Object.entries(MEASUREMENT_OF).map(([kind, measurement]) => [measurement, kind as AuditedKind]),
);
const nsToIso = (ns: string) => new Date(Number(ns.length > 6 ? ns.slice(0, -6) : "0")).toISOString();

/** A stored point as the line the ingest wrote: tags sorted, fields in write order (unknown ones after, sorted). */
export function storedLine(
  kind: AuditedKind,
  tags: Record<string, string>,
  fields: Record<string, unknown>,
  ns: string,
  withoutArrival = false,
): string {
  const order = FIELD_ORDER[kind];
  const names = [
    ...order,
    ...Object.keys(fields)
      .filter((f) => !order.includes(f))
      .sort(),
  ];
  const out: Record<string, FieldValue> = {};
  for (const name of names) {
    const value = fields[name];
    if (value === null || value === undefined) continue;
    if (withoutArrival && (ARRIVAL_FIELDS as readonly string[]).includes(name)) continue;
    out[name] = value as FieldValue;
  }
  try {
    return encodePoint({ measurement: MEASUREMENT_OF[kind], tags, fields: out, timestamp: ns });
  } catch (e) {
    return `(unwritable: ${(e as Error).message})`;
  }
}

interface RawSeries {
  name: string;
  tags?: Record<string, string>;
  columns: string[];
  values: unknown[][];
}

async function series(influx: InfluxDB, database: string, query: string): Promise<RawSeries[]> {
  const raw = (await influx.queryRaw(query, { database })) as { results: Array<{ series?: RawSeries[]; error?: string }> };
  const result = raw.results[0];
  if (result?.error) throw new Error(`InfluxDB refused the audit query: ${result.error}`);
  return result?.series ?? [];
}

const timeRange = (fromNs: bigint, toNs: bigint) => `time >= ${fromNs} AND time < ${toNs}`;

/** Every stored reading of the audited measurements in [fromNs, toNs), by identity. */
async function storedReadings(opts: AuditOptions, fromNs: bigint, toNs: bigint): Promise<Map<string, StoredReading>> {
  const out = new Map<string, StoredReading>();
  for (const kind of AUDITED) {
    const measurement = MEASUREMENT_OF[kind] as keyof typeof MEASUREMENTS;
    const tagNames: ReadonlySet<string> = new Set<string>(MEASUREMENTS[measurement].tags);
    const query = `SELECT * FROM "raw"."${measurement}" WHERE ${timeRange(fromNs, toNs)} GROUP BY *`;
    for (const s of await series(opts.influx, opts.database, query)) {
      const tags = Object.fromEntries(Object.entries(s.tags ?? {}).filter(([, v]) => v !== ""));
      for (const row of s.values) {
        const fields: Record<string, unknown> = {};
        let ns = "";
        s.columns.forEach((column, i) => {
          if (column === "time") ns = rfc3339ToNs(String(row[i]));
          else if (!tagNames.has(column) || !(column in (s.tags ?? {}))) fields[column] = row[i];
        });
        const device = tags.device ?? "";
        out.set(identity(kind, device, ns), {
          full: storedLine(kind, tags, fields, ns),
          partial: storedLine(kind, tags, fields, ns, true),
          device,
          seq: typeof fields.seq === "number" ? fields.seq : Number.NaN,
        });
      }
    }
  }
  return out;
}

/** The manifest parts stored in [fromNs, toNs). */
async function manifestParts(opts: AuditOptions, fromNs: bigint, toNs: bigint): Promise<Part[]> {
  const parts: Part[] = [];
  const query = `SELECT "seq", "hash", "part", "entries", "digest" FROM "raw"."batch_manifest" WHERE ${timeRange(fromNs, toNs)} GROUP BY "gateway", "epoch"`;
  for (const s of await series(opts.influx, opts.database, query)) {
    const col = (name: string) => s.columns.indexOf(name);
    for (const row of s.values)
      parts.push({
        gateway: s.tags?.gateway ?? "",
        epoch: s.tags?.epoch ?? "",
        seq: Number(row[col("seq")]),
        hash: String(row[col("hash")] ?? ""),
        part: Number(row[col("part")]),
        entries: String(row[col("entries")] ?? ""),
        digest: String(row[col("digest")] ?? ""),
      });
  }
  return parts;
}

/** One UTC day: the manifests' readings against the stored points. */
async function auditDay(
  opts: AuditOptions,
  dayStartMs: number,
  report: AuditReport,
  /** Identities of points the hub's trail vouches for (checkTrails). */
  vouched: ReadonlySet<string>,
): Promise<{ parts: number; readings: number; findings: number }> {
  const fromNs = BigInt(dayStartMs) * 1_000_000n;
  const toNs = fromNs + BigInt(DAY_MS) * 1_000_000n;
  const [parts, stored] = [await manifestParts(opts, fromNs, toNs), await storedReadings(opts, fromNs, toNs)];
  const before = report.findings.length;
  const claimed = new Set<string>();
  let readings = 0;
  for (const part of parts) {
    let entries: Entry[];
    try {
      entries = parseEntries(part.entries);
    } catch {
      entries = [];
    }
    readings += entries.length;
    const lines: string[] = [];
    let intact = entries.length > 0;
    for (const entry of entries) {
      const key = identity(entry.kind, entry.device, entry.ns);
      claimed.add(key);
      const found = stored.get(key);
      const where = { measurement: entry.kind, device: entry.device, seq: entry.seq, time: nsToIso(entry.ns) };
      const batch = { gateway: part.gateway, epoch: part.epoch, batchSeq: part.seq };
      if (!found) {
        report.findings.push({ kind: "deleted", ...where, ...batch });
        intact = false;
        continue;
      }
      const line = entry.partial ? found.partial : found.full;
      // A reading stored again by a later batch may have taken that batch's receive time: its own entry vouches for it.
      if (lineDigest(line) !== entry.digest && lineDigest(found.partial) !== entry.digest && !vouchedElsewhere(parts, part, key, found)) {
        report.findings.push({ kind: "altered", ...where, ...batch });
        intact = false;
        continue;
      }
      lines.push(line);
    }
    if (intact || entries.length === 0) {
      const hasher = partHasher(opts.key).update(partPreamble({ gatewayId: part.gateway, ...part }));
      lines.forEach((line, i) => hasher.update(i === 0 ? line : `\n${line}`));
      if (hasher.digest("base64url") !== part.digest) {
        const first = entries[0];
        report.findings.push({
          kind: "unverified",
          measurement: first?.kind ?? "batch_manifest",
          device: first?.device ?? "",
          seq: first?.seq ?? 0,
          time: first ? nsToIso(first.ns) : new Date(dayStartMs).toISOString(),
          gateway: part.gateway,
          epoch: part.epoch,
          batchSeq: part.seq,
        });
      }
    }
  }
  for (const [key, found] of stored) {
    if (claimed.has(key) || vouched.has(key)) continue;
    const [measurement = "", , ns = ""] = key.split("|");
    report.findings.push({ kind: "added", measurement, device: found.device, seq: found.seq, time: nsToIso(ns) });
  }
  report.parts += parts.length;
  report.readings += readings;
  report.stored += stored.size;
  return { parts: parts.length, readings, findings: report.findings.length - before };
}

/** Whether another part's entry for the same reading matches what is stored (the reading arrived in two batches). */
function vouchedElsewhere(parts: Part[], self: Part, key: string, found: StoredReading): boolean {
  const digests = new Set([lineDigest(found.full), lineDigest(found.partial)]);
  for (const part of parts) {
    if (part === self || !part.entries.includes(key.split("|")[1] ?? "")) continue;
    for (const entry of safeEntries(part.entries))
      if (identity(entry.kind, entry.device, entry.ns) === key && digests.has(entry.digest)) return true;
  }
  return false;
}

function safeEntries(text: string): Entry[] {
  try {
    return parseEntries(text);
  } catch {
    return [];
  }
}

/** Each gateway's stored chain, per epoch: how many batches, the last seq, how many below it are missing. */
export async function chainStates(influx: InfluxDB, database: string, gateway?: string): Promise<ChainState[]> {
  const where = gateway === undefined ? "" : ` WHERE "gateway" = ${influxEscape.stringLit(gateway)}`;
  const rows = await series(
    influx,
    database,
    `SELECT count("seq") AS batches, max("seq") AS last, max("created_at") AS created FROM "chain"."batch_chain"${where} GROUP BY "gateway", "epoch"`,
  );
  return rows
    .map((s) => {
      const [, batches = 0, last = 0, created = 0] = (s.values[0] ?? []) as number[];
      return {
        gateway: s.tags?.gateway ?? "",
        epoch: s.tags?.epoch ?? "",
        batches,
        lastSeq: last,
        missing: Math.max(0, last - batches),
        lastCreatedAt: new Date(created).toISOString(),
      };
    })
    .sort((a, b) => a.gateway.localeCompare(b.gateway) || a.lastCreatedAt.localeCompare(b.lastCreatedAt));
}

/** Audits the whole UTC days from `fromMs` to `toMs` (inclusive of the day `toMs` falls in, unless it is a day's start). */
export async function runAudit(opts: AuditOptions): Promise<AuditReport> {
  const firstDay = Math.floor(opts.fromMs / DAY_MS) * DAY_MS;
  const endDay = Math.max(firstDay + DAY_MS, Math.ceil(opts.toMs / DAY_MS) * DAY_MS);
  const report: AuditReport = {
    from: new Date(firstDay).toISOString(),
    to: new Date(endDay).toISOString(),
    parts: 0,
    readings: 0,
    stored: 0,
    findings: [],
    chains: [],
    trails: [],
  };
  // Read first: a point the hub recorded itself in its trail (an approval system's item event posted to the API) is
  // in no gateway batch's manifest, and is not "added" when its trail entry vouches for it.
  const vouched = new Set<string>();
  report.trails = await checkTrails(opts.influx, opts.database, opts.key, opts.siteDatabase, (point) => {
    const kind = KIND_OF_MEASUREMENT.get(point.measurement);
    if (kind) vouched.add(identity(kind, point.tags.device ?? "", point.time));
  });
  const days = (endDay - firstDay) / DAY_MS;
  for (let index = 0; index < days; index++) {
    const dayStart = firstDay + index * DAY_MS;
    const done = { parts: 0, readings: 0, findings: 0 };
    for (const source of opts.sites ?? [opts]) {
      const one = await auditDay({ ...opts, influx: source.influx, database: source.database }, dayStart, report, vouched);
      done.parts += one.parts;
      done.readings += one.readings;
      done.findings += one.findings;
    }
    opts.onDay?.({ day: new Date(dayStart).toISOString().slice(0, 10), index: index + 1, days, ...done });
  }
  report.chains = await chainStates(opts.influx, opts.database);
  return report;
}
