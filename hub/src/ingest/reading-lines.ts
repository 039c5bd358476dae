import { type CheckedReading, LEVELS } from "@supervision/firmware-protocols";
import { isWritableTimestamp, UnwritablePointError } from "../influx/line-protocol.ts";
import { LineBytes, type LinePrefix } from "./line-bytes.ts";
import type { Registry } from "../registry/schema.ts";
import { encodePoint } from "../influx/line-protocol.ts";
import {
  CLOCK_AHEAD_SUSPECT_MS,
  isNegativeLevel,
  isPositiveLevel,
  presenceGapsText,
  presenceOfflineS,
  readingTimestampNs,
  readingToPoint,
} from "./points.ts";

/**
 * A checked reading straight to its line of line protocol: the line `encodePoint(readingToPoint(reading))` gives,
 * without the point objects in between (they cost the hub more per reading than parsing it; see README.md), written
 * part by part into `out`'s bytes (line-bytes.ts) between its begin() and end(). readingToPoint stays the readable
 * definition of each point (hub/SCHEMA.md); reading-lines.test.ts requires both to give the same line, or both to
 * refuse, for random readings and registries with names to escape. Tags are written in key order, fields in
 * readingToPoint's order. Throws UnwritablePointError (the caller aborts the line) where encodePoint would.
 */
