import type { BatchAck } from "@supervision/firmware-protocols";
import type { HubContext } from "../controller/extension.ts";
import type { ReadingMemory, Recent } from "./arrivals.ts";
import type { ChainStore } from "./chain.ts";
import type { IngestCounters, IngestMetrics } from "./metrics.ts";
import { integrityAlertPoint, retentionPolicyFor } from "./points.ts";
import { encodePoint, type Point } from "../influx/line-protocol.ts";
import type { IngestWriter } from "./regional-writer.ts";
import { LineGroups, sleep, WriterStoppedError } from "./writer.ts";

/** What the ingest's handlers share while it runs: the hub's context and the parts started with the extension. */
export interface IngestRuntime {
  ctx: HubContext;
  writer: IngestWriter;
  chain: ChainStore;
  metrics: IngestMetrics;
  counters: IngestCounters;
  publishAck(ack: BatchAck): void;
  stopping(): boolean;
  /** Batches this process stored whole, by gateway/epoch/seq → hash (arrivals.ts). */
  storedBatches: Recent<string>;
  /** Readings this process stored, by identity: a later arrival keeps the first one's receive time. */
  seenReadings: ReadingMemory;
  /** The key of the batch manifests' digests (`hub audit`); without one they are plain SHA-256. */
  auditKey?: Buffer;
}

export type AlertInput = Parameters<typeof integrityAlertPoint>[0];

/** Encodes a point into its policy's lines; throws UnwritablePointError for a point line protocol cannot carry. */
export function addPoint(groups: LineGroups, point: Point): void {
  groups.add(retentionPolicyFor(point.measurement), encodePoint(point));
}

/** Stores an alert (retrying like any write); alerts never block or fail the message that raised them. */
export function storeAlert(rt: IngestRuntime, alert: AlertInput): Promise<void> {
  rt.ctx.logger.warn(
    { gateway: alert.gatewayId, kind: alert.kind, epoch: alert.epoch, seq: alert.seq, detail: alert.detail },
    "integrity alert",
  );
  rt.metrics.alerts.inc({ kind: alert.kind });
  const groups = new LineGroups({ source: "alert", gatewayId: alert.gatewayId, epoch: alert.epoch, seq: alert.seq });
  addPoint(groups, integrityAlertPoint(alert));
  return rt.writer.write(groups).then(() => undefined);
}

/** Retries a chain query while InfluxDB is unreachable: no batch is judged without its chain. */
export async function withRetry<T>(rt: IngestRuntime, what: string, fn: () => Promise<T>): Promise<T> {
  let backoffMs = 100;
  for (;;) {
    try {
      const result = await fn();
      rt.writer.setInfluxState(true);
      return result;
    } catch (e) {
      if (rt.stopping()) throw new WriterStoppedError();
      rt.writer.setInfluxState(false);
      rt.ctx.logger.warn({ err: (e as Error).message, retryInMs: backoffMs }, `influxdb ${what} failed; will retry`);
      await sleep(backoffMs);
      backoffMs = Math.min(backoffMs * 2, 5_000);
    }
  }
}
