import type { CheckedReading } from "@supervision/firmware-protocols";
import { escapeTagValue, integerText, isWritableTimestamp, quoteFieldValue, UnwritablePointError } from "../influx/line-protocol.ts";
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
 * without the point objects in between (they cost the hub more per reading than parsing it; see README.md).
 * readingToPoint stays the readable definition of each point (hub/SCHEMA.md); reading-lines.test.ts requires
 * both to give the same line, or both to refuse, for random readings and registries with names to escape.
 * Tags are written in key order, fields in readingToPoint's order.
 */
export function readingLine(r: CheckedReading, registry: Registry): string {
  const timestamp = readingTimestampNs(r.ts, r.seq);
  if (!isWritableTimestamp(timestamp))
    throw new UnwritablePointError(`point of "${r.kind}" has timestamp "${timestamp}": expected nanoseconds`);
  const device = registry.devices.get(r.deviceId);
  switch (r.kind) {
    case "rating": {
      const window = registry.windows.get(r.windowId);
      const site = window?.site ?? device?.site;
      const town = site === undefined ? undefined : registry.sites.get(site)?.town;
      const rated = r.outcome === "rated";
      return (
        `rating${tag(",clerk=", r.clerkId)}${tag(",department=", window?.department)}${tag(",device=", r.deviceId)}` +
        `${tag(",level=", r.level)}${tag(",outcome=", r.outcome)}${tag(",region=", regionOf(registry, town))}` +
        `${tag(",scale=", r.scale)}${tag(",site=", site)}${tag(",town=", town)}${tag(",window=", r.windowId)}` +
        ` seq=${r.seq},rx_ts=${integerText(r.rxTs)}${r.key === undefined ? "" : `,key=${r.key}`},txn=${quoteFieldValue(r.txnId ?? "")}` +
        `,rated=${rated ? 1 : 0},positive=${rated && isPositiveLevel(r.level) ? 1 : 0},negative=${rated && isNegativeLevel(r.level) ? 1 : 0}` +
        ` ${timestamp}`
      );
    }
    case "signin": {
      const person = registry.people.get(r.personId);
      const site = device?.site ?? person?.site;
      const town = site === undefined ? undefined : registry.sites.get(site)?.town;
      const location = r.location;
      return (
        `signin${tag(",device=", r.deviceId)}${tag(",direction=", r.direction)}${tag(",method=", r.method)}` +
        `${tag(",person=", r.personId)}${tag(",region=", regionOf(registry, town))}${tag(",role=", person?.role)}` +
        `${tag(",site=", site)}${tag(",site_kind=", site === undefined ? undefined : registry.sites.get(site)?.kind)}` +
        `${tag(",town=", town)}${tag(",window=", person?.window)}` +
        ` seq=${r.seq},rx_ts=${integerText(r.rxTs)},delay_s=${Math.round((r.rxTs - r.ts) / 1000)}` +
        (location === undefined
          ? ""
          : `,lat=${location.lat},lon=${location.lon}${location.accuracyM === undefined ? "" : `,accuracy_m=${location.accuracyM}`}`) +
        (r.clockOffsetS === undefined ? "" : `,clock_offset_s=${r.clockOffsetS}`) +
        `,time_suspect=${r.ts - r.rxTs > CLOCK_AHEAD_SUSPECT_MS || Math.abs(r.clockOffsetS ?? 0) * 1000 > CLOCK_AHEAD_SUSPECT_MS} ${timestamp}`
      );
    }
    case "motion": {
      const window = device?.window ?? registry.devices.get(r.cameraId)?.window;
      const site = device?.site ?? (window ? registry.windows.get(window)?.site : undefined);
      const town = site === undefined ? undefined : registry.sites.get(site)?.town;
      return (
        `motion${tag(",camera=", r.cameraId)}${tag(",device=", r.deviceId)}${tag(",region=", regionOf(registry, town))}` +
        `${tag(",site=", site)}${tag(",source=", r.source)}${tag(",state=", r.state)}${tag(",town=", town)}${tag(",window=", window)}` +
        ` seq=${r.seq},rx_ts=${integerText(r.rxTs)},active=${r.state === "start" ? 1 : 0}` +
        `${r.snapshotSha256 === undefined ? "" : `,snapshot_sha256=${quoteFieldValue(r.snapshotSha256)}`} ${timestamp}`
      );
    }
    case "heartbeat":
      return (
        `heartbeat${tag(",device=", r.deviceId)}${tag(",device_kind=", device?.kind)}${tag(",site=", device?.site)}` +
        ` seq=${r.seq},uptime_s=${r.uptimeS},interval_s=${r.intervalS}${r.rssi === undefined ? "" : `,rssi=${r.rssi}`}` +
        `${r.pending === undefined ? "" : `,pending=${r.pending}`}${r.fw === undefined ? "" : `,fw=${quoteFieldValue(r.fw)}`} ${timestamp}`
      );
    case "presence": {
      const summary = r.type === "summary";
      const online = (summary ? r.state === "online" : r.type === "online") ? 1 : 0;
      return (
        `presence${tag(",device=", r.deviceId)}${tag(",device_kind=", device?.kind)}${tag(",site=", device?.site)},type=${r.type}` +
        ` seq=${r.seq},interval_s=${r.intervalS},online=${online}` +
        `${r.lastSeenTs === undefined ? "" : `,last_seen=${integerText(r.lastSeenTs)}`}` +
        `${r.firstSeenTs === undefined ? "" : `,first_seen=${integerText(r.firstSeenTs)}`}` +
        (summary
          ? `,period_from=${integerText(r.fromTs ?? 0)},count=${r.count ?? 0},gaps=${quoteFieldValue(presenceGapsText(r.gaps ?? []))},offline_s=${presenceOfflineS(r.gaps ?? [])}`
          : "") +
        ` ${timestamp}`
      );
    }
    case "item":
    case "queue": {
      // Few per hall and day: the readable point is fast enough.
      const point = readingToPoint(r, registry);
      if ("error" in point) throw new UnwritablePointError(point.error.message);
      return encodePoint(point);
    }
  }
}

/** `,key=value` escaped, or nothing for an absent or empty value (as encodePoint leaves those out). */
function tag(prefix: string, value: string | undefined): string {
  return value === undefined || value === "" ? "" : prefix + escapeTagValue(value);
}

function regionOf(registry: Registry, town: string | undefined): string | undefined {
  return town === undefined ? undefined : registry.towns.get(town)?.region;
}
