/**
 * Two hub copies' supervision on one real influxd, with site leases: each site judged by one copy; a copy cut off
 * from InfluxDB (as good as dead: it renews nothing, writes nothing) loses its sites to the other after the lease,
 * no notification reaches the webhook twice; a fresh copy with the same name gets its share back.
 */
import { createServer, type Server } from "node:http";
import { localTimeToUtc, type Reading } from "@supervision/firmware-protocols";
import { freePort, startInfluxd, type TestInfluxd } from "@supervision/test-support";
import { InfluxDB } from "influx";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "./ingest-fixtures.ts";
import type { HubExtension, WarningEvent } from "../src/controller/extension.ts";
import { leaseTable } from "../src/cli/status.ts";
import { ensureDatabase } from "../src/influx/setup.ts";
import { createSupervisionExtension, preferredCopy, SupervisionSettings } from "../src/supervision/index.ts";
import { provinceRegistry } from "./regions-fixtures.ts";
import { rulesContext, type Routes, writeReadings } from "./supervision-fixtures.ts";

const TZ = "Asia/Shanghai";
let influxd: TestInfluxd;
let influx: InfluxDB;
beforeAll(async () => {
  influxd = await startInfluxd();
  influx = new InfluxDB({ host: "127.0.0.1", port: influxd.port, database: "supervision" });
  await ensureDatabase(influx, "supervision", (await import("pino")).default({ level: "silent" }));
}, 90_000);
afterAll(() => influxd?.close());

