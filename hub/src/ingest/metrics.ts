import { Counter, Gauge, Histogram } from "prom-client";
import type { HubContext } from "../controller/extension.ts";
import { deadLetterCounter } from "../influx/isolating-write.ts";

/** The ingest's Prometheus metrics, registered once per metrics registry (a restarted extension reuses them). */
export function registerIngestMetrics(ctx: HubContext) {
  const registers = [ctx.metrics];
  const existing = <T>(name: string) => ctx.metrics.getSingleMetric(name) as T | undefined;
  return {
    batches:
      existing<Counter<"result">>("hub_ingest_batches_total") ??
      new Counter({
        name: "hub_ingest_batches_total",
        help: "Gateway batches by result (stored, replay, or a rejection code)",
        labelNames: ["result"],
        registers,
      }),
    readings:
      existing<Counter>("hub_ingest_readings_total") ??
      new Counter({ name: "hub_ingest_readings_total", help: "Readings stored in InfluxDB", registers }),
    writtenPoints:
      existing<Counter>("hub_ingest_points_written_total") ??
      new Counter({ name: "hub_ingest_points_written_total", help: "Points written to InfluxDB", registers }),
    alerts:
      existing<Counter<"kind">>("hub_ingest_integrity_alerts_total") ??
      new Counter({ name: "hub_ingest_integrity_alerts_total", help: "Integrity alerts raised", labelNames: ["kind"], registers }),
    writeSeconds:
      existing<Histogram>("hub_ingest_write_seconds") ??
      new Histogram({
        name: "hub_ingest_write_seconds",
        help: "InfluxDB write latency",
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
        registers,
      }),
    deadLetters: deadLetterCounter(ctx.metrics),
    influxUp:
      existing<Gauge>("hub_ingest_influx_up") ??
      new Gauge({ name: "hub_ingest_influx_up", help: "1 while InfluxDB accepts writes", registers }),
  };
}
export type IngestMetrics = ReturnType<typeof registerIngestMetrics>;

/** What status() reports: counts since start and each gateway's last contact. */
export class IngestCounters {
  batchesStored = 0;
  /** Stored batches by uplink envelope version (PROTOCOL.md 4.2): which gateways send rows yet. */
  readonly batchesByEnvelope: Record<string, number> = {};
  readingsStored = 0;
  replays = 0;
  writes = 0;
  lastWriteMs = 0;
  /** Rejected batches (and ignored status messages) by code. */
  readonly rejectedByCode: Record<string, number> = {};
  /** Points InfluxDB can never store, by reason (they are dead letters). */
  readonly deadLettersByReason: Record<string, number> = {};
  readonly lastContact = new Map<string, number>();
  /** Rejections so far: each one's alert gets a timestamp of its own. */
  private rejections = 0;

  countRejection(code: string): void {
    this.rejectedByCode[code] = (this.rejectedByCode[code] ?? 0) + 1;
  }

  nextRejection(): number {
    return this.rejections++;
  }
}