export function writeReadingLine(out: LineBytes, r: CheckedReading, registry: Registry): void {
  // The timestamp is checked before anything is written; most are written straight from the numbers.
  const fast = r.ts > 0 && r.ts < 1e13 && Number.isSafeInteger(r.ts) && r.seq >= 0 && Number.isSafeInteger(r.seq);
  const timestamp = fast ? "" : readingTimestampNs(r.ts, r.seq);
  if (!fast && !isWritableTimestamp(timestamp))
    throw new UnwritablePointError(`point of "${r.kind}" has timestamp "${timestamp}": expected nanoseconds`);
  const device = registry.devices.get(r.deviceId);
  switch (r.kind) {
    case "rating": {
      const window = registry.windows.get(r.windowId);
      const site = window?.site ?? device?.site;
      const siteEntry = site === undefined ? undefined : registry.sites.get(site);
      const town = siteEntry?.town;
      const townEntry = town === undefined ? undefined : registry.towns.get(town);
      const prefix = ratingPrefix(registry, r, window, device, siteEntry, townEntry);
      if (prefix) out.prefix(prefix);
      else writeRatingTags(out, r, registry);
      const rated = r.outcome === "rated";
      out.text(" seq=");
      out.number(r.seq);
      out.text(",rx_ts=");
      out.number(r.rxTs);
      if (r.key !== undefined) {
        out.text(",key=");
        out.number(r.key);
      }
      out.text(",txn=");
      out.quoted(r.txnId ?? "");
      out.text(rated ? ",rated=1" : ",rated=0");
      out.text(rated && isPositiveLevel(r.level) ? ",positive=1" : ",positive=0");
      out.text(rated && isNegativeLevel(r.level) ? ",negative=1 " : ",negative=0 ");
      writeTimestamp(out, r, timestamp);
      return;
    }
    case "signin": {
      const person = registry.people.get(r.personId);
      const site = device?.site ?? person?.site;
      const town = site === undefined ? undefined : registry.sites.get(site)?.town;
      const location = r.location;
      out.text("signin");
      out.tag(",device=", r.deviceId);
      out.tag(",direction=", r.direction);
      out.tag(",method=", r.method);
      out.tag(",person=", r.personId);
      out.tag(",region=", regionOf(registry, town));
      out.tag(",role=", person?.role);
      out.tag(",site=", site);
      out.tag(",site_kind=", site === undefined ? undefined : registry.sites.get(site)?.kind);
      out.tag(",town=", town);
      out.tag(",window=", person?.window);
      out.text(" seq=");
      out.number(r.seq);
      out.text(",rx_ts=");
      out.number(r.rxTs);
      out.text(",delay_s=");
      out.number(Math.round((r.rxTs - r.ts) / 1000));
      if (location !== undefined) {
        out.text(",lat=");
        out.number(location.lat);
        out.text(",lon=");
        out.number(location.lon);
        if (location.accuracyM !== undefined) {
          out.text(",accuracy_m=");
          out.number(location.accuracyM);
        }
      }
      if (r.clockOffsetS !== undefined) {
        out.text(",clock_offset_s=");
        out.number(r.clockOffsetS);
      }
      const suspect = r.ts - r.rxTs > CLOCK_AHEAD_SUSPECT_MS || Math.abs(r.clockOffsetS ?? 0) * 1000 > CLOCK_AHEAD_SUSPECT_MS;
      out.text(suspect ? ",time_suspect=true " : ",time_suspect=false ");
      writeTimestamp(out, r, timestamp);
      return;
    }
    case "motion": {
      const window = device?.window ?? registry.devices.get(r.cameraId)?.window;
      const site = device?.site ?? (window ? registry.windows.get(window)?.site : undefined);
      const town = site === undefined ? undefined : registry.sites.get(site)?.town;
      out.text("motion");
      out.tag(",camera=", r.cameraId);
      out.tag(",device=", r.deviceId);
      out.tag(",region=", regionOf(registry, town));
      out.tag(",site=", site);
      out.tag(",source=", r.source);
      out.tag(",state=", r.state);
      out.tag(",town=", town);
      out.tag(",window=", window);
      out.text(" seq=");
      out.number(r.seq);
      out.text(",rx_ts=");
      out.number(r.rxTs);
      out.text(r.state === "start" ? ",active=1" : ",active=0");
      if (r.snapshotSha256 !== undefined) {
        out.text(",snapshot_sha256=");
        out.quoted(r.snapshotSha256);
      }
      out.text(" ");
      writeTimestamp(out, r, timestamp);
      return;
    }
    case "heartbeat": {
      const siteEntry = device?.site === undefined ? undefined : registry.sites.get(device.site);
      const prefix = cachedPrefix(
        registry,
        "heartbeat",
        r.deviceId,
        "",
        "",
        0,
        device,
        siteEntry,
        undefined,
        undefined,
        writeHeartbeatTags,
        r,
      );
      if (prefix) out.prefix(prefix);
      else writeHeartbeatTags(out, r, registry);
      out.text(" seq=");
      out.number(r.seq);
      out.text(",uptime_s=");
      out.number(r.uptimeS);
      out.text(",interval_s=");
      out.number(r.intervalS);
      if (r.rssi !== undefined) {
        out.text(",rssi=");
        out.number(r.rssi);
      }
      if (r.pending !== undefined) {
        out.text(",pending=");
        out.number(r.pending);
      }
      if (r.fw !== undefined) {
        out.text(",fw=");
        out.quoted(r.fw);
      }
      out.text(" ");
      writeTimestamp(out, r, timestamp);
      return;
    }
    case "presence": {
      const summary = r.type === "summary";
      const online = (summary ? r.state === "online" : r.type === "online") ? 1 : 0;
      out.text("presence");
      out.tag(",device=", r.deviceId);
      out.tag(",device_kind=", device?.kind);
      out.tag(",site=", device?.site);
      out.text(",type=");
      out.text(r.type);
      out.text(" seq=");
      out.number(r.seq);
      out.text(",interval_s=");
      out.number(r.intervalS);
      out.text(online ? ",online=1" : ",online=0");
      if (r.lastSeenTs !== undefined) {
        out.text(",last_seen=");
        out.number(r.lastSeenTs);
      }
      if (r.firstSeenTs !== undefined) {
        out.text(",first_seen=");
        out.number(r.firstSeenTs);
      }
      if (summary) {
        out.text(",period_from=");
        out.number(r.fromTs ?? 0);
        out.text(",count=");
        out.number(r.count ?? 0);
        out.text(",gaps=");
        out.quoted(presenceGapsText(r.gaps ?? []));
        out.text(",offline_s=");
        out.number(presenceOfflineS(r.gaps ?? []));
      }
      out.text(" ");
      writeTimestamp(out, r, timestamp);
      return;
    }
    case "item":
    case "queue": {
      // Few per hall and day: the readable point is fast enough.
      const point = readingToPoint(r, registry);
      if ("error" in point) throw new UnwritablePointError(point.error.message);
      out.text(encodePoint(point));
      return;
    }
  }
}

/** A reading's line as text (dead letters, tests): writeReadingLine into a scratch writer. */
export function readingLine(r: CheckedReading, registry: Registry): string {
  scratch.clear();
  scratch.begin();
  writeReadingLine(scratch, r, registry);
  scratch.end();
  return scratch.lastText();
}
const scratch = new LineBytes();

/** The point's timestamp: `timestamp` when it was made as text, else the ms digits and seq's last six. */
function writeTimestamp(out: LineBytes, r: CheckedReading, timestamp: string): void {
  if (timestamp !== "") return out.text(timestamp);
  out.number(r.ts);
  out.digits(r.seq % 1_000_000, 6);
}