/** A real webhook endpoint counting what it is sent. */
async function webhook() {
  const received: WarningEvent[] = [];
  const port = await freePort();
  const server: Server = createServer((req, res) => {
    let data = "";
    req.on("data", (c) => (data += c));
    req.on("end", () => {
      received.push(JSON.parse(data) as WarningEvent);
      res.writeHead(200).end("{}");
    });
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", () => r()));
  return { url: `http://127.0.0.1:${port}/hook`, received, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** The hub tests' waitFor, with a condition that says yes or no. */
const until = (what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 60_000) =>
  waitFor(async () => (await condition()) || undefined, timeoutMs, what);

/** The client, or (once cut) one whose every call fails, as for a copy whose process froze or lost its network. */
function cuttable(client: InfluxDB) {
  const state = { cut: false };
  const proxy = new Proxy(client, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) =>
        state.cut ? Promise.reject(new Error("cut off")) : (value as (...a: unknown[]) => unknown).apply(target, args);
    },
  });
  return { influx: proxy, state };
}

describe("supervision on two hub copies with site leases", () => {
  it("judges each site on one copy, moves a dead copy's sites, and never notifies twice", async () => {
    const { registry } = provinceRegistry();
    registry.rosters.set("day", {
      id: "day",
      shifts: [{ start: "09:00", end: "17:00" }],
      workingDays: ["mon", "tue", "wed", "thu", "fri"],
      graceMinutes: 5,
      absentAfterMinutes: 60,
      holidays: [],
      workdays: [],
      exceptions: [],
    });
    // Two more halls like hall2: four sites, each with a clerk 6 of 10 satisfied today (a warning for clerk and window).
    for (const i of [3, 4]) {
      registry.sites.set(`hall${i}`, { id: `hall${i}`, kind: "hall", name: `大厅${i}`, town: "t2", tz: TZ, gateway: "gw2" });
      registry.windows.set(`w${i}`, { id: `w${i}`, site: `hall${i}`, name: `Window ${i}`, department: "tax", unattendedAfterMinutes: 30 });
      registry.people.set(`p${i}`, {
        id: `p${i}`,
        name: `Clerk ${i}`,
        role: "clerk",
        post: "",
        site: `hall${i}`,
        window: `w${i}`,
        roster: "day",
      });
      registry.devices.set(`kp${i}`, { id: `kp${i}`, kind: "keypad", site: `hall${i}`, window: `w${i}`, heartbeatS: 60, scale: "four" });
    }
    const sites = ["hall1", "hall2", "hall3", "hall4"];
    const now = localTimeToUtc("2026-11-16", "17:30", TZ); // a Monday
    const at = (minute: number) => localTimeToUtc("2026-11-16", "10:00", TZ) + minute * 60_000;
    let seq = 0;
    const readings: Reading[] = [];
    for (const i of [1, 2, 3, 4])
      for (let k = 0; k < 10; k++)
        readings.push({
          kind: "rating",
          v: 1,
          deviceId: `kp${i}`,
          seq: ++seq,
          ts: at(k),
          rxTs: at(k),
          windowId: `w${i}`,
          clerkId: `p${i}`,
          outcome: "rated",
          scale: "four",
          key: k < 6 ? 2 : 4,
          level: k < 6 ? "satisfied" : "dissatisfied",
        } as Reading);
    await writeReadings(influx, registry, readings);

    const hook = await webhook();
    const settings = SupervisionSettings.parse({
      intervalMs: 1000,
      leases: { enabled: true, seconds: 3, settleMs: 300 },
      notifications: { channels: [{ name: "centre", kind: "webhook", url: hook.url }], retryBaseMs: 10 },
    });
    /** Which copy's rules raised warnings for which site (every run announces what changed for that copy). */
    const judgedBy = new Map<string, Set<string>>();
    /** Every warning episode any copy announced: each must reach the webhook exactly once. */
    const announced = new Set<string>();
    const started: HubExtension[] = [];
    async function copy(name: string) {
      const link = cuttable(influx);
      const ctx = rulesContext({ influx: link.influx, registry, now, routes: new Map() as Routes });
      ctx.events.on("warning", (w) => {
        judgedBy.set(w.site, new Set([...(judgedBy.get(w.site) ?? []), name]));
        if (w.active) announced.add(`${w.site}/${w.subject}/${w.rule}/${w.severity}/${w.ts}`);
      });
      const extension = createSupervisionExtension(settings, { copyName: name });
      await extension.start(ctx);
      started.push(extension);
      return { extension, link };
    }
    const leasesOf = (e: HubExtension) =>
      (e.status() as { leases: { sites: { site: string; owner: string; term: number; expires: string }[] } }).leases.sites;
    const keys = () => hook.received.map((w) => `${w.site}/${w.subject}/${w.rule}/${w.severity}/${w.ts}`);
    const allDelivered = () => announced.size > 0 && keys().length >= announced.size && [...announced].every((k) => keys().includes(k));
    const pending = (e: HubExtension) => (e.status() as { notifications: { pending: number } | null }).notifications?.pending ?? 0;
    try {
      const a = await copy("copy-a");
      const b = await copy("copy-b");
      // Every site judged; every warning announced delivered once.
      await until("every site judged and its warnings delivered", () => sites.every((x) => judgedBy.has(x)) && allDelivered());
      // (Each site by one copy at a time: a copy that started alone may judge all four before handing two over, so
      // a site may have been judged by both; that two never hold one site at once is supervision-leases.test.ts's.)
      expect(announced.size).toBeGreaterThanOrEqual(8); // 2 satisfaction_day per site, besides others
      expect(keys().sort()).toEqual([...announced].sort());
      await until("both copies holding sites", () => new Set(leasesOf(a.extension).map((l) => l.owner)).size === 2);
      const ofA = leasesOf(a.extension)
        .filter((l) => l.owner === "copy-a")
        .map((l) => l.site);
      expect(ofA.length).toBeGreaterThan(0);
      const termsOfA = new Map(leasesOf(a.extension).map((l) => [l.site, l.term]));

      // copy-a dies (cut off from InfluxDB: it renews nothing, writes nothing). Its sites move to copy-b.
      a.link.state.cut = true;
      for (const s of ofA) judgedBy.delete(s);
      await until(
        "copy-a's sites held by copy-b",
        () => leasesOf(b.extension).every((l) => l.owner === "copy-b") && leasesOf(b.extension).length === 4,
      );
      // copy-b judges them (its warnings for them announced), and sends nothing copy-a had sent.
      await until("copy-b judged copy-a's sites", () => ofA.every((s) => judgedBy.get(s)?.has("copy-b")));
      const table = leasesOf(b.extension);
      expect(table.map((l) => `${l.site}:${l.owner}`).sort()).toEqual(sites.map((x) => `${x}:copy-b`));
      // `hub status` prints them as a table: the lease of each hall copy-a had moved to the next term.
      const printed = leaseTable({ extensions: { supervision: { detail: b.extension.status() } } })!.split("\n");
      expect(printed[0]).toMatch(/^site leases \(this copy copy-b; live copies copy-b\):$/);
      expect(printed[1]).toBe("site   owner   term  expires");
      expect(printed.slice(2)).toEqual(table.map((l) => `${l.site}  copy-b  ${String(l.term).padEnd(4)}  ${l.expires}`));
      for (const l of table.filter((x) => ofA.includes(x.site))) expect(l.term).toBe(termsOfA.get(l.site)! + 1);
      // copy-a, frozen, sent nothing more; copy-b sent nothing copy-a had sent: each announced warning delivered once.
      await until("copy-b's notifications out", () => allDelivered() && pending(b.extension) === 0);
      await b.extension.stop(); // in order: its run finished, its leases released
      expect(keys().sort()).toEqual([...announced].sort());

      // copy-a comes back as a fresh process with the same name, beside a fresh copy-b: both get sites again.
      await a.extension.stop();
      const a2 = await copy("copy-a");
      const b2 = await copy("copy-b");
      // Each site goes to the copy that prefers it (rendezvous hashing: two each for these names).
      const preferred = sites.map((x) => `${x}:${preferredCopy(x, ["copy-a", "copy-b"])}`);
      expect(preferred.filter((x) => x.endsWith("copy-a")).length).toBe(2);
      await until("both copies holding their preferred sites again", () => {
        const owners = leasesOf(a2.extension).map((l) => `${l.site}:${l.owner}`);
        return owners.sort().join() === preferred.join();
      });
      // copy-b's table agrees once its own round has read the same claims.
      await until(
        "copy-b agreeing",
        () =>
          leasesOf(b2.extension)
            .map((l) => `${l.site}:${l.owner}`)
            .join() === preferred.join(),
      );
      // They judge again (their announcers start empty): the shared record keeps every warning at one delivery.
      await until("both fresh copies ran", () =>
        [a2, b2].every((c) => (c.extension.status() as { lastRunAt: number | null }).lastRunAt !== null),
      );
      await until("their notifications decided", () => allDelivered() && pending(a2.extension) + pending(b2.extension) === 0);
      await a2.extension.stop();
      await b2.extension.stop();
      expect(keys().sort()).toEqual([...announced].sort());
      const sent = await influx.query<{ episode: string }>(`SELECT "episode", "copy" FROM "raw"."notification_sent"`);
      expect(sent.map((r) => r.episode).sort()).toEqual([...announced].sort());
    } finally {
      for (const e of started) await e.stop().catch(() => undefined);
      await hook.close();
    }
  }, 180_000);
});
