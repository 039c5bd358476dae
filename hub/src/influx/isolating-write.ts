import type { InfluxDB, IPoint } from "influx";
import type { Logger } from "pino";
import { Counter, type Registry as MetricsRegistry } from "prom-client";
import { classifyRefusal, type DeadLetter, deadLetterPoint, isPointRefusal, type WriteContext } from "./dead-letters.ts";
import { encodePoint, type FieldValue } from "./line-protocol.ts";

export interface IsolatingWriteOptions {
  retentionPolicy: string;
  context: WriteContext;
  logger: Logger;
  /** Where `hub_ingest_dead_letters_total{reason,source}` is counted. */
  metrics?: MetricsRegistry;
  now?: () => number;
}

/** The HTTP status of an error the `influx` package threw for an answer of InfluxDB (RequestError), if any. */
function refusalStatus(e: unknown): number | undefined {
  const status = (e as { res?: { statusCode?: unknown } } | undefined)?.res?.statusCode;
  return typeof status === "number" && isPointRefusal(status) ? status : undefined;
}

/** The line a point would be (for the dead-letter record); a point that cannot even be encoded is shown as JSON. */
function asLine(point: IPoint): string {
  try {
    const ts = point.timestamp;
    const timestamp = ts instanceof Date ? `${ts.getTime()}000000` : String(ts ?? "0");
    const tags = Object.fromEntries(Object.entries(point.tags ?? {}).filter(([, v]) => v !== ""));
    return encodePoint({
      measurement: point.measurement ?? "",
      tags,
      fields: (point.fields ?? {}) as Record<string, FieldValue>,
      timestamp,
    });
  } catch {
    return JSON.stringify(point).slice(0, 16_000);
  }
}

export function deadLetterCounter(metrics: MetricsRegistry): Counter<"reason" | "source"> {
  return (
    (metrics.getSingleMetric("hub_ingest_dead_letters_total") as Counter<"reason" | "source"> | undefined) ??
    new Counter({
      name: "hub_ingest_dead_letters_total",
      help: "Points InfluxDB can never store (beyond retention, field type conflict, ...), kept as dead_letter points",
      labelNames: ["reason", "source"],
      registers: [metrics],
    })
  );
}

/**
 * `influx.writePoints` (precision ns) for the hub's own derived points (the rules): a write InfluxDB refuses for
 * what some points hold (400/413) is split until they are alone; those are kept as `dead_letter` points and the
 * rest is stored, so one point never stops a whole run. An unavailable InfluxDB still throws (the caller retries).
 */
export async function writePointsIsolating(influx: InfluxDB, points: IPoint[], opts: IsolatingWriteOptions): Promise<DeadLetter[]> {
  const letters: DeadLetter[] = [];
  const write = (batch: IPoint[]) => influx.writePoints(batch, { retentionPolicy: opts.retentionPolicy, precision: "n" });
  const attempt = async (batch: IPoint[]): Promise<void> => {
    try {
      await write(batch);
    } catch (e) {
      const status = refusalStatus(e);
      if (status === undefined) throw e;
      if (batch.length === 1) {
        const message = (e as Error).message;
        letters.push({
          policy: opts.retentionPolicy,
          line: asLine(batch[0] as IPoint),
          reason: classifyRefusal(status, message),
          detail: message,
          context: opts.context,
        });
        return;
      }
      const half = Math.ceil(batch.length / 2);
      await attempt(batch.slice(0, half));
      await attempt(batch.slice(half));
    }
  };
  if (points.length > 0) await attempt(points);
  if (letters.length === 0) return letters;
  const now = (opts.now ?? Date.now)();
  await influx.writePoints(
    letters.map((l) => deadLetterPoint(l, now)),
    { retentionPolicy: "raw", precision: "n" },
  );
  const counter = opts.metrics ? deadLetterCounter(opts.metrics) : undefined;
  for (const letter of letters) {
    counter?.inc({ reason: letter.reason, source: letter.context.source });
    opts.logger.warn(
      { reason: letter.reason, source: letter.context.source, detail: letter.detail.slice(0, 200) },
      "point can never be stored; kept as a dead letter",
    );
  }
  return letters;
}