function writeRatingTags(out: LineBytes, r: CheckedReading & { kind: "rating" }, registry: Registry): void {
  const window = registry.windows.get(r.windowId);
  const site = window?.site ?? registry.devices.get(r.deviceId)?.site;
  const town = site === undefined ? undefined : registry.sites.get(site)?.town;
  out.text("rating");
  out.tag(",clerk=", r.clerkId);
  out.tag(",department=", window?.department);
  out.tag(",device=", r.deviceId);
  out.tag(",level=", r.level);
  out.tag(",outcome=", r.outcome);
  out.tag(",region=", regionOf(registry, town));
  out.tag(",scale=", r.scale);
  out.tag(",site=", site);
  out.tag(",town=", town);
  out.tag(",window=", r.windowId);
}

function writeHeartbeatTags(out: LineBytes, r: CheckedReading & { kind: "heartbeat" }, registry: Registry): void {
  const device = registry.devices.get(r.deviceId);
  out.text("heartbeat");
  out.tag(",device=", r.deviceId);
  out.tag(",device_kind=", device?.kind);
  out.tag(",site=", device?.site);
}

/**
 * Measurement and tags of the frequent lines (ratings, heartbeats), kept per registry and per what they are made of:
 * writing a line's dozen escaped tags was most of its cost, and a hall has few distinct sets. An entry is used only
 * while the registry entries it was made from (window, device, site, town) are the same objects, so a registry
 * entry replaced makes new tags at once (a registry reload is a new registry). At most MAX_PREFIXES per registry
 * (then all are forgotten), so a gateway sending endless made-up ids cannot grow the hub.
 */
interface CachedPrefix {
  prefix: LinePrefix | undefined;
  a: unknown;
  b: unknown;
  c: unknown;
  d: unknown;
}
type PrefixTree = Map<string, Map<string, Map<string, Array<CachedPrefix | undefined>>>>;
const MAX_PREFIXES = 50_000;
const prefixCaches = new WeakMap<Registry, { size: number; rating: PrefixTree; heartbeat: PrefixTree }>();

/** A set of enum values of a rating (level or none, outcome, scale) as one small number. */
const LEVEL_INDEX: ReadonlyMap<string | undefined, number> = new Map([undefined, ...LEVELS].map((level, i) => [level, i]));
const OUTCOME_INDEX: ReadonlyMap<string, number> = new Map(["rated", "timeout", "unsolicited"].map((o, i) => [o, i]));
const SCALE_INDEX: ReadonlyMap<string, number> = new Map(["four", "five"].map((s, i) => [s, i]));

function ratingPrefix(
  registry: Registry,
  r: CheckedReading & { kind: "rating" },
  window: unknown,
  device: unknown,
  site: unknown,
  town: unknown,
) {
  const level = LEVEL_INDEX.get(r.level);
  const outcome = OUTCOME_INDEX.get(r.outcome);
  const scale = SCALE_INDEX.get(r.scale);
  if (level === undefined || outcome === undefined || scale === undefined) return undefined;
  const index = (level * 3 + outcome) * 2 + scale;
  return cachedPrefix(registry, "rating", r.deviceId, r.windowId, r.clerkId ?? "", index, window, device, site, town, writeRatingTags, r);
}

function cachedPrefix<R>(
  registry: Registry,
  kind: "rating" | "heartbeat",
  k1: string,
  k2: string,
  k3: string,
  index: number,
  a: unknown,
  b: unknown,
  c: unknown,
  d: unknown,
  write: (out: LineBytes, r: R, registry: Registry) => void,
  r: R,
): LinePrefix | undefined {
  let cache = prefixCaches.get(registry);
  if (!cache || cache.size >= MAX_PREFIXES) prefixCaches.set(registry, (cache = { size: 0, rating: new Map(), heartbeat: new Map() }));
  const tree = cache[kind];
  let byK2 = tree.get(k1);
  if (!byK2) tree.set(k1, (byK2 = new Map()));
  let byK3 = byK2.get(k2);
  if (!byK3) byK2.set(k2, (byK3 = new Map()));
  let slots = byK3.get(k3);
  if (!slots) byK3.set(k3, (slots = []));
  const found = slots[index];
  if (found && found.a === a && found.b === b && found.c === c && found.d === d) return found.prefix;
  let prefix: LinePrefix | undefined;
  try {
    prefix = LineBytes.prefixOf((out) => write(out, r, registry));
  } catch {
    prefix = undefined; // unwritable: written (and refused) the long way, every time
  }
  if (!found) cache.size++;
  slots[index] = { prefix, a, b, c, d };
  return prefix;
}

function regionOf(registry: Registry, town: string | undefined): string | undefined {
  return town === undefined ? undefined : registry.towns.get(town)?.region;
}
