/**
 * A simulated month of the demo hall, through the real ingest mapping into a real influxd, judged day by day by
 * the rules; the monthly report's totals must match an independent recount from the simulated readings.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateGatewayKeys, localTimeToUtc, type Reading } from "@supervision/firmware-protocols";
import { demoHallScenario, generateDay, type TimelineEvent } from "@supervision/firmware-protocols/sim";
import { startInfluxd, type TestInfluxd } from "@supervision/test-support";
import { InfluxDB, type IPoint } from "influx";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { ensureDatabase } from "../src/influx/setup.ts";
import { readingToPoint } from "../src/ingest/points.ts";
import { loadRegistry } from "../src/registry/loader.ts";
import type { Registry } from "../src/registry/schema.ts";
import { SupervisionSettings } from "../src/supervision/index.ts";
import { monthlyReport, renderReport } from "../src/supervision/report.ts";
import { registryFromScenario } from "../src/registry/from-scenario.ts";
import { judge } from "./supervision-fixtures.ts";

const MONTH = "2026-02";
const DAYS = Array.from({ length: 28 }, (_, i) => `${MONTH}-${String(i + 1).padStart(2, "0")}`);
const TZ = demoHallScenario.site.tz;
const settings = SupervisionSettings.parse({ intervalMs: 3_600_000 });

let influxd: TestInfluxd;
let influx: InfluxDB;
let registry: Registry;
let dir: string;
const timeline: TimelineEvent[] = [];

/**
 * Each `hub` command spawns node with tsx, which takes 1-2 s on an idle machine and tens of seconds on a loaded shared
 * one (11-35 s each at a load of 30 on 2 cores): the test waits for the processes, so it gets room, not a sleep.
 */
const CLI = { timeout: 300_000 };

beforeAll(async () => {
  influxd = await startInfluxd();
  influx = new InfluxDB({ host: "127.0.0.1", port: influxd.port, database: "supervision" });
  await ensureDatabase(influx, "supervision", pino({ level: "silent" }));
  dir = mkdtempSync(join(tmpdir(), "month-"));
  writeFileSync(
    join(dir, "hall.yaml"),
    stringify(registryFromScenario(demoHallScenario, { secret: "s", publicKeyPem: generateGatewayKeys().publicKeyPem })),
  );
  registry = loadRegistry(dir);
  const seqs = new Map<string, number>();
  for (const date of DAYS) timeline.push(...generateDay(demoHallScenario, { date, seed: 11 }).filter((e) => e.kind !== "heartbeat"));
  const points = timeline.map((e) => {
    const seq = (seqs.get(e.deviceId) ?? 0) + 1;
    seqs.set(e.deviceId, seq);
    const reading = { kind: e.kind, deviceId: e.deviceId, seq, ts: e.at, rxTs: e.at, ...e.fields } as Reading;
    const point = readingToPoint(reading, registry);
    if ("error" in point) throw new Error(point.error.message);
    return point;
  });
  for (let i = 0; i < points.length; i += 5000)
    await influx.writePoints(points.slice(i, i + 5000) as IPoint[], { retentionPolicy: "raw", precision: "n" });

  // The rules, run in the evening of every day of the month, as a hub would.
  for (const date of DAYS) await judge({ influx, registry, now: localTimeToUtc(date, "20:00", TZ), settings, dataDir: dir });
  // A month of readings and 28 runs of the rules: under a minute on an idle machine, several on a loaded one.
}, 600_000);
afterAll(async () => {
  await influxd.close();
  rmSync(dir, { recursive: true, force: true });
});

/** An independent recount of one clerk's month, straight from the simulated readings. */
function recount(clerk: string) {
  const ratings = timeline.filter((e) => e.kind === "rating" && e.fields.clerkId === clerk && e.fields.outcome === "rated");
  const positive = ratings.filter((e) => e.fields.level === "very_satisfied" || e.fields.level === "satisfied").length;
  let late = 0;
  let absent = 0;
  let onTime = 0;
  let earlyLeave = 0;
  for (const date of DAYS) {
    for (const shift of demoHallScenario.roster.shifts) {
      const start = localTimeToUtc(date, shift.start, TZ);
      const end = localTimeToUtc(date, shift.end, TZ);
      const mine = timeline.filter(
        (e) => e.kind === "signin" && e.fields.personId === clerk && e.at >= start - 120 * 60_000 && e.at <= end,
      );
      const firstIn = mine.find((e) => e.fields.direction === "in");
      if (!firstIn) {
        absent++;
        continue;
      }
      const minutesLate = Math.round((firstIn.at - start) / 60_000);
      if (firstIn.at <= start + 5 * 60_000) {
        const lastOut = [...mine].reverse().find((e) => e.fields.direction === "out" && e.at > firstIn.at);
        if (lastOut && lastOut.at < end - 5 * 60_000) {
          if (end - lastOut.at > 60 * 60_000) absent++;
          else earlyLeave++;
        } else onTime++;
      } else if (minutesLate > 60) absent++;
      else late++;
    }
  }
  return { rated: ratings.length, positive, late, absent, onTime, earlyLeave };
}

