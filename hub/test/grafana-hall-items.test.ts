/**
 * The hall dashboard's transactions per window: a hall's queue system's events (tickets, calls, service started and
 * finished) written through the ingest's point builder to a real influxd, then the panel's query as Grafana sends it
 * must count exactly the transactions finished at each window in the range; the real rules derive each transaction's
 * waiting and service time, and the waiting and service panel must show their exact means per window.
 */
import { allDashboards, dashboardMessages, UIDS } from "@supervision/dashboards";
import { startInfluxd, type TestInfluxd } from "@supervision/test-support";
import { InfluxDB } from "influx";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureDatabase } from "../src/influx/setup.ts";
import { asGrafanaSends } from "./grafana-queries.ts";
import { itemsRegistry, queueReading } from "./items-fixtures.ts";
import { judge, writeReadings } from "./supervision-fixtures.ts";

const DATABASE = "supervision";
const NOW = Date.now();
const MIN = 60_000;
const { registry } = itemsRegistry();

/**
 * One whole transaction at a window: ticket, called (`wait` minutes later), started a minute after the call, finished
 * `serve` minutes after it started, `finishedAgo` minutes before now.
 */
const transaction = (txn: string, windowId: string, finishedAgo: number, finished = true, wait = 10, serve = 9) => {
  const clerkId = windowId === "w1" ? "c1" : "c2";
  const finish = NOW - finishedAgo * MIN;
  return [
    queueReading("ticket", txn, finish - (serve + 1 + wait) * MIN),
    queueReading("called", txn, finish - (serve + 1) * MIN, { windowId, clerkId }),
    queueReading("started", txn, finish - serve * MIN, { windowId, clerkId }),
    ...(finished ? [queueReading("finished", txn, finish, { windowId, clerkId })] : []),
  ];
};

const readings = [
  ...transaction("T-0001", "w1", 200),
  ...transaction("T-0002", "w1", 120, true, 4, 15), // waited 4 minutes, served for 15
  ...transaction("T-0003", "w1", 30),
  ...transaction("T-0004", "w2", 90),
  ...transaction("T-0005", "w2", 5, false), // still being served: not a transaction yet
  ...transaction("T-0006", "w2", 8 * 60), // finished 8 hours ago: outside the panel's range as sent (6 h)
  queueReading("ticket", "T-0007", NOW - 3 * MIN), // a ticket taken, not yet called
];

let influxd: TestInfluxd;

beforeAll(async () => {
  influxd = await startInfluxd();
  const influx = new InfluxDB({ host: "127.0.0.1", port: influxd.port, database: DATABASE });
  await ensureDatabase(influx, DATABASE, pino({ level: "silent" }));
  await writeReadings(influx, registry, readings);
  await judge({ influx, registry, now: NOW });
}, 120_000);

afterAll(async () => {
  await influxd?.close();
});

describe("the hall dashboard's transactions per window", () => {
  it("counts each window's finished transactions in the range: w1 3, w2 1 (one still served, one before the range)", async () => {
    const board = allDashboards("en").find((d) => d.uid === UIDS.hall)!;
    const panel = board.panels.find((p) => p.title === dashboardMessages("en").hall.transactionsPerWindow.title)!;
    const answer = await influxd.query(asGrafanaSends(panel.targets[0]!.query, board.time.from), DATABASE);
    expect(answer.results[0]?.error).toBeUndefined();
    const rows = (answer.results[0]?.series ?? []).map((s) => ({ ...s.tags, [s.columns[1]!]: s.values[0]![1] }));
    expect(rows).toEqual([
      { window: "w1", transactions: 3 },
      { window: "w2", transactions: 1 },
    ]);
  });

  it("shows each window's mean waiting and service minutes of the transactions the rules derived", async () => {
    const board = allDashboards("en").find((d) => d.uid === UIDS.hall)!;
    const panel = board.panels.find((p) => p.title === dashboardMessages("en").hall.serviceTimesPerWindow.title)!;
    const answer = await influxd.query(asGrafanaSends(panel.targets[0]!.query, board.time.from), DATABASE);
    expect(answer.results[0]?.error).toBeUndefined();
    const rows = (answer.results[0]?.series ?? []).map((s) => ({
      ...s.tags,
      ...Object.fromEntries(s.columns.slice(1).map((c, i) => [c, s.values[0]![i + 1]])),
    }));
    // w1: waits 10, 4, 10 and services 9, 15, 9 minutes; w2: the one finished in range (10 and 9).
    expect(rows).toEqual([
      { window: "w1", "mean waiting min": 8, "mean service min": 11 },
      { window: "w2", "mean waiting min": 10, "mean service min": 9 },
    ]);
  });

  it("writes each finished transaction once with its department, clerk and seconds, however often the rules run", async () => {
    await judge({ influx: new InfluxDB({ host: "127.0.0.1", port: influxd.port, database: DATABASE }), registry, now: NOW, times: 2 });
    const answer = await influxd.query(
      `SELECT "txn", "clerk", "waiting_s", "service_s", "department", "window" FROM "transaction" WHERE "txn" = 'T-0002' OR "txn" = 'T-0005'`,
      DATABASE,
    );
    const series = answer.results[0]?.series ?? [];
    expect(series.map((s) => s.values)).toEqual([
      [[NOW - 120 * MIN, "T-0002", "c1", 240, 900, registry.windows.get("w1")!.department, "w1"]],
    ]);
  });

  it("has its Chinese titles from the dashboard catalogue", () => {
    const board = allDashboards("zh-CN").find((d) => d.uid === UIDS.hall)!;
    expect(board.panels.map((p) => p.title)).toEqual(expect.arrayContaining(["各窗口办件数", "各窗口等候与办理时长"]));
  });
});
