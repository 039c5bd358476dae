import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { localTimeToUtc } from "@supervision/firmware-protocols";
import { freePort, startInfluxd } from "@supervision/test-support";
import { InfluxDB } from "influx";
import { ensureDatabase } from "../src/influx/setup.ts";
import type { IPoint } from "influx";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import type { WarningEvent } from "../src/controller/extension.ts";
import { NotificationSettings, Notifier } from "../src/supervision/notify.ts";

/** A real HTTP server standing in for a webhook receiver or an SMS gateway; fails the first `failures` requests. */
async function receiver(failures = 0) {
  const received: { path: string; body: Record<string, unknown> }[] = [];
  let toFail = failures;
  const port = await freePort();
  const server: Server = createServer((req: IncomingMessage, res) => {
    let data = "";
    req.on("data", (c) => (data += c));
    req.on("end", () => {
      if (toFail > 0) {
        toFail--;
        res.writeHead(503).end();
        return;
      }
      received.push({ path: req.url ?? "", body: JSON.parse(data) as Record<string, unknown> });
      res.writeHead(200).end("{}");
    });
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", () => r()));
  return { url: `http://127.0.0.1:${port}`, received, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

function notifier(settings: unknown, clock: { now: number }, dataDir?: string) {
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), "notify-test-"));
  if (!dataDir) cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const records: IPoint[] = [];
  const n = new Notifier(NotificationSettings.parse(settings), {
    dataDir: dir,
    logger: pino({ level: "silent" }),
    now: () => clock.now,
    record: async (points) => {
      records.push(...points);
    },
    tzOf: () => "Asia/Shanghai",
  });
  return { n, records, dir };
}

const warning = (over: Partial<WarningEvent> = {}): WarningEvent => ({
  ts: 0,
  site: "hall-1",
  category: "people",
  subjectKind: "window",
  subject: "w1",
  rule: "unattended",
  severity: "warning",
  active: true,
  message: "window 1 unattended for 40 min",
  ...over,
});
const NOON = localTimeToUtc("2026-11-18", "12:00", "Asia/Shanghai");

describe("notifications", () => {
  it("retries a failing webhook until it takes the warning, and records every attempt", async () => {
    const hook = await receiver(2);
    cleanups.push(hook.close);
    const clock = { now: NOON };
    const { n, records } = notifier({ channels: [{ name: "centre", kind: "webhook", url: hook.url }], retryBaseMs: 10 }, clock);
    n.notify(warning());
    for (let i = 0; i < 3; i++) {
      await n.deliver();
      clock.now += 100;
    }
    expect(hook.received).toHaveLength(1);
    expect(hook.received[0]!.body).toMatchObject({
      site: "hall-1",
      subject: "w1",
      rule: "unattended",
      text: expect.stringMatching(/unattended/),
    });
    expect(records.map((p) => p.tags!.status)).toEqual(["retrying", "retrying", "sent"]);
    expect(n.pending()).toBe(0);
  });

  it("sends a warning once within the de-duplication period, and escalations to the second contact too", async () => {
    const sms = await receiver();
    cleanups.push(sms.close);
    const clock = { now: NOON };
    const { n } = notifier(
      { channels: [{ name: "duty", kind: "sms", url: `${sms.url}/send`, to: ["+8613800000001"], escalateTo: ["+8613800000002"] }] },
      clock,
    );
    n.notify(warning());
    n.notify(warning());
    await n.deliver();
    expect(sms.received.map((r) => r.body.to)).toEqual(["+8613800000001"]);
    n.notify(warning({ severity: "escalation", message: "window 1 unattended a third time" }));
    await n.deliver();
    expect(sms.received.map((r) => r.body.to)).toEqual(["+8613800000001", "+8613800000001", "+8613800000002"]);
    expect(sms.received[2]!.body.text).toMatch(/\[escalation\] hall-1: window 1 unattended a third time/);
    clock.now += 61 * 60_000;
    n.notify(warning()); // the same episode announced again: already handled
    n.notify(warning({ ts: 3_600_000 })); // a new episode, past the de-duplication period
    await n.deliver();
    expect(sms.received).toHaveLength(4);
  });

  it("sends a warning about a site's people to its registry contacts too, and never twice across a restart", async () => {
    const sms = await receiver();
    cleanups.push(sms.close);
    const clock = { now: NOON };
    const settings = { channels: [{ name: "duty", kind: "sms", url: `${sms.url}/send`, to: ["+8613800000001"] }] };
    const absent = warning({
      subjectKind: "supervisor",
      subject: "sup-01",
      rule: "supervisor_absent",
      ts: NOON - 4 * 3_600_000,
      message: "工地：监理 孙浩 缺勤",
      contacts: [
        { name: "Zhang Min", phone: "+8613800000009" },
        { name: "Duty", phone: "+8613800000001" },
      ],
    });
    const first = notifier(settings, clock);
    first.n.notify(absent);
    await first.n.deliver();
    expect(sms.received.map((r) => r.body.to)).toEqual(["+8613800000001", "+8613800000009"]);
    expect(sms.received[0]!.body.text).toContain("缺勤");
    clock.now += 2 * 3_600_000; // past the de-duplication period, as after a restart later in the day
    const second = notifier(settings, clock, first.dir);
    second.n.notify(absent);
    await second.n.deliver();
    expect(second.n.pending()).toBe(0);
    expect(sms.received).toHaveLength(2);
  });

  it("holds plain warnings through a quiet period, but not escalations", async () => {
    const hook = await receiver();
    cleanups.push(hook.close);
    const clock = { now: localTimeToUtc("2026-11-18", "23:00", "Asia/Shanghai") };
    const { n } = notifier(
      { channels: [{ name: "centre", kind: "webhook", url: hook.url }], quietPeriods: [{ start: "22:00", end: "07:00" }] },
      clock,
    );
    n.notify(warning());
    n.notify(warning({ subject: "w2", severity: "escalation" }));
    await n.deliver();
    expect(hook.received.map((r) => r.body.subject)).toEqual(["w2"]);
    clock.now = localTimeToUtc("2026-11-19", "07:00", "Asia/Shanghai");
    await n.deliver();
    expect(hook.received.map((r) => r.body.subject)).toEqual(["w2", "w1"]);
  });

  it("keeps undelivered notifications across a restart, and gives up visibly after the last attempt", async () => {
    const port = await freePort();
    const clock = { now: NOON };
    const settings = { channels: [{ name: "centre", kind: "webhook", url: `http://127.0.0.1:${port}` }], retryBaseMs: 10, maxAttempts: 3 };
    const first = notifier(settings, clock);
    first.n.notify(warning());
    await first.n.deliver(); // nobody listens yet
    expect(first.records.map((p) => p.tags!.status)).toEqual(["retrying"]);

    const second = notifier(settings, clock, first.dir); // the hub restarted
    expect(second.n.pending()).toBe(1);
    clock.now += 1000;
    await second.n.deliver();
    clock.now += 1000;
    await second.n.deliver();
    expect(second.records.map((p) => p.tags!.status)).toEqual(["retrying", "failed"]);
    expect(second.n.pending()).toBe(0);
    expect(second.n.counts.gaveUp).toBe(1);
  });

  it("refuses settings with a bad URL or an empty SMS list, naming the key", () => {
    expect(() => NotificationSettings.parse({ channels: [{ name: "x", kind: "webhook", url: "not a url" }] })).toThrow(/url/i);
    expect(() => NotificationSettings.parse({ channels: [{ name: "x", kind: "sms", url: "http://sms", to: [] }] })).toThrow(/to/);
    expect(() => NotificationSettings.parse({ channels: [{ name: "x", kind: "pager", url: "http://x" }] })).toThrow();
  });

  it("with the record shared in InfluxDB: two copies send a warning once, a copy that lost the lease none, and an unreadable record delays, never doubles", async () => {
    const influxd = await startInfluxd();
    cleanups.push(() => influxd.close());
    const influx = new InfluxDB({ host: "127.0.0.1", port: influxd.port, database: "supervision" });
    await ensureDatabase(influx, "supervision", pino({ level: "silent" }));
    const hook = await receiver();
    cleanups.push(hook.close);
    const clock = { now: NOON };
    const down = { yes: false };
    // The client as the copy sees it: every call refused while `down` (the central InfluxDB unreachable).
    const link = new Proxy(influx, {
      get(target, prop, receiver) {
        const value: unknown = Reflect.get(target, prop, receiver);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) =>
          down.yes ? Promise.reject(new Error("connect ECONNREFUSED")) : (value as (...a: unknown[]) => unknown).apply(target, args);
      },
    });
    const holds = { a: true, b: true };
    const copy = (name: "a" | "b") => {
      const dir = mkdtempSync(join(tmpdir(), "notify-shared-"));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      return new Notifier(NotificationSettings.parse({ channels: [{ name: "centre", kind: "webhook", url: hook.url }], retryBaseMs: 10 }), {
        dataDir: dir,
        logger: pino({ level: "silent" }),
        now: () => clock.now,
        record: async () => {},
        tzOf: () => "Asia/Shanghai",
        shared: { influx: name === "a" ? link : influx, copy: `copy-${name}`, fence: async () => holds[name] },
      });
    };
    const a = copy("a");
    const b = copy("b");
    // copy-a sends it; copy-b, taking the site over, announces the same episode again and sends nothing.
    a.notify(warning());
    await a.deliver();
    b.notify(warning());
    await b.deliver();
    expect(hook.received.map((r) => r.body.subject)).toEqual(["w1"]);
    // A copy that no longer holds the site's lease sends nothing for it, even a new episode.
    holds.b = false;
    b.notify(warning({ ts: 60_000, subject: "w2" }));
    await b.deliver();
    expect(hook.received.length).toBe(1);
    // copy-a with the central InfluxDB unreachable: the warning waits (pending), then goes once when it answers.
    down.yes = true;
    a.notify(warning({ ts: 120_000, subject: "w3" }));
    await a.deliver();
    expect(a.pending()).toBe(1);
    expect(hook.received.length).toBe(1);
    down.yes = false;
    clock.now += 10;
    await a.deliver();
    await a.deliver();
    expect(a.pending()).toBe(0);
    expect(hook.received.map((r) => r.body.subject)).toEqual(["w1", "w3"]);
    // What every copy reads: one record per episode, with the copy that decided it.
    const rows = await influx.query<{ episode: string; copy: string; queued: number }>(
      `SELECT "episode", "copy", "queued" FROM "raw"."notification_sent"`,
    );
    expect(rows.map((r) => [r.episode, r.copy, r.queued])).toEqual([
      ["hall-1/w1/unattended/warning/0", "copy-a", 1],
      ["hall-1/w3/unattended/warning/120000", "copy-a", 1],
    ]);
  }, 90_000);
});
