/**
 * Site presence: the geofence and check-in logic on their own, then scripted weeks of a construction site through
 * the running supervision extension on a real influxd (sign-ins written as the ingest writes them, derived points
 * read back), and the demo site's supervisors' absences delivered to a real local HTTP receiver.
 */
import { EventEmitter } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateGatewayKeys, localTimeToUtc, type Reading } from "@supervision/firmware-protocols";
import { allDashboards, UIDS } from "@supervision/dashboards";
import { demoSiteScenario } from "@supervision/firmware-protocols/sim";
import { freePort, startInfluxd, type TestInfluxd } from "@supervision/test-support";
import { InfluxDB } from "influx";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import type { HubEvents } from "../src/controller/extension.ts";
import { ensureDatabase } from "../src/influx/setup.ts";
import { registryFromScenario } from "../src/registry/from-scenario.ts";
import { loadRegistry } from "../src/registry/loader.ts";
import type { Registry } from "../src/registry/schema.ts";
import { createSupervisionExtension, SupervisionSettings } from "../src/supervision/index.ts";
import { monthlyReport, renderReport } from "../src/supervision/report.ts";
import { missedCheckins } from "../src/supervision/rules/site-presence/checkins.ts";
import { distanceM, outsideSite } from "../src/supervision/rules/site-presence/geofence.ts";
import { waitFor } from "./ingest-fixtures.ts";
import { judge, type Routes, rulesContext, runNow, writeReadings } from "./supervision-fixtures.ts";

const SITE = { lat: 31.2304, lon: 121.4737, radiusM: 200 };
/** Metres per degree of latitude (the WGS84 mean radius). */
const M_PER_DEG_LAT = (Math.PI * 6_371_008.8) / 180;

