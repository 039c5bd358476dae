/**
 * The hall dashboard's transactions per window: a hall's queue system's events (tickets, calls, service started and
 * finished) written through the ingest's point builder to a real influxd, then the panel's query as Grafana sends it
 * must count exactly the transactions finished at each window in the range.
 */
import { allDashboards, dashboardMessages, UIDS } from "@supervision/dashboards";
import { startInfluxd, type TestInfluxd } from "@supervision/test-support";
import { InfluxDB } from "influx";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureDatabase } from "../src/influx/setup.ts";
import { asGrafanaSends } from "./grafana-queries.ts";
import { itemsRegistry, queueReading } from "./items-fixtures.ts";
import { writeReadings } from "./supervision-fixtures.ts";

const DATABASE = "supervision";
const NOW = Date.now();
const MIN = 60_000;
const { registry } = itemsRegistry();

/** One whole transaction at a window: ticket, called, started, finished (`finishedAgo` minutes before now). */
const transaction = (txn: string, windowId: string, finishedAgo: number, finished = true) => [
  queueReading("ticket", txn, NOW - (finishedAgo + 20) * MIN),
  queueReading("called", txn, NOW - (finishedAgo + 10) * MIN, { windowId, clerkId: windowId === "w1" ? "c1" : "c2" }),
  queueReading("started", txn, NOW - (finishedAgo + 9) * MIN, { windowId, clerkId: windowId === "w1" ? "c1" : "c2" }),
  ...(finished ? [queueReading("finished", txn, NOW - finishedAgo * MIN, { windowId, clerkId: windowId === "w1" ? "c1" : "c2" })] : []),
];

const readings = [
  ...transaction("T-0001", "w1", 200),
  ...transaction("T-0002", "w1", 120),
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
}, 60_000);

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

  it("has its Chinese title from the dashboard catalogue", () => {
    const board = allDashboards("zh-CN").find((d) => d.uid === UIDS.hall)!;
    expect(board.panels.map((p) => p.title)).toContain("各窗口办件数");
  });
});
