/**
 * Failures are visible: a run against an InfluxDB that does not answer shows in status and on /metrics, and the
 * next run that succeeds clears it.
 */
import { EventEmitter } from "node:events";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, startInfluxd } from "@supervision/test-support";
import { InfluxDB } from "influx";
import pino from "pino";
import { Registry as MetricsRegistry } from "prom-client";
import { describe, expect, it } from "vitest";
import type { HttpRequest, HttpResponse, HubContext, HubEvents } from "../src/controller/extension.ts";
import { ensureDatabase } from "../src/influx/setup.ts";
import type { Registry } from "../src/registry/schema.ts";
import { createSupervisionExtension, SupervisionSettings } from "../src/supervision/index.ts";

const registry = {
  version: 1,
  regions: new Map(),
  towns: new Map([["riverside", { id: "riverside", name: "Riverside", region: "east" }]]),
  departments: new Map(),
  sites: new Map([["hall-1", { id: "hall-1", kind: "hall", name: "Hall", town: "riverside", tz: "Asia/Shanghai", gateway: "gw-1" }]]),
  windows: new Map(),
  people: new Map([["c1", { id: "c1", name: "Li Na", role: "clerk", post: "Tax clerk", site: "hall-1", roster: "office" }]]),
  rosters: new Map([
    [
      "office",
      {
        id: "office",
        shifts: [{ start: "09:00", end: "17:00" }],
        workingDays: ["mon", "tue", "wed", "thu", "fri"],
        graceMinutes: 5,
        absentAfterMinutes: 60,
        holidays: [],
        workdays: [],
        exceptions: [],
      },
    ],
  ]),
  gateways: new Map(),
  devices: new Map(),
} as Registry;

describe("supervision health", () => {
  it("shows a failed run in status and metrics, and clears it after a good one", async () => {
    const metrics = new MetricsRegistry();
    const routes = new Map<string, (req: HttpRequest) => Promise<HttpResponse>>();
    const now = Date.parse("2026-11-18T10:00:00Z");
    const context = (influx: InfluxDB): HubContext => ({
      logger: pino({ level: "silent" }),
      influx,
      writeLines: () => Promise.reject(new Error("supervision writes through the influx client")),
      database: "supervision",
      registry: { current: () => registry, onChange: () => () => {} },
      metrics,
      http: { add: (method, path, handler) => routes.set(`${method} ${path}`, handler) },
      events: new EventEmitter<HubEvents>(),
      now: () => now,
      dataDir: mkdtempSync(join(tmpdir(), "supervision-metrics-")),
    });
    const run = () => routes.get("POST /api/supervision/run")!({ params: {}, query: new URLSearchParams(), body: undefined });
    const value = async (name: string) => (await metrics.getSingleMetric(name)!.get()).values;

    const nobody = createSupervisionExtension(SupervisionSettings.parse({ intervalMs: 3_600_000 }));
    await nobody.start(context(new InfluxDB({ host: "127.0.0.1", port: await freePort(), database: "supervision" })));
    await run();
    await nobody.stop();
    expect(nobody.status().error).toMatch(/ECONNREFUSED/);
    expect(await value("supervision_last_run_ok")).toMatchObject([{ value: 0 }]);
    expect(await value("supervision_notifications")).toEqual(
      expect.arrayContaining([expect.objectContaining({ labels: { outcome: "pending" }, value: 0 })]),
    );

    const influxd = await startInfluxd();
    try {
      const influx = new InfluxDB({ host: "127.0.0.1", port: influxd.port, database: "supervision" });
      await ensureDatabase(influx, "supervision", pino({ level: "silent" }));
      const restarted = createSupervisionExtension(SupervisionSettings.parse({ intervalMs: 3_600_000 }));
      await restarted.start(context(influx));
      await run();
      await restarted.stop();
      expect(restarted.status().error).toBeNull();
      expect(await value("supervision_last_run_ok")).toMatchObject([{ value: 1 }]);
      expect(await value("supervision_last_run_timestamp_seconds")).toMatchObject([{ value: now / 1000 }]);
      expect(await metrics.metrics()).toContain("supervision_last_run_ok 1");
    } finally {
      await influxd.close();
    }
  });
});
