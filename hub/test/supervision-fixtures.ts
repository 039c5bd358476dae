/** One way for the supervision tests to give the rules a hub context, run them, and load readings. */
import { EventEmitter } from "node:events";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Reading } from "@supervision/firmware-protocols";
import type { InfluxDB, IPoint } from "influx";
import pino from "pino";
import { Registry as MetricsRegistry } from "prom-client";
import type { HubContext, HubEvents, HubExtension, HttpRequest, HttpResponse } from "../src/controller/extension.ts";
import { readingToPoint, retentionPolicyFor } from "../src/ingest/points.ts";
import type { Registry } from "../src/registry/schema.ts";
import { createSupervisionExtension, SupervisionSettings } from "../src/supervision/index.ts";

export type Routes = Map<string, (req: HttpRequest) => Promise<HttpResponse>>;

export interface RulesOptions {
  influx: InfluxDB;
  registry: Registry;
  /** The hub's clock for this run, UTC ms. */
  now: number;
  routes?: Routes;
  events?: EventEmitter<HubEvents>;
  metrics?: MetricsRegistry;
  dataDir?: string;
}

/** A hub context with a fixed clock; the extension's HTTP routes land in `routes`. */
export function rulesContext(o: RulesOptions): HubContext {
  const routes = o.routes ?? new Map();
  return {
    logger: pino({ level: "silent" }),
    influx: o.influx,
    writeLines: () => Promise.reject(new Error("the rules write through the influx client")),
    database: "supervision",
    registry: { current: () => o.registry, onChange: () => () => {} },
    metrics: o.metrics ?? new MetricsRegistry(),
    http: { add: (method, path, handler) => routes.set(`${method} ${path}`, handler) },
    events: o.events ?? new EventEmitter<HubEvents>(),
    now: () => o.now,
    // A folder of its own: the notification outbox lives there, and two runs of the suite must not share it.
    dataDir: o.dataDir ?? mkdtempSync(join(tmpdir(), "supervision-test-")),
  };
}

/** Calls the extension's "run now" route, as `hub` does on its interval. */
export function runNow(routes: Routes): Promise<HttpResponse> {
  return routes.get("POST /api/supervision/run")!({ params: {}, query: new URLSearchParams(), body: undefined });
}

/**
 * Starts a fresh extension (as a restarted hub would), runs the rules `times` times at `now`, stops it, and
 * fails the test when a run failed.
 */
export async function judge(o: RulesOptions & { settings?: SupervisionSettings; times?: number }): Promise<HubExtension> {
  const routes: Routes = o.routes ?? new Map();
  const extension = createSupervisionExtension(o.settings ?? SupervisionSettings.parse({ intervalMs: 3_600_000 }));
  await extension.start(rulesContext({ ...o, routes }));
  try {
    for (let i = 0; i < (o.times ?? 1); i++) await runNow(routes);
  } finally {
    await extension.stop();
  }
  const error = extension.status().error;
  if (error) throw new Error(`supervision run failed: ${String(error)}`);
  return extension;
}

/** Writes readings the way the hub's ingest does: its point mapping, into each measurement's retention policy. */
export async function writeReadings(influx: InfluxDB, registry: Registry, readings: Reading[]): Promise<void> {
  const byPolicy = new Map<string, IPoint[]>();
  for (const reading of readings) {
    const point = readingToPoint(reading, registry);
    if ("error" in point) throw new Error(point.error.message);
    const policy = retentionPolicyFor(point.measurement ?? "");
    byPolicy.set(policy, [...(byPolicy.get(policy) ?? []), point]);
  }
  for (const [retentionPolicy, points] of byPolicy)
    for (let i = 0; i < points.length; i += 5000) await influx.writePoints(points.slice(i, i + 5000), { retentionPolicy, precision: "n" });
}
