/**
 * Every dashboard panel on a fresh deployment's data: the simulators' day (generateDay) for the demo hall and
 * construction site up to now, through the real ingest mapping, gateway health reports, and the real supervision
 * rules' output, in a real influxd. No panel may come up empty.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateGatewayKeys, localDate, type Reading } from "@supervision/firmware-protocols";
import { demoHallScenario, demoSiteScenario, generateDay } from "@supervision/firmware-protocols/sim";
import { startInfluxd, type TestInfluxd } from "@supervision/test-support";
import { InfluxDB, type IPoint } from "influx";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { ensureDatabase } from "../src/influx/setup.ts";
import { gatewayHealthPoint, integrityAlertPoint, readingToPoint, retentionPolicyFor } from "../src/ingest/points.ts";
import { loadRegistry } from "../src/registry/loader.ts";
import { registryFromScenario } from "../src/registry/from-scenario.ts";
import { panelQueries } from "./grafana-queries.ts";
import { judge } from "./supervision-fixtures.ts";
import { connectInflux } from "../src/influx/client.ts";
import { InfluxRegions } from "../src/influx/regions.ts";
import { gatherRollups } from "../src/rollup/gather.ts";

const DATABASE = "supervision";
const now = Date.now();
// A fixed-offset zone in which it is now mid-afternoon, so the simulated working day is well under way.
const offset = (((15 - new Date(now).getUTCHours()) % 24) + 24) % 24;
const hours = offset > 14 ? offset - 24 : offset;
const TZ = hours === 0 ? "Etc/GMT" : `Etc/GMT${hours > 0 ? "-" : "+"}${Math.abs(hours)}`;
const hall = { ...demoHallScenario, site: { ...demoHallScenario.site, tz: TZ } };
const site = { ...demoSiteScenario, site: { ...demoSiteScenario.site, tz: TZ } };

let influxd: TestInfluxd;
let dir: string;

beforeAll(async () => {
  influxd = await startInfluxd();
  const influx = new InfluxDB({ host: "127.0.0.1", port: influxd.port, database: DATABASE });
  await ensureDatabase(influx, DATABASE, pino({ level: "silent" }));
  dir = mkdtempSync(join(tmpdir(), "sim-day-"));
  for (const s of [hall, site])
    writeFileSync(
      join(dir, `${s.site.id}.yaml`),
      stringify(registryFromScenario(s, { secret: "s", publicKeyPem: generateGatewayKeys().publicKeyPem })),
    );
  // The two files share a region and a town: keep them in one.
  const siteFile = registryFromScenario(site, { secret: "s", publicKeyPem: generateGatewayKeys().publicKeyPem });
  writeFileSync(join(dir, `${site.site.id}.yaml`), stringify({ ...siteFile, regions: [], towns: [] }));
  const registry = loadRegistry(dir);

  const today = localDate(now, TZ);
  // The first seed whose day has somebody absent at the hall and at the site, so every panel has something to show.
  const absentSomewhere = (seed: number) =>
    [hall, site].every((s) => {
      const signedIn = new Set(
        generateDay(s, { date: today, seed })
          .filter((e) => e.kind === "signin")
          .map((e) => e.fields.personId),
      );
      return s.people.some((p) => !signedIn.has(p.id));
    });
  let seed = 1;
  while (!absentSomewhere(seed)) seed++;
  const points: IPoint[] = [];
  const seqs = new Map<string, number>();
  let farSignin = false;
  for (const s of [hall, site]) {
    for (const e of generateDay(s, { date: today, seed }).filter((x) => x.at <= now)) {
      const seq = (seqs.get(e.deviceId) ?? 0) + 1;
      seqs.set(e.deviceId, seq);
      // The site's terminal was offline in the morning: its sign-ins reached the hub two hours late.
      const offline = s === site && e.kind === "signin" && e.at < now - 3 * 3_600_000;
      const rxTs = e.at + (offline ? 2 * 3_600_000 : 2000);
      // One supervisor signed in from a kilometre north of the site (its radius is 300 m): the rules flag it.
      const fields =
        s === site && e.kind === "signin" && !farSignin
          ? { ...e.fields, location: { lat: site.site.lat! + 0.01, lon: site.site.lon!, accuracyM: 10 } }
          : e.fields;
      if (fields !== e.fields) farSignin = true;
      const point = readingToPoint({ kind: e.kind, deviceId: e.deviceId, seq, ts: e.at, rxTs, ...fields } as Reading, registry);
      if ("error" in point) throw new Error(point.error.message);
      points.push(point);
    }
    for (let minutesAgo = 60; minutesAgo >= 0; minutesAgo -= 10) {
      const ts = now - minutesAgo * 60_000;
      points.push(
        gatewayHealthPoint(
          {
            v: 1,
            gatewayId: s.gatewayId,
            state: "online",
            ts,
            configVersion: 1,
            devices: { online: s.devices.length, total: s.devices.length },
            buffer: { depth: minutesAgo, bytes: 1000, capacityBytes: 1e9, oldestTs: ts - 2000, deadLetters: 0 },
            uplink: { inFlight: 1, rttMs: 35, drainRatePerS: 0 },
          },
          registry,
          now,
        ),
      );
    }
  }
  points.push(
    integrityAlertPoint({
      gatewayId: site.gatewayId,
      kind: "gap",
      epoch: "e1",
      seq: 7,
      detail: "batch 6 missing",
      atMs: now - 50 * 60_000,
      discriminator: 7,
    }),
  );
  const byPolicy = new Map<string, IPoint[]>();
  for (const p of points)
    byPolicy.set(retentionPolicyFor(p.measurement ?? ""), [...(byPolicy.get(retentionPolicyFor(p.measurement ?? "")) ?? []), p]);
  for (const [retentionPolicy, list] of byPolicy)
    for (let i = 0; i < list.length; i += 5000) await influx.writePoints(list.slice(i, i + 5000), { retentionPolicy, precision: "n" });

  // The supervision rules judge the day so far, as the hub does every minute.
  await judge({ influx, registry, now, dataDir: dir });
  // And the province rollup gathers the day, as the hub's scheduled rollup does (one database: into itself).
  const regions = new InfluxRegions(connectInflux(influxd.url, DATABASE), new Map(), () => registry);
  await gatherRollups(regions, registry, { from: today, to: today, tz: TZ });
}, 120_000);

afterAll(async () => {
  await influxd?.close();
  rmSync(dir, { recursive: true, force: true });
});

// The simulated day began in the morning: look back 12 hours.
const cases = panelQueries(12);

describe("dashboards on the simulators' day with the real supervision rules", () => {
  it.each(cases)("%s returns data", async (_name, query, _type, noValue) => {
    const answer = await influxd.query(query, DATABASE);
    const [result] = answer.results;
    expect(result?.error).toBeUndefined();
    const values = (result?.series ?? []).flatMap((s) => s.values.flatMap((row) => row.slice(1)));
    // A count of people that finds nobody (no one left the post today) shows the panel's "0", not an empty panel;
    // grafana-panels.test.ts runs the same query on a day where it finds somebody.
    if (values.length === 0 && noValue !== undefined) expect(noValue, query).toBe("0");
    else
      expect(
        values.some((v) => v !== null),
        query,
      ).toBe(true);
  });
});
