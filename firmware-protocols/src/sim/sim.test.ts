import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort, startMosquitto } from "@supervision/test-support";
import { Aedes } from "aedes";
import mqtt from "mqtt";
import { describe, expect, it } from "vitest";
import { NEGATIVE_LEVELS } from "../events.ts";
import { encodeGbk } from "../gbk.ts";
import { localTimeToUtc } from "../time.ts";
import { validateDeviceMessage, validateDeviceStatus } from "../validate.ts";
import { deviceTopics } from "../topics.ts";
import { approvalEvents, ApprovalSystemsPlayer } from "./approvals.ts";
import { generateDay, withExtraKeypads } from "./day.ts";
import { SimDevice } from "./device.ts";
import { backfill, LivePlayer, PlayPosition, SeqStore, toPayload } from "./player.ts";
import { demoHallScenario, demoSiteScenario } from "./scenario.ts";

const run = promisify(execFile);
const DATE = "2026-11-20";
const validateOpts = { now: Date.UTC(2027, 0, 1) };

describe("the demo scenarios' names", () => {
  it("are Chinese and survive GBK, as the site's ADMS terminal writes them", () => {
    expect(demoSiteScenario.people.map((p) => [p.id, p.name, p.post])).toEqual([
      ["sup-01", "孙浩", "总监理工程师"],
      ["sup-02", "周强", "安全监理工程师"],
      ["sup-03", "吴涛", "质量监理工程师"],
      ["sup-04", "徐明", "现场监理员"],
    ]);
    expect(demoHallScenario.windows.map((w) => w.name)).toEqual([
      "1号窗口",
      "2号窗口",
      "3号窗口",
      "4号窗口",
      "5号窗口",
      "6号窗口",
      "7号窗口",
      "8号窗口",
    ]);
    expect(demoHallScenario.departments.map((d) => d.name)).toEqual(["税务局", "人社局", "不动产登记中心", "市场监管局"]);
    const names = [...demoSiteScenario.people, ...demoHallScenario.people].map((p) => p.name);
    for (const name of names) {
      const bytes = encodeGbk(name);
      expect(bytes.includes(0x3f), name).toBe(false); // no character GBK lacks
      expect(bytes.length, name).toBe(name.length * 2);
      expect(new TextDecoder("gbk").decode(bytes)).toBe(name);
    }
  });
});

