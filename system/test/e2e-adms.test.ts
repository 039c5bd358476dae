/**
 * Recorded real-terminal traffic through the whole chain as deployed: the recorded ATTLOG request, byte for byte, at a
 * real gateway process's ADMS server → signed batch → the hub → InfluxDB. The gateway learns the terminal's serial and
 * the people's PINs from the hub's registry. The terminal sends the body twice (it got no OK the first time): the
 * sign-ins are in InfluxDB once, with the right person, time and site. Today the site's supervisors have not signed in:
 * the hub's rules judge them absent and its notifier posts the warnings, with the site's contacts, to a local webhook.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, startInfluxd, type TestInfluxd } from "@supervision/test-support";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { loadOrCreateKeys } from "@supervision/gateway";
import { admsFixture, admsRequestLine, type GatewayUnderTest, gatewayProcess, rawRequest, waitFor } from "@supervision/gateway/testing";
import { Hub, HubSettings } from "@supervision/hub";

let influxd: TestInfluxd;
let hub: Hub;
let gateway: GatewayUnderTest;
let dir: string;
let admsPort: number;
let webhook: Server;
const notified: Record<string, unknown>[] = [];

// A fixed-offset zone in which it is now mid-afternoon, so today's 08:00 shift has begun more than an hour ago.
const offset = (((15 - new Date().getUTCHours()) % 24) + 24) % 24;
const hours = offset > 14 ? offset - 24 : offset;
const SITE_TZ = hours === 0 ? "Etc/GMT" : `Etc/GMT${hours > 0 ? "-" : "+"}${Math.abs(hours)}`;

beforeAll(async () => {
  influxd = await startInfluxd();
  dir = mkdtempSync(join(tmpdir(), "hub-e2e-adms-"));
  admsPort = await freePort();
  const webhookPort = await freePort();
  webhook = createServer((req, res) => {
    let data = "";
    req.on("data", (c: Buffer) => (data += c.toString()));
    req.on("end", () => {
      notified.push(JSON.parse(data) as Record<string, unknown>);
      res.writeHead(200).end("{}");
    });
  });
  await new Promise<void>((r) => webhook.listen(webhookPort, "127.0.0.1", () => r()));
  gateway = await gatewayProcess({ gatewayId: "gw-site-e2e", extra: { adms: { host: "127.0.0.1", port: admsPort } } });
  const { publicKeyPem } = loadOrCreateKeys(gateway.dataDir);
  mkdirSync(join(dir, "registry"));
  writeFileSync(
    join(dir, "registry", "site.yaml"),
    stringify({
      regions: [{ id: "east", name: "East" }],
      towns: [{ id: "riverside", name: "Riverside", region: "east" }],
      sites: [
        {
          id: "site-1",
          kind: "site",
          name: "Metro Station Site",
          town: "riverside",
          tz: SITE_TZ,
          gateway: "gw-site-e2e",
          location: { lat: 31.2304, lon: 121.4737, radiusM: 300 },
          contacts: [{ name: "Zhang Min", phone: "+8613800000009" }],
        },
      ],
      rosters: [
        { id: "site-day", shifts: [{ start: "08:00", end: "17:00" }], workingDays: ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] },
      ],
      people: [
        { id: "sup-01", name: "孙浩", role: "supervisor", post: "Chief supervisor", site: "site-1", roster: "site-day", pin: "1" },
        { id: "sup-04", name: "徐明", role: "supervisor", post: "Site supervisor", site: "site-1", roster: "site-day", pin: "4" },
      ],
      gateways: [{ id: "gw-site-e2e", site: "site-1", secret: "gateway-secret", publicKey: publicKeyPem }],
      // The recorded terminal's clock is set to Beijing time, whatever the zone the site is judged in.
      devices: [
        { id: "term-site-1", kind: "terminal", site: "site-1", adms: { serialNumber: "BOCK200961014", timeZone: "Asia/Shanghai" } },
      ],
    }),
  );
  const brokerPort = await freePort();
  hub = new Hub(
    HubSettings.parse({
      influx: { url: influxd.url },
      broker: { port: brokerPort, host: "127.0.0.1" },
      http: { port: await freePort() },
      registry: { dir: join(dir, "registry") },
      dataDir: join(dir, "hub"),
      supervision: {
        intervalMs: 1000,
        notifications: { channels: [{ name: "centre", kind: "webhook", url: `http://127.0.0.1:${webhookPort}/hook` }] },
      },
    }),
    pino({ level: "warn" }),
  );
  await hub.start();
  // The site's terminal has reported for a week (a heartbeat as the ingest writes it): its system existed before
  // today's shift, so today is judged (the rules judge no day that began before a site was first heard).
  const weekAgo = Date.now() - 7 * 86_400_000;
  const seeded = await fetch(`${influxd.url}/write?db=supervision&rp=health&precision=ms`, {
    method: "POST",
    body: `heartbeat,device=term-site-1,device_kind=terminal,site=site-1 seq=1,uptime_s=60,interval_s=60 ${weekAgo}`,
  });
  expect(seeded.status).toBe(204);
  gateway.settings.hub = { url: `mqtt://127.0.0.1:${brokerPort}`, password: "gateway-secret" };
  await gateway.start();
});

afterAll(async () => {
  await gateway?.cleanup();
  await hub?.stop();
  await influxd?.close();
  await new Promise((r) => webhook?.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe("recorded ADMS punches", () => {
  it("reach InfluxDB as sign-ins with the right person, time and site, exactly once", async () => {
    const line = admsRequestLine;
    const body = admsFixture("BOCK200961014.attlog.body");
    // Until the hub's config reaches the gateway the serial is unknown (403): the terminal retries, as real ones do.
    await waitFor(
      "the terminal to be known",
      async () => (await rawRequest(admsPort, line("BOCK200961014.handshake.request.txt")).catch(() => ({ status: 0 }))).status === 200,
    );
    for (let i = 0; i < 2; i++) {
      const res = await rawRequest(admsPort, line("BOCK200961014.attlog.request.txt"), { body });
      expect(res.body.toString()).toBe("OK: 3");
    }
    let rows: Record<string, unknown>[] = [];
    await waitFor("the sign-ins in InfluxDB", async () => {
      const answer = await influxd.query("SELECT * FROM raw.signin WHERE device = 'term-site-1'", "supervision");
      const series = answer.results[0]?.series?.[0];
      rows = (series?.values ?? []).map((v) => Object.fromEntries(series!.columns.map((c, i) => [c, v[i]])));
      return rows.length >= 3;
    });
    // Everything the gateway buffered has reached the hub: the resent body added nothing.
    await waitFor("the gateway's buffer to drain", async () => {
      const status = (await (await fetch(`http://127.0.0.1:${gateway.httpPort}/api/status`)).json()) as { buffer: { depth: number } };
      return status.buffer.depth === 0;
    });
    const again = await influxd.query("SELECT * FROM raw.signin WHERE device = 'term-site-1'", "supervision");
    expect(again.results[0]?.series?.[0]?.values).toHaveLength(3);
    expect(rows.map((r) => [Number(r.time), r.person, r.site, r.site_kind, r.role, r.direction, r.method])).toEqual([
      // 2024-07-28 01:25:24 on the terminal, in Asia/Shanghai.
      [Date.UTC(2024, 6, 27, 17, 25, 24), "sup-01", "site-1", "site", "supervisor", "in", "fingerprint"],
      [Date.UTC(2024, 6, 28, 2, 41, 21), "sup-01", "site-1", "site", "supervisor", "in", "fingerprint"],
      [Date.UTC(2024, 6, 28, 2, 41, 31), "sup-04", "site-1", "site", "supervisor", "in", "fingerprint"],
    ]);
  });

  it("the site's absent supervisors reach the notification channel, with the site's contacts", async () => {
    await waitFor("both absences at the webhook", async () => notified.filter((n) => n.rule === "supervisor_absent").length >= 2, 120_000);
    const absent = notified
      .filter((n) => n.rule === "supervisor_absent")
      .sort((a, b) => String(a.subject).localeCompare(String(b.subject)));
    expect(absent.map((n) => [n.site, n.subjectKind, n.subject, n.message])).toEqual([
      ["site-1", "supervisor", "sup-01", "Metro Station Site：监理 孙浩 缺勤（08:00 开始的班次没有有效签到）"],
      ["site-1", "supervisor", "sup-04", "Metro Station Site：监理 徐明 缺勤（08:00 开始的班次没有有效签到）"],
    ]);
    expect(absent[0]!.contacts).toEqual([{ name: "Zhang Min", phone: "+8613800000009" }]);
    // The rules run every second and announce today's warnings again after a restart: each absence is still sent once.
    const supervision = () =>
      (hub.status().extensions.supervision as { detail: { lastRunAt: number | null; notifications: { pending: number } } }).detail;
    const from = Date.now();
    await waitFor(
      "a later run of the rules",
      async () => (supervision().lastRunAt ?? 0) >= from + 1000 && supervision().notifications.pending === 0,
      120_000,
    );
    expect(notified.filter((n) => n.rule === "supervisor_absent")).toHaveLength(2);
  });
});
