import { localDate, localTimeToUtc, startOfLocalDay as startOfDay } from "@supervision/firmware-protocols";
import { startInfluxd, type TestInfluxd } from "@supervision/test-support";
import { InfluxDB, type IPoint } from "influx";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureDatabase, readingToPoint } from "@supervision/hub";
import { testRegistry } from "@supervision/hub/testing";
import { formatSummary, summarize } from "../src/summary.ts";

describe("startOfLocalDay", () => {
  it("finds local midnight in the site's zone, across DST changes", () => {
    // 2026-11-23 01:30 UTC is 09:30 in Shanghai: the local day began at 2026-11-22 16:00 UTC.
    expect(startOfDay(Date.UTC(2026, 10, 23, 1, 30), "Asia/Shanghai")).toBe(Date.UTC(2026, 10, 22, 16, 0));
    // Berlin on its spring-forward day (2026-03-29): midnight was still CET (UTC+1).
    expect(startOfDay(Date.UTC(2026, 2, 29, 12, 0), "Europe/Berlin")).toBe(Date.UTC(2026, 2, 28, 23, 0));
    // and on its fall-back day (2026-10-25): midnight was CEST (UTC+2).
    expect(startOfDay(Date.UTC(2026, 9, 25, 12, 0), "Europe/Berlin")).toBe(Date.UTC(2026, 9, 24, 22, 0));
    expect(startOfDay(Date.UTC(2026, 10, 23, 0, 0), "UTC")).toBe(Date.UTC(2026, 10, 23, 0, 0));
    expect(localTimeToUtc("2026-03-29", "09:00", "Europe/Berlin")).toBe(Date.UTC(2026, 2, 29, 7, 0));
    expect(localTimeToUtc("2026-11-23", "09:00", "Asia/Shanghai")).toBe(Date.UTC(2026, 10, 23, 1, 0));
  });
});

describe("formatSummary", () => {
  it("shows unknown figures as ? or - rather than zero", () => {
    const text = formatSummary(
      [
        {
          site: "hall-1",
          kind: "hall",
          devicesOnline: 3,
          devicesTotal: 4,
          day: "2026-11-23",
          ratingsToday: 8,
          satisfaction: 0.875,
          signedIn: 2,
          people: 2,
          backlog: 0,
        },
        {
          site: "site-1",
          kind: "site",
          devicesOnline: null,
          devicesTotal: 1,
          day: "2026-11-23",
          ratingsToday: 0,
          satisfaction: null,
          signedIn: 0,
          people: 4,
          backlog: null,
        },
      ],
      Date.UTC(2026, 10, 23),
    );
    expect(text).toMatch(/hall-1\s+hall\s+3\/4\s+2026-11-23\s+8\s+87\.5%\s+2\/2\s+0/);
    expect(text).toMatch(/site-1\s+site\s+\?\/1\s+2026-11-23\s+0\s+-\s+0\/4\s+\?/);
  });

  it("fits an 80-column terminal, with no trailing spaces to wrap", () => {
    const row = {
      kind: "hall" as const,
      devicesOnline: 118,
      devicesTotal: 120,
      day: "2026-11-23",
      ratingsToday: 12345,
      satisfaction: 0.9876,
    };
    const text = formatSummary(
      [
        { ...row, site: "hall-demo", signedIn: 48, people: 50, backlog: 123456 },
        { ...row, site: "county-hall-1", signedIn: 0, people: 4, backlog: null },
      ],
      Date.UTC(2026, 10, 23),
    );
    const lines = text.split("\n");
    expect(lines[1]).toMatch(/^site\s+kind\s+online\s+day\s+ratings\s+satisfied\s+signed in\s+backlog$/);
    for (const l of lines) {
      expect(l.length).toBeLessThanOrEqual(80);
      expect(l).toBe(l.trimEnd());
    }
  });
});

describe("summarize against a real influxd", () => {
  let influxd: TestInfluxd;
  beforeAll(async () => {
    influxd = await startInfluxd();
  });
  afterAll(() => influxd.close());

  it("counts today's ratings, satisfaction and who is signed in, per site", async () => {
    const influx = new InfluxDB({ host: "127.0.0.1", port: influxd.port, database: "supervision" });
    await ensureDatabase(influx, "supervision", pino({ level: "silent" }));
    const { registry } = testRegistry();
    const site = [...registry.sites.values()][0]!;
    const now = Date.now();
    const today = startOfDay(now, site.tz) + 1000;
    const keypad = [...registry.devices.values()].find((d) => d.kind === "keypad")!;
    const window = keypad.window!;
    const ratings = [
      { level: "very_satisfied", key: 1 },
      { level: "satisfied", key: 2 },
      { level: "dissatisfied", key: 4 },
    ].map((r, i) => ({
      kind: "rating" as const,
      deviceId: keypad.id,
      seq: i,
      ts: today + i,
      rxTs: today + i,
      windowId: window,
      outcome: "rated",
      scale: "four",
      ...r,
    }));
    const yesterday = { ...ratings[0]!, seq: 99, ts: today - 3_600_000, rxTs: today - 3_600_000 };
    const points = [...ratings, yesterday].map((r) => readingToPoint(r, registry));
    for (const p of points) if ("error" in p) throw new Error(p.error.message);
    await influx.writePoints(points as IPoint[], { retentionPolicy: "raw" });
    const rows = await summarize(influx, registry, now);
    const row = rows.find((r) => r.site === site.id)!;
    expect(row.ratingsToday).toBe(3);
    expect(row.satisfaction).toBeCloseTo(2 / 3);
    expect(row.backlog).toBeNull();
    expect(row.day).toBe(localDate(now, site.tz));
    // Before the first rating of a day (the demo at night plays the last working day), that day is counted and shown.
    const nightInflux = new InfluxDB({ host: "127.0.0.1", port: influxd.port, database: "night" });
    await ensureDatabase(nightInflux, "night", pino({ level: "silent" }));
    const evening = startOfDay(now, site.tz) - 2 * 3_600_000;
    const late = readingToPoint({ ...ratings[0]!, seq: 7, ts: evening, rxTs: evening }, registry);
    if ("error" in late) throw new Error(late.error.message);
    await nightInflux.writePoints([late as IPoint], { retentionPolicy: "raw" });
    const night = (await summarize(nightInflux, registry, evening + 4 * 3_600_000)).find((r) => r.site === site.id)!;
    expect(night).toMatchObject({ day: localDate(evening, site.tz), ratingsToday: 1 });
    // A construction site has no keypads: its sign-ins tell the day just the same.
    const siteInflux = new InfluxDB({ host: "127.0.0.1", port: influxd.port, database: "site_night" });
    await ensureDatabase(siteInflux, "site_night", pino({ level: "silent" }));
    const signin = readingToPoint(
      { kind: "signin", v: 1, deviceId: "term1", seq: 1, ts: evening, rxTs: evening, personId: "p1", method: "card", direction: "in" },
      registry,
    );
    if ("error" in signin) throw new Error(signin.error.message);
    await siteInflux.writePoints([signin as IPoint], { retentionPolicy: "raw" });
    const siteNight = (await summarize(siteInflux, registry, evening + 4 * 3_600_000)).find((r) => r.site === site.id)!;
    expect(siteNight).toMatchObject({ day: localDate(evening, site.tz), ratingsToday: 0, signedIn: 1 });
  });
});