describe("site presence (logic)", () => {
  it("measures distance on the sphere", () => {
    expect(distanceM(SITE, { lat: SITE.lat + 1000 / M_PER_DEG_LAT, lon: SITE.lon })).toBeCloseTo(1000, 0);
    expect(distanceM(SITE, SITE)).toBe(0);
  });

  it("flags a sign-in 300 m outside the site's radius, not one inside or within its own GPS error", () => {
    const northBy = (m: number) => ({ lat: SITE.lat + m / M_PER_DEG_LAT, lon: SITE.lon });
    expect(outsideSite({ ...northBy(500), accuracyM: 0 }, SITE)).toEqual({ outside: true, distanceM: 500, beyondM: 300 });
    expect(outsideSite({ ...northBy(150), accuracyM: 8 }, SITE)).toEqual({ outside: false, distanceM: 150, beyondM: 0 });
    expect(outsideSite({ ...northBy(220), accuracyM: 30 }, SITE).outside).toBe(false);
  });

  it("judges a chief supervisor who checked in twice in a week against a rule of three missing once", () => {
    const checkins = [
      { date: "2026-11-30", ts: 1 },
      { date: "2026-11-30", ts: 2 },
      { date: "2026-12-02", ts: 3 },
    ];
    expect(missedCheckins({ kind: "weekly", perWeek: 3 }, checkins)).toBe(1);
    expect(missedCheckins({ kind: "weekly", perWeek: 2 }, checkins)).toBe(0);
  });

  it("counts each set time of the day without a check-in as missed", () => {
    const windows = [
      { from: 0, to: 100 },
      { from: 200, to: 300 },
      { from: 400, to: 500 },
    ];
    expect(
      missedCheckins({ kind: "daily", windows }, [
        { date: "d", ts: 50 },
        { date: "d", ts: 450 },
      ]),
    ).toBe(1);
    expect(missedCheckins({ kind: "daily", windows }, [])).toBe(3);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Scripted weeks on a real influxd.

const TZ = "Asia/Shanghai";
/** Monday 16 to Sunday 22 November 2026. */
const MON = "2026-11-16";
const WED = "2026-11-18";
const THU = "2026-11-19";
const FRI = "2026-11-20";
const at = (date: string, hhmm: string) => localTimeToUtc(date, hhmm, TZ);
const northBy = (m: number) => ({ lat: SITE.lat + m / M_PER_DEG_LAT, lon: SITE.lon });

const REGISTRY_YAML = `
regions: [{ id: east, name: East }]
towns: [{ id: riverside, name: Riverside, region: east }]
sites:
  - id: site-1
    kind: site
    name: 地铁站工地
    town: riverside
    tz: ${TZ}
    gateway: gw-1
    location: { lat: ${SITE.lat}, lon: ${SITE.lon}, radiusM: ${SITE.radiusM} }
    contacts: [{ name: Zhang Min, phone: "+8613800000009" }]
rosters:
  - { id: site-day, shifts: [{ start: "08:00", end: "17:00" }], workingDays: [wed] }
  - { id: chief-weekly, shifts: [{ start: "08:00", end: "18:00" }], checkins: { perWeek: 3 } }
  - id: chief-times
    shifts: [{ start: "07:00", end: "18:00" }]
    workingDays: [wed]
    checkins: { windows: [{ from: "07:00", to: "08:30" }, { from: "11:30", to: "13:30" }, { from: "16:00", to: "18:00" }] }
people:
  - { id: s1, name: 周强, role: supervisor, site: site-1, roster: site-day }
  - { id: chief, name: 孙浩, role: supervisor, site: site-1, roster: chief-weekly }
  - { id: chief2, name: 吴涛, role: supervisor, site: site-1, roster: chief-times }
gateways:
  - id: gw-1
    site: site-1
    secret: lab
    publicKey: |
      ${generateGatewayKeys().publicKeyPem.trim().split("\n").join("\n      ")}
devices:
  - { id: sterm, kind: terminal, site: site-1, secret: lab-terminal }
`;

let influxd: TestInfluxd;
let influx: InfluxDB;
let registry: Registry;
const dirs: string[] = [];
const tempDir = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
};

let seq = 0;
const signin = (
  person: string,
  ts: number,
  where?: { lat: number; lon: number; accuracyM?: number },
  direction: "in" | "out" = "in",
): Reading => ({
  kind: "signin",
  deviceId: "sterm",
  seq: ++seq,
  ts,
  rxTs: ts,
  personId: person,
  method: "face",
  direction,
  ...(where ? { location: where } : {}),
});

async function rows(query: string): Promise<Record<string, unknown>[]> {
  return [...((await influx.query(query)) as unknown as Record<string, unknown>[])];
}
const onDay = (date: string) => `time >= ${at(date, "00:00")}ms AND time < ${at(date, "23:59")}ms`;

beforeAll(async () => {
  influxd = await startInfluxd();
  influx = new InfluxDB({ host: "127.0.0.1", port: influxd.port, database: "supervision" });
  await ensureDatabase(influx, "supervision", pino({ level: "silent" }));
  const dir = tempDir("site-presence-registry-");
  writeFileSync(join(dir, "site.yaml"), REGISTRY_YAML);
  registry = loadRegistry(dir);
  const inside = { ...northBy(40), accuracyM: 10 };
  await writeReadings(influx, registry, [
    // 周强 (regular roster) signs in on Wednesday at 07:55, 500 m north of a 200 m site: 300 m outside.
    signin("s1", at(WED, "07:55"), { ...northBy(500), accuracyM: 0 }),
    signin("s1", at(WED, "17:05"), inside, "out"),
    // 孙浩 (three days a week): Monday, and twice on Wednesday (one day), and Thursday from 2 km away.
    signin("chief", at(MON, "09:10"), inside),
    signin("chief", at(WED, "08:40"), inside),
    signin("chief", at(WED, "15:00"), inside),
    signin("chief", at(THU, "10:00"), { ...northBy(2000), accuracyM: 15 }),
    // 吴涛 (three set times a day): on Wednesday in the morning and late afternoon, not at midday.
    signin("chief2", at(WED, "08:10"), inside),
    signin("chief2", at(WED, "16:45"), inside),
  ]);
}, 120_000);
afterAll(async () => {
  await influxd?.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe("site presence on a real influxd", () => {
  it("flags a sign-in 300 m outside the site's radius, and does not take it as on time", async () => {
    await judge({ influx, registry, now: at(WED, "18:00") });
    const flagged = await rows(
      `SELECT "person", "count", "distance_m", "beyond_m" FROM "raw"."site_presence" WHERE "finding" = 'outside_radius' AND ${onDay(WED)}`,
    );
    expect(flagged).toMatchObject([{ person: "s1", count: 1, distance_m: 500, beyond_m: 300 }]);
    const attendance = await rows(`SELECT "person", "status", "level" FROM "raw"."attendance" WHERE ${onDay(WED)}`);
    expect(attendance.map((a) => `${a.person}:${a.status}`)).toEqual(["s1:review"]);
  });

  it("judges a chief supervisor who checked in on two days of a week against a rule of three missing once", async () => {
    // Thursday evening: the week is not over, nothing is missed yet (and the sign-in from 2 km away is flagged).
    await judge({ influx, registry, now: at(THU, "19:00") });
    expect(await rows(`SELECT "count" FROM "raw"."site_presence" WHERE "finding" = 'missed_checkin' AND "person" = 'chief'`)).toEqual([]);
    expect(
      await rows(`SELECT "beyond_m" FROM "raw"."site_presence" WHERE "person" = 'chief' AND "finding" = 'outside_radius'`),
    ).toMatchObject([{ beyond_m: 1785 }]);

    // Friday after the last shift: Monday and Wednesday count, Thursday (outside) does not: one missed of three.
    const warnings: { subject: string; rule: string; message: string; contacts?: unknown }[] = [];
    const events = new EventEmitter<HubEvents>();
    events.on("warning", (w) => warnings.push(w));
    await judge({ influx, registry, now: at(FRI, "18:30"), events, times: 2 });
    const missed = await rows(
      `SELECT "count", "required" FROM "raw"."site_presence" WHERE "finding" = 'missed_checkin' AND "person" = 'chief'`,
    );
    expect(missed).toMatchObject([{ count: 1, required: 3 }]);
    const deductions = await rows(`SELECT "rule", "points" FROM "raw"."deduction" WHERE "subject" = 'chief' AND ${onDay(FRI)}`);
    expect(deductions).toMatchObject([{ rule: "missed_checkin", points: -2 }]);
    const scores = await rows(`SELECT "score" FROM "raw"."score_daily" WHERE "subject" = 'chief' AND ${onDay(FRI)}`);
    expect(scores).toMatchObject([{ score: 98 }]);
    // Judged by check-ins, not per shift: no attendance points for him on any day of the week.
    expect(await rows(`SELECT "status", "level" FROM "raw"."attendance" WHERE "person" = 'chief'`)).toEqual([]);
    const chief = warnings.filter((w) => w.subject === "chief");
    expect(chief).toHaveLength(1);
    expect(chief[0]).toMatchObject({
      rule: "missed_checkin",
      message: "地铁站工地：孙浩 本周到场签到 2 天，要求 3 天，缺 1 次，计为脱岗",
      contacts: [{ name: "Zhang Min", phone: "+8613800000009" }],
    });
  });

  it("counts each set time of the day without a check-in as missing from post, once the time has passed", async () => {
    await judge({ influx, registry, now: at(WED, "12:00") });
    expect(await rows(`SELECT "count" FROM "raw"."site_presence" WHERE "person" = 'chief2' AND ${onDay(WED)}`)).toEqual([]);
    await judge({ influx, registry, now: at(WED, "18:30") });
    const missed = await rows(`SELECT "count", "required" FROM "raw"."site_presence" WHERE "person" = 'chief2' AND ${onDay(WED)}`);
    expect(missed).toMatchObject([{ count: 1, required: 3 }]);
    const warnings = await rows(`SELECT "message" FROM "raw"."warning" WHERE "subject" = 'chief2' AND ${onDay(WED)}`);
    expect(warnings).toMatchObject([{ message: "地铁站工地：吴涛 未在 11:30–13:30 到场签到，计为脱岗" }]);
  });

  it("counts outside sign-ins and missed check-ins per site in the monthly report", async () => {
    await judge({ influx, registry, now: at(FRI, "18:30") });
    const report = await monthlyReport(influx, registry, "2026-11", SupervisionSettings.parse({}).scoring);
    expect(report.sites).toEqual([{ id: "site-1", name: "地铁站工地", outsideRadius: 2, missedCheckins: 2 }]);
    const html = renderReport(report, registry);
    expect(html).toMatch(/<tr><td>地铁站工地<\/td><td>2<\/td><td>2<\/td><\/tr>/);
    expect(html).toContain("未到场签到（脱岗）");
  });

  it("shows the same counts per site on the sites dashboard, and who signed in how far outside", async () => {
    const sites = allDashboards("en").find((d) => d.uid === UIDS.sites)!;
    const panel = (title: string) => sites.panels.find((p) => p.title === title)!;
    // As Grafana sends it for the scripted week: All for every variable, the week as the time range.
    const asSent = (query: string) =>
      query
        .replaceAll("$timeFilter", `time >= ${at(MON, "00:00")}ms AND time < ${at("2026-11-23", "00:00")}ms`)
        .replace(/\$(region|town|site)\b/g, ".*");
    const counts: Record<string, unknown> = {};
    for (const target of panel("Sign-ins outside the site and missed check-ins per site").targets) {
      const answer = await influxd.query(asSent(target.query), "supervision");
      for (const series of answer.results[0]?.series ?? []) counts[`${series.tags?.site}/${series.columns[1]}`] = series.values[0]?.[1];
    }
    expect(counts).toEqual({ "site-1/outside radius": 2, "site-1/missed check-ins": 2 });
    const table = await influxd.query(asSent(panel("Sign-ins outside the site").targets[0]!.query), "supervision");
    const shown = (table.results[0]?.series?.[0]?.values ?? []).map((v) => v.slice(1));
    expect(shown).toEqual([
      ["s1", 500, 300],
      ["chief", 2000, 1785],
    ]);
  });
});

/** A real HTTP server standing in for the centre's webhook and an SMS gateway. */
async function receiver() {
  const received: { path: string; body: Record<string, unknown> }[] = [];
  const port = await freePort();
  const server = createServer((req: IncomingMessage, res) => {
    let data = "";
    req.on("data", (c) => (data += c));
    req.on("end", () => {
      received.push({ path: req.url ?? "", body: JSON.parse(data) as Record<string, unknown> });
      res.writeHead(200).end("{}");
    });
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", () => r()));
  return { url: `http://127.0.0.1:${port}`, received, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** Waits for `condition` (polled by the hub tests' one waitFor), at most `timeoutMs`. */
const until = (condition: () => boolean, what: string, timeoutMs = 60_000): Promise<true> =>
  waitFor(() => (condition() ? true : undefined), timeoutMs, what);

describe("the demo construction site", () => {
  it("sends its supervisors' absence and lateness to the notification channels, with the site's contacts, once across a restart", async () => {
    const hook = await receiver();
    const dir = tempDir("demo-site-registry-");
    writeFileSync(
      join(dir, "demo-site.yaml"),
      stringify(registryFromScenario(demoSiteScenario, { secret: "s", publicKeyPem: generateGatewayKeys().publicKeyPem })),
    );
    const demo = loadRegistry(dir);
    const [sup1, sup2, sup3, sup4] = demoSiteScenario.people.map((p) => p.id) as [string, string, string, string];
    const site = { lat: demoSiteScenario.site.lat!, lon: demoSiteScenario.site.lon!, accuracyM: 12 };
    const term = demoSiteScenario.devices[0]!.id;
    const demoSignin = (person: string, hhmm: string): Reading => ({ ...signin(person, at(THU, hhmm), site), deviceId: term });
    // Thursday: the first and third on time, the second 40 minutes late, the fourth (徐明) not there at all.
    await writeReadings(influx, demo, [demoSignin(sup1, "07:52"), demoSignin(sup2, "08:40"), demoSignin(sup3, "07:58")]);
    // The site's terminal has reported for a week: its system existed before Thursday, so Thursday is judged.
    const weekAgo = at(THU, "07:00") - 7 * 86_400_000;
    await writeReadings(influx, demo, [
      { kind: "heartbeat", deviceId: term, seq: ++seq, ts: weekAgo, rxTs: weekAgo, intervalS: 60, uptimeS: 60 },
    ]);

    const settings = SupervisionSettings.parse({
      intervalMs: 3_600_000,
      notifications: {
        channels: [
          { name: "centre", kind: "webhook", url: `${hook.url}/hook` },
          { name: "duty-sms", kind: "sms", url: `${hook.url}/sms`, to: ["+8613800000001"] },
        ],
      },
    });
    const dataDir = tempDir("demo-site-hub-");
    const startHub = async (now: number) => {
      const routes: Routes = new Map();
      const extension = createSupervisionExtension(settings);
      await extension.start(rulesContext({ influx, registry: demo, now, routes, dataDir }));
      await runNow(routes);
      return extension;
    };
    // The notices about supervisors (the equipment rule also reports the terminal when it falls silent).
    const notices = () =>
      hook.received.filter((r) =>
        r.path === "/hook" ? String(r.body.rule).startsWith("supervisor_") : String(r.body.text).includes("监理"),
      );
    const pending = (extension: Awaited<ReturnType<typeof startHub>>) =>
      (extension.status().notifications as { pending: number } | null)?.pending ?? -1;

    try {
      // 10:00: the site's terminal has not been heard from since 08:00 (its network is down): the late supervisor is
      // reported, the one with no sign-in not yet (his sign-in may still be on the way).
      const first = await startHub(at(THU, "10:00"));
      await until(() => notices().length >= 3 && pending(first) === 0, "the lateness delivered");
      await first.stop();
      expect(
        notices()
          .filter((r) => r.path === "/hook")
          .map((r) => `${String(r.body.subject)}:${String(r.body.rule)}`),
      ).toEqual([`${sup2}:supervisor_late`]);

      // The terminal is heard from at 10:30 and has nothing from 徐明: the hub, restarted at 11:00, reports him absent.
      await writeReadings(influx, demo, [
        { kind: "heartbeat", deviceId: term, seq: ++seq, ts: at(THU, "10:30"), rxTs: at(THU, "10:30"), intervalS: 60, uptimeS: 9000 },
      ]);
      const second = await startHub(at(THU, "11:00"));
      // Two warnings in all, each to the webhook and by SMS to the duty number and the site's contact.
      await until(() => notices().length >= 6 && pending(second) === 0, "six notifications delivered");
      await second.stop();
      const hooks = notices()
        .filter((r) => r.path === "/hook")
        .map((r) => r.body);
      expect(hooks.map((h) => `${h.subject}:${h.rule}`).sort()).toEqual([`${sup2}:supervisor_late`, `${sup4}:supervisor_absent`]);
      expect(hooks.find((h) => h.subject === sup4)).toMatchObject({
        site: "site-demo",
        subjectKind: "supervisor",
        message: "滨江地铁站工地：监理 徐明 缺勤（08:00 开始的班次没有有效签到）",
        contacts: [{ name: "刘建国（建设单位项目负责人）", phone: "+86 138 0000 0000" }],
      });
      expect(hooks.find((h) => h.subject === sup2)?.message).toBe("滨江地铁站工地：监理 周强 迟到 40 分钟（应 08:00 到岗，08:40 签到）");
      const sms = notices()
        .filter((r) => r.path === "/sms")
        .map((r) => `${String(r.body.to)} ${String(r.body.text)}`);
      expect(sms.filter((m) => m.startsWith("+86 138 0000 0000 [warning] site-demo: 滨江地铁站工地：监理 徐明 缺勤"))).toHaveLength(1);
      expect(sms.filter((m) => m.startsWith("+8613800000001 "))).toHaveLength(2);

      // The hub restarts two hours later (past the de-duplication period) and judges the same day again: nothing new.
      const third = await startHub(at(THU, "13:00"));
      await until(() => pending(third) === 0, "the restarted hub's outbox empty");
      await third.stop();
      expect(notices()).toHaveLength(6);
    } finally {
      await hook.close();
    }
  });
});
