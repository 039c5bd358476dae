/**
 * A warning handled by the centre through the hub's API: acknowledged, handled with a note, closed, each step by
 * the authenticated caller, kept as a record and written onto the warning itself; on a real influxd through the
 * running rules, with a restarted extension seeing the same state.
 */
import { startInfluxd, type TestInfluxd } from "@supervision/test-support";
import { InfluxDB } from "influx";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HttpRequest, HubExtension } from "../src/controller/extension.ts";
import type { Identity } from "../src/http/auth.ts";
import { ensureDatabase } from "../src/influx/setup.ts";
import type { Registry } from "../src/registry/schema.ts";
import { createSupervisionExtension, SupervisionSettings } from "../src/supervision/index.ts";
import { type Routes, rulesContext, runNow } from "./supervision-fixtures.ts";

const NOW = Date.UTC(2026, 10, 18, 3, 0); // 11:00 in Shanghai
const SILENT_SINCE = NOW - 40 * 60_000;
const registry = {
  version: 1,
  regions: new Map([["east", { id: "east", name: "东区" }]]),
  towns: new Map([["riverside", { id: "riverside", name: "河畔镇", region: "east" }]]),
  departments: new Map(),
  sites: new Map([
    ["hall-1", { id: "hall-1", kind: "hall", name: "政务服务中心", town: "riverside", tz: "Asia/Shanghai", gateway: "gw-1" }],
  ]),
  windows: new Map(),
  people: new Map(),
  rosters: new Map(),
  gateways: new Map(),
  devices: new Map(),
} as Registry;
const zhou: Identity = { name: "周主任", role: "operator" };
const li: Identity = { name: "李科长", role: "operator" };

let influxd: TestInfluxd;
let influx: InfluxDB;
let routes: Routes;
let extension: HubExtension;
const settings = SupervisionSettings.parse({ intervalMs: 3_600_000 });

const call = (method: string, path: string, req: Partial<HttpRequest>) =>
  routes.get(`${method} ${path}`)!({ params: {}, query: new URLSearchParams(), body: undefined, ...req });
const list = async (query = "") =>
  (await call("GET", "/api/warnings", { query: new URLSearchParams(query), identity: zhou })).body as {
    warnings: { id: string; rule: string; handling: string; handledBy: string; overdue: boolean; message: string }[];
  };
async function start(): Promise<void> {
  routes = new Map();
  extension = createSupervisionExtension(settings);
  await extension.start(rulesContext({ influx, registry, now: NOW, routes }));
  await runNow(routes);
}

beforeAll(async () => {
  influxd = await startInfluxd();
  influx = new InfluxDB({ host: "127.0.0.1", port: influxd.port, database: "supervision" });
  await ensureDatabase(influx, "supervision", pino({ level: "silent" }));
  // The hall's gateway last reported 40 minutes ago: the equipment rule warns that it is offline.
  await influx.writePoints(
    [
      {
        measurement: "gateway_health",
        tags: { gateway: "gw-1", site: "hall-1" },
        fields: { online: 1, buffer_depth: 0, oldest_age_s: 0 },
        timestamp: new Date(SILENT_SINCE),
      },
    ],
    { retentionPolicy: "health", precision: "ms" },
  );
  await start();
});

afterAll(async () => {
  await extension?.stop();
  await influxd?.close();
});

describe("handling a warning through the API", () => {
  it("lists the open warning, overdue once nobody acknowledged it within 30 minutes", async () => {
    const { warnings } = await list("site=hall-1");
    expect(warnings.map((w) => [w.id, w.rule, w.handling, w.overdue])).toEqual([
      [`hall-1:offline:gw-1:${SILENT_SINCE}`, "offline", "open", true],
    ]);
    expect(warnings[0]!.message).toBe("网关 gw-1 自 2026-11-18 10:20 起无联系");
  });

  it("refuses steps out of order, without a note, without a token, and for ids that are malformed or unknown", async () => {
    const id = `hall-1:offline:gw-1:${SILENT_SINCE}`;
    const act = (action: string, body: unknown, identity: Identity | null = zhou, warning = id) =>
      call("POST", `/api/warnings/:id/${action}`, { params: { id: warning }, body, ...(identity ? { identity } : {}) });
    expect(await act("close", {})).toMatchObject({ status: 409, body: { error: expect.stringMatching(/handle it first/), state: "open" } });
    expect(await act("handle", {})).toMatchObject({ status: 400, body: { error: expect.stringMatching(/"note" is required/) } });
    expect(await act("handle", { note: "x".repeat(501) })).toMatchObject({ status: 400 });
    expect(await act("acknowledge", {}, null)).toMatchObject({ status: 401 });
    expect(await act("acknowledge", {}, zhou, "hall-1:offline:gw-1")).toMatchObject({ status: 400 });
    expect(await act("acknowledge", {}, zhou, `hall-1:offline:gw-1:${SILENT_SINCE + 1}`)).toMatchObject({ status: 404 });
  });

  it("goes acknowledged → handled → closed with who and when, and the warning point carries the state", async () => {
    const id = `hall-1:offline:gw-1:${SILENT_SINCE}`;
    const act = (action: string, body: unknown, identity: Identity) =>
      call("POST", `/api/warnings/:id/${action}`, { params: { id }, body, identity });
    expect(await act("acknowledge", {}, zhou)).toMatchObject({ status: 200, body: { state: "acknowledged", by: "周主任" } });
    expect((await list()).warnings[0]).toMatchObject({ handling: "acknowledged", handledBy: "周主任", overdue: false });
    expect(await act("acknowledge", {}, li)).toMatchObject({ status: 409, body: { error: expect.stringMatching(/already acknowledged/) } });
    expect(await act("handle", { note: "已电话通知现场工程师重启网关" }, li)).toMatchObject({
      status: 200,
      body: { state: "handled", by: "李科长" },
    });
    expect(await act("close", {}, zhou)).toMatchObject({ status: 200, body: { state: "closed", by: "周主任" } });

    const stored = await influx.query<{ handling: string; handled_by: string; handling_overdue: number }>(
      `SELECT "handling", "handled_by", "handling_overdue" FROM "raw"."warning" WHERE "rule" = 'offline' AND time = ${SILENT_SINCE}ms`,
    );
    expect(stored.map((r) => [r.handling, r.handled_by, r.handling_overdue])).toEqual([["closed", "周主任", 0]]);
    const record = await call("GET", "/api/warnings/:id", { params: { id }, identity: zhou });
    expect((record.body as { steps: { action: string; by: string; note: string }[] }).steps.map((s) => [s.action, s.by, s.note])).toEqual([
      ["acknowledge", "周主任", ""],
      ["handle", "李科长", "已电话通知现场工程师重启网关"],
      ["close", "周主任", ""],
    ]);
  });

  it("keeps the record across a restart of the hub", async () => {
    await extension.stop();
    await start();
    expect((await list("state=closed")).warnings.map((w) => [w.handling, w.handledBy])).toEqual([["closed", "周主任"]]);
    expect((await list("state=open")).warnings).toEqual([]);
    expect(await call("GET", "/api/warnings", { query: new URLSearchParams("state=bogus"), identity: zhou })).toMatchObject({
      status: 400,
    });
    expect(await call("GET", "/api/warnings", { query: new URLSearchParams("days=99"), identity: zhou })).toMatchObject({ status: 400 });
    expect(await call("GET", "/api/warnings", { query: new URLSearchParams("site=Hall;DROP"), identity: zhou })).toMatchObject({
      status: 400,
    });
  });
});