describe("generateDay", () => {
  it("is deterministic for a seed and differs between seeds", () => {
    const a = generateDay(demoHallScenario, { date: DATE, seed: 7 });
    expect(generateDay(demoHallScenario, { date: DATE, seed: 7 })).toEqual(a);
    expect(generateDay(demoHallScenario, { date: DATE, seed: 8 })).not.toEqual(a);
  });

  it("reads shift times in the zone it is given, the site's own by default", () => {
    const shanghai = generateDay(demoHallScenario, { date: DATE, seed: 3 });
    const utc = generateDay(demoHallScenario, { date: DATE, seed: 3, tz: "UTC" });
    expect(generateDay(demoHallScenario, { date: DATE, seed: 3, tz: "Asia/Shanghai" })).toEqual(shanghai);
    // Same day, same seed: the UTC day is the Shanghai day eight hours later.
    expect(utc.map((e) => e.at - 8 * 3_600_000)).toEqual(shanghai.map((e) => e.at));
  });

  it("plays a realistic working day", () => {
    let late = 0;
    let absent = 0;
    let rated = 0;
    let positive = 0;
    let negative = 0;
    let timeouts = 0;
    const days = 20;
    for (let seed = 1; seed <= days; seed++) {
      const day = generateDay(demoHallScenario, { date: DATE, seed });
      const firstIn = new Map<string, number>();
      for (const e of day)
        if (e.kind === "signin" && e.fields.direction === "in" && !firstIn.has(e.fields.personId as string))
          firstIn.set(e.fields.personId as string, e.at);
      absent += demoHallScenario.people.length - firstIn.size;
      const start = localTimeToUtc(DATE, "09:00", "Asia/Shanghai");
      for (const t of firstIn.values()) if (t > start + 5 * 60_000) late++;
      for (const e of day.filter((x) => x.kind === "rating")) {
        if (e.fields.outcome === "timeout") timeouts++;
        if (e.fields.outcome !== "rated") continue;
        rated++;
        if (e.fields.level === "very_satisfied" || e.fields.level === "satisfied") positive++;
        if (NEGATIVE_LEVELS.has(e.fields.level as never)) negative++;
      }
    }
    const people = demoHallScenario.people.length * days;
    expect(absent / people).toBeGreaterThan(0);
    expect(absent / people).toBeLessThan(0.15);
    expect(late / people).toBeGreaterThan(0.03);
    expect(late / people).toBeLessThan(0.35);
    expect(positive / rated).toBeGreaterThan(0.8);
    expect(negative).toBeGreaterThan(0);
    expect(timeouts).toBeGreaterThan(0);
    expect(rated / days).toBeGreaterThan(200); // 8 windows × ~7 h × 6 an hour × 85 %
  });

  it("shows motion only while the window's clerk is signed in", () => {
    const day = generateDay(demoHallScenario, { date: DATE, seed: 3 });
    const signedIn = new Map<string, boolean>();
    for (const e of day) {
      if (e.kind === "signin") signedIn.set(e.fields.personId as string, e.fields.direction === "in");
      if (e.kind === "motion" && e.fields.state === "start") {
        const clerk = demoHallScenario.people.find((p) => `cam-${p.windowId}` === e.deviceId)!;
        expect(signedIn.get(clerk.id)).toBe(true);
      }
    }
  });

  it("makes every event valid under the v1 schemas, for the hall, the site and extra load keypads", () => {
    for (const scenario of [withExtraKeypads(demoHallScenario, 5), demoSiteScenario]) {
      const day = generateDay(scenario, { date: DATE, seed: 1 });
      expect(day.some((e) => e.deviceId.startsWith("kp-load-") && e.kind === "rating") || scenario === demoSiteScenario).toBe(true);
      day.forEach((e, i) => {
        const result = validateDeviceMessage(deviceTopics.event(e.deviceId, e.kind), JSON.stringify(toPayload(e, i + 1)), validateOpts);
        expect(result.ok, JSON.stringify(result)).toBe(true);
      });
    }
    const site = generateDay(demoSiteScenario, { date: DATE, seed: 1 });
    expect(site.filter((e) => e.kind === "signin").every((e) => typeof (e.fields.location as { lat: number }).lat === "number")).toBe(true);
  });
});

async function withAedes<T>(fn: (url: string) => Promise<T>): Promise<T> {
  const broker = await Aedes.createBroker();
  const server = createServer(broker.handle);
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", () => r()));
  try {
    return await fn(`mqtt://127.0.0.1:${port}`);
  } finally {
    await new Promise<void>((r) => broker.close(() => r()));
    await new Promise<void>((r) => server.close(() => r()));
  }
}