describe("a simulated month", () => {
  it("produces a monthly report whose totals match a recount from the raw readings", async () => {
    const report = await monthlyReport(influx, registry, MONTH, settings.scoring);
    expect(report.clerks).toHaveLength(8);
    let lateSeen = 0;
    for (const line of report.clerks) {
      const r = recount(line.id);
      expect(line.rated, line.id).toBe(r.rated);
      expect(line.satisfaction, line.id).toBeCloseTo(r.positive / r.rated, 10);
      expect(line.attendance.late ?? 0, `${line.id} late`).toBe(r.late);
      expect(line.attendance.absent ?? 0, `${line.id} absent`).toBe(r.absent);
      expect(line.attendance.early_leave ?? 0, `${line.id} early leave`).toBe(r.earlyLeave);
      expect(line.attendance.on_time ?? 0, `${line.id} on time`).toBe(r.onTime);
      expect(line.deductions, `${line.id} deductions`).toBe(r.late * -2 + r.earlyLeave * -2 + r.absent * -5);
      expect(line.score).toBe(100 + line.deductions + line.bonuses);
      lateSeen += r.late;
    }
    expect(lateSeen).toBeGreaterThan(0);
    const monthly = (await influx.query<{ subject: string; score: number }>(
      `SELECT "score", "subject" FROM "raw"."score_monthly" WHERE "subject_kind" = 'clerk' AND time = ${report.from}ms`,
    )) as unknown as { subject: string; score: number }[];
    for (const line of report.clerks) expect(monthly.find((m) => m.subject === line.id)?.score, line.id).toBe(line.score);

    const html = renderReport(report, registry);
    expect(html).toMatch(/<svg[^>]+role="img"/);
    for (const line of report.clerks) expect(html).toContain(line.name);
    // The demo hall's clerks by their Chinese names, as the bulletin prints them.
    expect(report.clerks.map((l) => `${l.id} ${l.name}`).sort()).toEqual([
      "clerk-01 李娜",
      "clerk-02 王伟",
      "clerk-03 张敏",
      "clerk-04 刘洋",
      "clerk-05 陈静",
      "clerk-06 杨帆",
      "clerk-07 赵磊",
      "clerk-08 黄丽",
    ]);
    expect(html).toContain("杨帆");
    expect(html).toContain("窗口单位明细");
    // The ranking follows the scores; every clerk is in it once.
    const scores = report.ranking.clerks.map((r) => r.line.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    expect(new Set(report.ranking.clerks.map((r) => r.line.id)).size).toBe(8);
  });

  it("is written by hub report as a printable page, with clear errors for a bad month or an unreachable InfluxDB", CLI, async () => {
    const { execFile } = await import("node:child_process");
    const { readFileSync } = await import("node:fs");
    const hub = (args: string[]) =>
      new Promise<{ code: number; out: string; err: string }>((resolve) =>
        execFile(process.execPath, ["--import", "tsx", "hub/src/cli/main.ts", "report", ...args], (error, out, err) =>
          resolve({ code: error ? Number(error.code) : 0, out, err }),
        ),
      );
    // Outside the registry dir: the registry loader reads every YAML file there.
    const settingsFile = join(tmpdir(), `hub-report-${process.pid}.yaml`);
    writeFileSync(settingsFile, stringify({ influx: { url: influxd.url }, registry: { dir } }));
    const out = join(tmpdir(), `report-${process.pid}.html`);
    const written = await hub(["--month", MONTH, "--settings", settingsFile, "--out", out]);
    expect(written).toMatchObject({
      code: 0,
      out: expect.stringMatching(
        /wrote .*\.html: 8 clerks, 8 window units, \d+ departments, \d+ sites judged by presence; \d+ commended, \d+ called in/,
      ),
    });
    expect(readFileSync(out, "utf8")).toContain("电子监察月度考核通报（2026 年 02 月）");
    const copies = join(dir, "copies");
    const perDepartment = await hub(["--month", MONTH, "--settings", settingsFile, "--per-department", copies]);
    expect(perDepartment.code).toBe(0);
    for (const d of registry.departments.values())
      expect(readFileSync(join(copies, `report-${MONTH}-${d.id}.html`), "utf8")).toContain(`本件发：${d.name}`);
    expect(await hub(["--month", MONTH, "--settings", settingsFile, "--department", "nope"])).toMatchObject({
      code: 2,
      err: expect.stringMatching(/no department "nope" in the registry; it has /),
    });
    expect(await hub(["--month", "2026-13", "--settings", settingsFile])).toMatchObject({
      code: 2,
      err: expect.stringMatching(/--month YYYY-MM/),
    });
    writeFileSync(settingsFile, stringify({ influx: { url: "http://127.0.0.1:1" }, registry: { dir } }));
    expect(await hub(["--month", MONTH, "--settings", settingsFile, "--out", out])).toMatchObject({
      code: 1,
      err: expect.stringMatching(/cannot query InfluxDB.*hub start/),
    });
    rmSync(settingsFile);
    rmSync(out);
  });
});
