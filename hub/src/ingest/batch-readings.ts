import type { ReceivedBody } from "@supervision/firmware-protocols";
import type { Logger } from "pino";
import type { Registry } from "../registry/schema.ts";
import type { BatchHeader } from "./chain-check.ts";
import { type IntegrityKind, readingToPoint } from "./points.ts";
import { addPoint } from "./runtime.ts";
import { LineGroups } from "./writer.ts";

export interface EncodedBatch {
  /** All that is kept of the body. */
  header: BatchHeader;
  /** The stored readings' lines by policy, compacted. */
  groups: LineGroups;
  /** Readings refused alone (their batch is stored without them). */
  malformed: number;
  /** Integrity alerts the readings raise, by kind, with their detail. */
  alerts: Array<[IntegrityKind, string]>;
}

/**
 * A batch's readings as lines by policy, with the alerts its readings raise; the header is all that is kept of the
 * body. Each reading is checked alone: a bad one is refused and counted, never its batch.
 */
export function encodeBatch(body: ReceivedBody, registry: Registry, logger: Logger): EncodedBatch {
  const { readings, ...rest } = body;
  const header: BatchHeader = { ...rest, readings: readings.length };
  const groups = new LineGroups({
    source: "batch",
    gatewayId: header.gatewayId,
    epoch: header.epoch,
    seq: header.seq,
    createdAt: header.createdAt,
  });
  const unknownDevices = new Set<string>();
  let malformed = 0;
  for (const reading of readings) {
    const point = readingToPoint(reading, registry);
    try {
      if ("error" in point) throw new Error(point.error.message);
      addPoint(groups, point);
    } catch (e) {
      malformed++;
      logger.warn({ gateway: header.gatewayId, err: (e as Error).message }, "reading not stored");
      continue;
    }
    const device = point.tags?.device;
    if (device !== undefined && !registry.devices.has(device)) unknownDevices.add(device);
  }
  const alerts: Array<[IntegrityKind, string]> = [];
  if (unknownDevices.size > 0)
    alerts.push(["unknown_device", `readings of devices not in the registry: ${[...unknownDevices].join(", ")}`]);
  if (malformed > 0) alerts.push(["malformed", `${malformed} of ${readings.length} readings are malformed and were not stored`]);
  return { header, groups: groups.compact(), malformed, alerts };
}