describe("simulated devices on a real broker", () => {
  for (const brokerKind of ["aedes", "mosquitto"] as const) {
    it(`publish only schema-valid messages and answer a prompt with a rating (${brokerKind})`, async () => {
      const body = async (url: string) => {
        const seen: { topic: string; payload: Buffer }[] = [];
        const observer = await mqtt.connectAsync(url, { clientId: "observer" });
        observer.on("message", (topic, payload) => seen.push({ topic, payload }));
        await observer.subscribeAsync("sv/v1/dev/#", { qos: 1 });
        const dir = mkdtempSync(join(tmpdir(), "sim-test-"));
        const seqs = new SeqStore(join(dir, "seq.json"));
        const specs = demoHallScenario.devices.filter((d) => ["kp-w01", "cam-w01", "term-hall-demo"].includes(d.id));
        const devices = new Map(
          specs.map((s) => [
            s.id,
            new SimDevice(s, url, (device, command) => {
              if (command.name === "prompt")
                void device.publish(
                  "rating",
                  toPayload(
                    {
                      at: Date.now(),
                      deviceId: device.spec.id,
                      kind: "rating",
                      fields: {
                        windowId: command.payload.windowId,
                        txnId: command.payload.txnId,
                        outcome: "rated",
                        scale: "four",
                        key: 1,
                        level: "very_satisfied",
                      },
                    },
                    seqs.take(device.spec.id),
                  ),
                );
            }),
          ]),
        );
        await Promise.all([...devices.values()].map((d) => d.connect()));
        const timeline = generateDay(demoHallScenario, { date: DATE, seed: 2 })
          .filter((e) => devices.has(e.deviceId))
          .slice(0, 300);
        await backfill(timeline, devices, seqs, () => undefined);
        await observer.publishAsync(
          deviceTopics.command("kp-w01", "prompt"),
          JSON.stringify({ v: 1, cmdId: "c1", ts: Date.now(), windowId: "w01", txnId: "txn-42", timeoutS: 30 }),
          { qos: 1 },
        );
        const deadline = Date.now() + 5000;
        while (!seen.some((m) => m.payload.toString().includes("txn-42") && m.topic.endsWith("/evt/rating")) && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, 20));
        await Promise.all([...devices.values()].map((d) => d.close()));
        await observer.endAsync();
        rmSync(dir, { recursive: true, force: true });

        const events = seen.filter((m) => m.topic.includes("/evt/"));
        expect(events.length).toBe(301);
        for (const m of events) expect(validateDeviceMessage(m.topic, m.payload, { now: Date.now() + 86_400_000 * 400 }).ok).toBe(true);
        for (const m of seen.filter((x) => x.topic.endsWith("/status"))) expect(validateDeviceStatus(m.payload).ok).toBe(true);
        expect(devices.get("kp-w01")!.received.map((c) => c.name)).toEqual(["prompt"]);
        // Sequence numbers increase per device.
        const last = new Map<string, number>();
        for (const m of events) {
          const e = JSON.parse(m.payload.toString()) as { deviceId: string; seq: number };
          expect(e.seq).toBeGreaterThan(last.get(e.deviceId) ?? 0);
          last.set(e.deviceId, e.seq);
        }
      };
      if (brokerKind === "aedes") await withAedes(body);
      else {
        const mosquitto = await startMosquitto();
        try {
          await body(mosquitto.url);
        } finally {
          await mosquitto.close();
        }
      }
    });
  }
});

const cli = (args: string[]) =>
  run(process.execPath, ["--import", "tsx", "firmware-protocols/src/sim/cli.ts", ...args], { timeout: 60_000 }).then(
    (r) => ({ code: 0, out: r.stdout, err: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout, err: e.stderr }),
  );

describe("sim CLI", () => {
  // One process per case: each start of the CLI costs seconds of CPU, so a busy machine times out a test that runs several.
  it("explains itself", async () => {
    expect((await cli(["--help"])).out).toMatch(/--backfill <date>/);
  });
  it.each([
    [["--speed", "0"], /--speed must be/],
    [["--site", "moon"], /--site must be hall or site/],
    [["--backfill", "yesterday"], /YYYY-MM-DD/],
    [["--broker", "http://x"], /mqtt:\/\//],
    [["--bogus"], /bogus/],
  ])("refuses %j with what to fix", async (args, message) => {
    expect(await cli(args)).toMatchObject({ code: 2, err: expect.stringMatching(message) });
  });
  it("says the gateway may not be running when nothing answers at the broker", async () => {
    const port = await freePort();
    const refused = await cli(["--broker", `mqtt://127.0.0.1:${port}`, "--backfill", DATE, "--state", join(tmpdir(), `sim-${port}.json`)]);
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(/cannot connect the devices.*is the gateway running/);
  });
});

describe("a restarted demo", () => {
  it("resumes after the last event it sent, and never replays a terminal's heartbeats from the past", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sim-resume-"));
    try {
      const realNow = Date.now();
      const dayStart = realNow - 3_600_000;
      // An hour of the past, caught up at 3,600x: a terminal's punches and heartbeats, and a keypad's rating.
      const timeline = [
        { at: dayStart + 60_000, deviceId: "term", kind: "heartbeat" as const, fields: {} },
        { at: dayStart + 61_000, deviceId: "term", kind: "signin" as const, fields: {} },
        { at: dayStart + 120_000, deviceId: "kp", kind: "rating" as const, fields: {} },
        { at: dayStart + 180_000, deviceId: "term", kind: "signin" as const, fields: {} },
      ];
      const play = async (simStart: number, upTo: number) => {
        const sent: string[] = [];
        const device = {
          publish: async (kind: string, e: Record<string, unknown>) => void sent.push(`${String(e.deviceId)}:${kind}:${String(e.seq)}`),
        };
        const position = new PlayPosition(join(dir, "seq.json.position"));
        const player = new LivePlayer(
          new Map([
            ["term", device],
            ["kp", device],
          ]),
          new SeqStore(join(dir, "seq.json")),
          simStart,
          3600,
          // The simulated clock held at simStart for a second: a loaded machine's delay before play() must not carry
          // it past the first events at 3,600x.
          Date.now() + 1000,
          {
            position,
            skip: (e, now) => e.kind === "heartbeat" && e.deviceId === "term" && e.at < now - 120_000,
          },
        );
        await player.play(timeline.filter((e) => e.at <= upTo));
        return { sent, until: position.read() };
      };
      // The first run stops after the rating (a Ctrl-C there): the heartbeat from an hour ago is not sent.
      const first = await play(dayStart, dayStart + 120_000);
      expect(first).toEqual({ sent: ["term:signin:1", "kp:rating:1"], until: dayStart + 120_000 });
      // The restart resumes after it: the second punch only, with the next sequence number; nothing twice.
      const second = await play(first.until! + 1, Number.POSITIVE_INFINITY);
      expect(second).toEqual({ sent: ["term:signin:2"], until: dayStart + 180_000 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("reads no position from a missing or damaged file", () => {
    const dir = mkdtempSync(join(tmpdir(), "sim-position-"));
    try {
      const position = new PlayPosition(join(dir, "p.json"));
      expect(position.read()).toBeUndefined();
      writeFileSync(join(dir, "p.json"), '{"playedUntil":"soon"}');
      expect(position.read()).toBeUndefined();
      writeFileSync(join(dir, "p.json"), "{not json");
      expect(position.read()).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("sim CLI on a serial line", () => {
  it("stops at once while it waits for the next event (Ctrl-C)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sim-live-"));
    try {
      const sent: number[] = [];
      const device = { publish: async (_kind: string, event: Record<string, unknown>) => void sent.push(event.seq as number) };
      const now = Date.now();
      const player = new LivePlayer(new Map([["kp-1", device]]), new SeqStore(join(dir, "seq.json")), now, 1);
      const timeline = [
        // Shortly after the start, so that a busy machine's delay before play() does not skip it.
        { at: now + 20, deviceId: "kp-1", kind: "heartbeat" as const, fields: { intervalS: 60, uptimeS: 1 } },
        { at: now + 3_600_000, deviceId: "kp-1", kind: "heartbeat" as const, fields: { intervalS: 60, uptimeS: 2 } },
      ];
      const playing = player.play(timeline);
      // Wait until the first event is out and the player waits an hour for the second.
      for (let i = 0; i < 200 && sent.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      const started = Date.now();
      player.stop();
      await playing;
      expect(Date.now() - started).toBeLessThan(500);
      expect(sent).toHaveLength(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("plays the site's terminal on an RS-485 port, handing over every event when polled", async () => {
    const { startSocatPair } = await import("@supervision/test-support");
    const { SerialPort } = await import("serialport");
    const { COMMANDS, decodeEventFrame, encodeFrame, FrameDecoder } = await import("../serial/index.ts");
    const line = await startSocatPair();
    const master = new SerialPort({ path: line.b, baudRate: 19200 });
    const decoder = new FrameDecoder();
    // By event seq: a device sends an event again when its ACK is late (at least once), as a busy machine makes it.
    const received = new Map<number, unknown>();
    master.on("data", (chunk: Buffer) => {
      for (const r of decoder.push(chunk)) {
        if (!r.ok || r.value.command === COMMANDS.nothing) continue;
        const event = decodeEventFrame(r.value, "term-site-demo", { now: Date.now() });
        if (event.ok && event.value.kind === "signin") received.set(event.value.seq, event.value);
        master.write(encodeFrame({ address: r.value.address, command: COMMANDS.ack, seq: r.value.seq, payload: new Uint8Array() }));
      }
    });
    const poll = setInterval(
      () => master.write(encodeFrame({ address: 1, command: COMMANDS.poll, seq: 1, payload: new Uint8Array() })),
      10,
    );
    try {
      const result = await cli([
        "--site",
        "site",
        "--serial",
        line.a,
        "--backfill",
        DATE,
        "--broker",
        "mqtt://127.0.0.1:1",
        "--state",
        join(tmpdir(), `sim-serial-${Date.now()}.json`),
      ]);
      expect(result.out).toMatch(/term-site-demo@1/);
      expect(result.code).toBe(0);
      const expected = generateDay(demoSiteScenario, { date: DATE, seed: 1 }).filter((e) => e.kind === "signin").length;
      expect(received.size).toBe(expected);
    } finally {
      clearInterval(poll);
      await new Promise<void>((r) => master.close(() => r()));
      await line.close();
    }
  });
});

describe("the hall's queue system and the departments' approval systems", () => {
  const day = generateDay(demoHallScenario, { date: DATE, seed: 5 });
  const queue = day.filter((e) => e.deviceId === "qs-hall-demo" && e.kind !== "heartbeat");

  it("plays each transaction as ticket, called, started and finished, and the keypad's rating after the finish carries its id", () => {
    const byTxn = new Map<string, Record<string, number>>();
    for (const e of queue.filter((q) => q.kind === "queue"))
      byTxn.set(String(e.fields.txnId), { ...byTxn.get(String(e.fields.txnId)), [String(e.fields.type)]: e.at });
    const ratings = day.filter((e) => e.kind === "rating" && e.fields.txnId !== undefined);
    expect(ratings.length).toBeGreaterThan(100);
    expect(byTxn.size).toBe(ratings.length);
    for (const r of ratings) {
      const t = byTxn.get(String(r.fields.txnId))!;
      expect(t.ticket! < t.called! && t.called! < t.started! && t.started! < t.finished!).toBe(true);
      // Waiting 2 to 25 minutes, service 4 to 12; the key 3 to 20 s after the prompt, a timeout after its 60 s.
      expect((t.called! - t.ticket!) / 60_000).toBeGreaterThanOrEqual(2);
      expect((t.called! - t.ticket!) / 60_000).toBeLessThanOrEqual(25);
      expect((t.finished! - t.started!) / 60_000).toBeGreaterThanOrEqual(4);
      const after = r.at - t.finished!;
      if (r.fields.outcome === "rated") expect(after >= 3000 && after <= 20_000).toBe(true);
      else expect(after).toBe(60_000);
    }
    for (const e of queue)
      expect(validateDeviceMessage(`sv/v1/dev/qs-hall-demo/evt/${e.kind}`, JSON.stringify(toPayload(e, 1)), validateOpts).ok).toBe(true);
  });

  it("accepts applications of the window's department's items at some transactions, with the transaction id", () => {
    const accepted = queue.filter((e) => e.kind === "item");
    expect(accepted.length).toBeGreaterThan(10);
    for (const a of accepted) {
      const item = demoHallScenario.items!.find((i) => i.code === a.fields.itemCode)!;
      const window = demoHallScenario.windows.find((w) => w.id === a.fields.windowId)!;
      expect(item.departmentId).toBe(window.departmentId);
      const finished = queue.find((q) => q.fields.type === "finished" && q.fields.txnId === a.fields.txnId)!;
      expect(finished.fields.applicationNo).toBe(a.fields.applicationNo);
    }
    // A scenario without a queue system plays no queue events.
    expect(generateDay(demoSiteScenario, { date: DATE, seed: 5 }).some((e) => e.kind === "queue" || e.kind === "item")).toBe(false);
  });

  it("reports every accepted application through its department's system: the same acceptance, office-day steps, a holiday kept", () => {
    const holiday = "2026-11-25";
    const scenario = { ...demoHallScenario, itemCalendar: { workingDays: ["mon", "tue", "wed", "thu", "fri"], holidays: [holiday] } };
    const events = approvalEvents(scenario, { date: DATE, seed: 5 });
    expect(approvalEvents(scenario, { date: DATE, seed: 5 })).toEqual(events);
    const accepted = queue.filter((e) => e.kind === "item");
    const reported = events.filter((e) => e.event.type === "accepted");
    expect(reported.map((e) => [e.event.applicationNo, e.at])).toEqual(accepted.map((a) => [a.fields.applicationNo, a.at]));
    for (const e of reported) {
      const item = demoHallScenario.items!.find((i) => i.code === e.event.itemCode)!;
      expect(demoHallScenario.approvalSystems!.find((s) => s.id === e.systemId)!.departmentId).toBe(item.departmentId);
    }
    // The department's office works Monday to Friday but not on the holiday: DATE is a Friday, the review comes Monday.
    const office = events.filter((e) => e.event.type !== "accepted");
    for (const e of office) {
      const date = new Date(e.at + 8 * 3_600_000).toISOString().slice(0, 10);
      expect(["Sat", "Sun"]).not.toContain(new Date(`${date}T12:00:00Z`).toUTCString().slice(0, 3));
      expect(date).not.toBe(holiday);
    }
    const types = new Set(events.map((e) => e.event.type));
    expect([...types].sort()).toEqual(["accepted", "completed", "resumed", "step", "suspended"]);
    // Some refused (with the reason a refusal needs), most approved; every event as the API takes it.
    const completed = events.filter((e) => e.event.type === "completed");
    expect(completed.some((e) => e.event.outcome === "refused" && typeof e.event.reason === "string")).toBe(true);
    expect(completed.filter((e) => e.event.outcome === "approved").length).toBeGreaterThan(completed.length / 2);
    for (const e of events)
      expect(
        validateDeviceMessage("sv/v1/dev/sys/evt/item", JSON.stringify({ v: 1, deviceId: "sys", seq: 1, ...e.event }), validateOpts).ok,
      ).toBe(true);
  });

  it("posts them to the hub's API in time order, waits for a token the hub does not know yet, and a restart sends nothing twice", async () => {
    const received: { auth: string; body: Record<string, unknown> }[] = [];
    let refuseFirst = 2;
    const port = await freePort();
    const server = createHttpServer((req, res) => {
      let data = "";
      req.on("data", (c) => (data += c));
      req.on("end", () => {
        if (refuseFirst-- > 0) return void res.writeHead(401).end("{}");
        received.push({ auth: String(req.headers.authorization), body: JSON.parse(data) as Record<string, unknown> });
        res.writeHead(201).end('{"status":"recorded"}');
      });
    });
    await new Promise<void>((r) => server.listen(port, "127.0.0.1", () => r()));
    const dir = mkdtempSync(join(tmpdir(), "sim-approvals-"));
    const tokens = Object.fromEntries(demoHallScenario.approvalSystems!.map((s) => [s.id, `token-${s.id}`]));
    // A day whose follow-ups have all come: three weeks ago.
    const fromDate = new Date(Date.now() - 21 * 86_400_000).toISOString().slice(0, 10);
    const expected = approvalEvents(demoHallScenario, { date: fromDate, seed: 3 }).filter((e) => e.at <= Date.now());
    const play = async () => {
      const player = new ApprovalSystemsPlayer({
        hubUrl: `http://127.0.0.1:${port}`,
        tokens,
        scenario: demoHallScenario,
        seed: 3,
        fromDate,
        position: new PlayPosition(join(dir, "approvals.position")),
        idleMs: 50,
      });
      const running = player.run();
      return { player, running };
    };
    try {
      const first = await play();
      const minimum = expected.length;
      const deadline = Date.now() + 60_000;
      while (received.length < minimum && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      first.player.stop();
      await first.running;
      const sent = received.length;
      expect(sent).toBeGreaterThanOrEqual(minimum);
      const times = received.map((r) => Number(r.body.ts));
      expect(times).toEqual([...times].sort((a, b) => a - b));
      for (const r of received.slice(0, 20))
        expect(r.auth).toBe(
          `Bearer token-${String(demoHallScenario.approvalSystems!.find((s) => s.departmentId === demoHallScenario.items!.find((i) => i.code === r.body.itemCode)!.departmentId)!.id)}`,
        );
      // Restarted: resumes after the last event it sent.
      const second = await play();
      await new Promise((r) => setTimeout(r, 500));
      second.player.stop();
      await second.running;
      const resent = received.slice(sent).filter((r) => Number(r.body.ts) <= times.at(-1)!);
      expect(resent).toEqual([]);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
