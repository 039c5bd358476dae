import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { encodeGbk, type GatewayConfig, type Reading } from "@supervision/firmware-protocols";
import { freePort } from "@supervision/test-support";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { type GatewayBuffer, openBuffer } from "../../buffer/index.ts";
import type { DeadLetter, ReadingSink } from "../../buffer/types.ts";
import { utcToTerminalTime, zkEncodedTime } from "./attlog.ts";
import { AdmsAdapter, MAX_BODY_BYTES } from "./index.ts";
import { admsFixture, admsRequestLine } from "./testing/fixtures.ts";
import { rawRequest } from "./testing/raw-http.ts";

const fixture = admsFixture;
const requestLine = admsRequestLine;
const SERIAL = "BOCK200961014";

function siteConfig(overrides: Partial<GatewayConfig> = {}): GatewayConfig {
  return {
    v: 1,
    gatewayId: "gw-site-1",
    version: 1,
    site: { id: "site-1", name: "工地一号", kind: "site", tz: "Asia/Shanghai" },
    devices: [{ id: "term-site-1", kind: "terminal", heartbeatS: 60, adms: { serialNumber: SERIAL } }],
    windows: [],
    people: [
      { id: "sup-01", name: "张三", post: "总监", pin: "1" },
      { id: "sup-04", name: "李四", post: "监理", pin: "4" },
    ],
    ...overrides,
  };
}

interface Harness {
  adapter: AdmsAdapter;
  buffer: GatewayBuffer;
  port: number;
  stored: Reading[];
  deadLetters: DeadLetter[];
  log: string[];
  dir: string;
  now: { t: number };
}

const running: Harness[] = [];
afterEach(async () => {
  for (const h of running.splice(0)) {
    await h.adapter.stop();
    h.buffer.close();
  }
});

async function start(config = siteConfig(), opts: { now?: number; confirmTimeoutMs?: number } = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), "adms-"));
  const buffer = openBuffer({ path: join(dir, "buffer.db"), capacityBytes: 64 * 1024 * 1024 });
  const stored: Reading[] = [];
  const deadLetters: DeadLetter[] = [];
  const log: string[] = [];
  const logger = pino(
    { level: "debug" },
    new Writable({
      write(chunk: Buffer, _e, done) {
        log.push(chunk.toString());
        done();
      },
    }),
  );
  const sink: ReadingSink = {
    async append(reading) {
      const result = await buffer.append(reading);
      if (result === "stored") stored.push(reading);
      return result;
    },
    async deadLetter(entry) {
      await buffer.deadLetter(entry);
      deadLetters.push(entry);
    },
  };
  const now = { t: opts.now ?? Date.now() };
  const adapter = new AdmsAdapter({
    config,
    logger,
    host: "127.0.0.1",
    port: await freePort(),
    statePath: join(dir, "adms-terminals.json"),
    now: opts.now === undefined ? Date.now : () => now.t,
    confirmTimeoutMs: opts.confirmTimeoutMs,
  });
  await adapter.start(sink);
  const h = { adapter, buffer, port: adapter.port, stored, deadLetters, log, dir, now };
  running.push(h);
  return h;
}

const signins = (h: Harness) => h.stored.filter((r) => r.kind === "signin");
const post = (h: Harness, table: string, body: Buffer | string, serial = SERIAL, extra = "") =>
  rawRequest(h.port, `POST /iclock/cdata?SN=${serial}&table=${table}${extra}`, { body: Buffer.isBuffer(body) ? body : Buffer.from(body) });
const poll = (h: Harness, serial = SERIAL) => rawRequest(h.port, `GET /iclock/getrequest?SN=${serial}`);
const confirm = (h: Harness, body: string) => rawRequest(h.port, `POST /iclock/devicecmd?SN=${SERIAL}`, { body: Buffer.from(body) });
/** The `C:<id>:<command>` lines of a poll's answer. */
const commandsOf = (text: string) => text.split("\n").filter((l) => l.startsWith("C:"));

describe("ADMS push adapter, recorded real-terminal traffic", () => {
  it("answers the recorded handshake with the options a terminal needs and a Date header", async () => {
    const h = await start();
    const res = await rawRequest(h.port, requestLine("BOCK200961014.handshake.request.txt"));
    expect(res.status).toBe(200);
    const text = res.body.toString();
    expect(text.split("\n")[0]).toBe(`GET OPTION FROM: ${SERIAL}`);
    for (const option of [
      "ATTLOGStamp=0",
      "OPERLOGStamp=0",
      "ErrorDelay=30",
      "Delay=5",
      "TransInterval=1",
      "Realtime=1",
      "TimeZone=8",
      "Encrypt=None",
    ]) {
      expect(text).toContain(`\n${option}\n`);
    }
    // Punches, operator log and users; never fingerprint templates or photos.
    expect(text).toMatch(/TransFlag=TransData AttLog OpLog EnrollUser ChgUser\n/);
    expect(text).not.toMatch(/FP|Photo/);
    expect(Math.abs(Date.parse(res.headers.date!) - Date.now())).toBeLessThan(5_000);
    expect(h.adapter.terminals()[0]).toMatchObject({ serial: SERIAL, pushver: "2.4.0", model: "middle east", online: true });
  });

  it("stores the recorded punches byte-exact as sign-ins of the registry's people, in the terminal's zone, and answers OK: 3", async () => {
    const h = await start();
    const body = fixture("BOCK200961014.attlog.body");
    expect(body.includes(Buffer.from("\t\r\n"))).toBe(true); // trailing tab, CRLF: sent exactly as recorded
    const res = await rawRequest(h.port, requestLine("BOCK200961014.attlog.request.txt"), { body });
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe("OK: 3");
    expect(signins(h)).toEqual([
      // 2024-07-28 01:25:24 in Asia/Shanghai (UTC+8) is 2024-07-27 17:25:24 UTC.
      expect.objectContaining({
        deviceId: "term-site-1",
        personId: "sup-01",
        ts: Date.UTC(2024, 6, 27, 17, 25, 24),
        method: "fingerprint",
        direction: "in",
        seq: 16,
      }),
      expect.objectContaining({ personId: "sup-01", ts: Date.UTC(2024, 6, 28, 2, 41, 21), seq: 16 }),
      expect.objectContaining({ personId: "sup-04", ts: Date.UTC(2024, 6, 28, 2, 41, 31), seq: 64 }),
    ]);
    expect(h.deadLetters).toEqual([]);
    // The stamp the terminal sent is what the next handshake answers, so it does not upload these again.
    const again = await rawRequest(h.port, requestLine("BOCK200961014.handshake.request.txt"));
    expect(again.body.toString()).toContain("\nATTLOGStamp=9999\n");
  });

  it("stores a resent body once and still answers OK, so the terminal stops resending", async () => {
    const h = await start();
    const body = fixture("BOCK200961014.attlog.body");
    for (let i = 0; i < 3; i++) {
      const res = await rawRequest(h.port, requestLine("BOCK200961014.attlog.request.txt"), { body });
      expect(res.body.toString()).toBe("OK: 3");
    }
    expect(signins(h)).toHaveLength(3);
    expect(h.buffer.stats().depth - h.stored.filter((r) => r.kind === "heartbeat").length).toBe(3);
  });

  it("refuses an unknown serial: nothing stored, counted, logged and listed", async () => {
    const h = await start();
    const res = await post(h, "ATTLOG", fixture("BOCK200961014.attlog.body"), "XYZ0000001");
    expect(res.status).toBe(403);
    expect(res.body.toString()).toMatch(/unknown terminal serial XYZ0000001; add it to the registry/);
    expect(h.stored).toEqual([]);
    expect(h.deadLetters).toEqual([]);
    expect(h.adapter.refused()).toEqual([expect.objectContaining({ serial: "XYZ0000001", requests: 1, address: "127.0.0.1" })]);
    expect(await h.adapter.metrics.getSingleMetricAsString("gateway_adms_unknown_serial_total")).toMatch(/ 1$/m);
    expect(h.log.join("")).toMatch(/unknown serial refused/);
  });

  it("stores the good lines of a body with one malformed line, dead-letters it with its reason, and acknowledges every line", async () => {
    const h = await start();
    const body = "1\t2024-07-28 08:01:00\t0\t15\t\t0\t0\t\r\n1\t2024-07-28 25:99:00\t0\t15\t\r\n4\t2024-07-28 08:02:00\t1\t4\t\t0\t0\t\r\n";
    const res = await post(h, "ATTLOG", body);
    expect(res.body.toString()).toBe("OK: 3");
    expect(signins(h).map((r) => [r.personId, r.method, r.direction])).toEqual([
      ["sup-01", "face", "in"],
      ["sup-04", "card", "out"],
    ]);
    expect(h.deadLetters).toEqual([
      expect.objectContaining({
        deviceId: "term-site-1",
        code: "adms_malformed_line",
        source: `adms:${SERIAL}`,
        message: expect.stringMatching(/not a real date and time/),
      }),
    ]);
    expect(Buffer.from(h.deadLetters[0]!.payload).toString()).toBe("1\t2024-07-28 25:99:00\t0\t15\t");
  });

  it("keeps a punch of an unknown PIN for review as person pin-<PIN>", async () => {
    const h = await start();
    expect((await post(h, "ATTLOG", "777\t2024-07-28 08:01:00\t0\t1\t\r\n")).body.toString()).toBe("OK: 1");
    expect(signins(h)).toEqual([expect.objectContaining({ personId: "pin-777" })]);
    expect(h.adapter.terminals()[0]!.unknownPins).toEqual(["777"]);
  });

  it("reads GBK user names from the operator log and sends names back in GBK; never keeps or logs templates", async () => {
    const h = await start();
    const template = "TmV2ZXJMb2dUaGlzVGVtcGxhdGU=";
    const body = Buffer.concat([
      Buffer.from("USER PIN=1\tName="),
      encodeGbk("张三"),
      Buffer.from("\tPri=0\tPasswd=secret99\tCard=\tGrp=1\n"),
      Buffer.from(`FP PIN=1\tFID=6\tSize=1000\tValid=1\tTMP=${template}\n`),
      Buffer.from("OPLOG 4\t0\t2024-07-28 08:00:00\t0\t0\t0\t0\n"),
    ]);
    const res = await post(h, "OPERLOG", body, SERIAL, "&Stamp=42");
    expect(res.body.toString()).toBe("OK: 3");
    expect(h.adapter.terminals()[0]).toMatchObject({ usersOnTerminal: 1, templatesDropped: 1 });
    const logged = h.log.join("");
    expect(logged).not.toContain(template);
    expect(logged).not.toContain("secret99");
    expect(h.stored.filter((r) => r.kind === "signin")).toEqual([]);
    expect(h.deadLetters).toEqual([]);
    // The registry's people go to the terminal in the charset it writes: GBK.
    const commands = await poll(h);
    const gbkText = new TextDecoder("gbk").decode(commands.body);
    expect(gbkText).toMatch(/C:\d+:DATA UPDATE USERINFO PIN=1\tName=张三\tPri=0\n/);
    expect(commands.body.includes(encodeGbk("张三"))).toBe(true);
  });

  it("keeps the time of a punch from a terminal 6 hours behind, flags it, and sets the terminal clock", async () => {
    const h = await start();
    await rawRequest(h.port, requestLine("BOCK200961014.handshake.request.txt"));
    await poll(h);
    const behind = utcToTerminalTime(Date.now() - 6 * 3600_000, "Asia/Shanghai");
    expect((await post(h, "ATTLOG", `4\t${behind}\t0\t15\t\t0\t0\t\r\n`)).body.toString()).toBe("OK: 1");
    const [punch] = signins(h);
    expect(punch!.ts).toBe(Date.parse(`${behind.replace(" ", "T")}+08:00`));
    expect(punch!.clockOffsetS).toBeGreaterThan(-6 * 3600 - 30);
    expect(punch!.clockOffsetS).toBeLessThan(-6 * 3600 + 30);
    expect(h.adapter.terminals()[0]).toMatchObject({ clockFlagged: true });
    // The correction: SET OPTION DateTime= with the gateway's time in the terminal's zone.
    const lines = commandsOf((await poll(h)).body.toString());
    const clock = lines.find((l) => l.includes("SET OPTION DateTime="))!;
    const sent = Number(clock.split("=")[1]);
    expect(Math.abs(sent - zkEncodedTime(utcToTerminalTime(Date.now(), "Asia/Shanghai")))).toBeLessThan(5);
    const id = clock.split(":")[1];
    await confirm(h, `ID=${id}&Return=0&CMD=SET OPTION\n`);
    expect(h.adapter.terminals()[0]).toMatchObject({ clockFlagged: false });
    // A punch made after the fix, sent at once, is not flagged.
    await post(h, "ATTLOG", `4\t${utcToTerminalTime(Date.now(), "Asia/Shanghai")}\t1\t15\t\r\n`);
    expect(signins(h)[1]!.clockOffsetS).toBeUndefined();
  });

  it("judges no clock by a punch a terminal uploads alone right after it handshakes again (what it kept while away), but by the next live one", async () => {
    const h = await start();
    await rawRequest(h.port, requestLine("BOCK200961014.handshake.request.txt"));
    await poll(h);
    await poll(h);
    // Gone quiet for less than an outage, the terminal handshakes again and hands over a punch made three hours ago.
    await rawRequest(h.port, requestLine("BOCK200961014.handshake.request.txt"));
    const kept = utcToTerminalTime(Date.now() - 3 * 3600_000, "Asia/Shanghai");
    expect((await post(h, "ATTLOG", `4\t${kept}\t0\t15\t\t0\t0\t\r\n`)).body.toString()).toBe("OK: 1");
    expect(signins(h)[0]).toMatchObject({ ts: Date.parse(`${kept.replace(" ", "T")}+08:00`) });
    expect(signins(h)[0]!.clockOffsetS).toBeUndefined();
    expect(h.adapter.terminals()[0]).toMatchObject({ clockFlagged: false });
    // Polling again, a punch it sends alone is live: one two hours behind is its clock, flagged.
    await poll(h);
    const behind = utcToTerminalTime(Date.now() - 2 * 3600_000, "Asia/Shanghai");
    await post(h, "ATTLOG", `4\t${behind}\t1\t15\t\t0\t0\t\r\n`);
    expect(signins(h)[1]!.clockOffsetS).toBeLessThan(-2 * 3600 + 30);
    expect(h.adapter.terminals()[0]).toMatchObject({ clockFlagged: true });
  });

  it("tracks commands per id: several confirmations a body, a -1002 refusal reported and not retried", async () => {
    const h = await start();
    const lines = commandsOf((await poll(h)).body.toString());
    // First contact: device info, then the registry's two people.
    expect(lines.map((l) => l.split(":").slice(2).join(":"))).toEqual([
      "INFO",
      "DATA UPDATE USERINFO PIN=1\tName=张三\tPri=0",
      "DATA UPDATE USERINFO PIN=4\tName=李四\tPri=0",
    ]);
    const [info, first, second] = lines.map((l) => l.split(":")[1]);
    const res = await confirm(
      h,
      `ID=${info}&Return=0&CMD=INFO\n~DeviceName=SpeedFace-V5L\nFWVersion=ZAM180-NF-Ver1.1.17\nID=${first}&Return=0&CMD=DATA\nID=${second}&Return=-1002&CMD=DATA\n`,
    );
    expect(res.body.toString()).toBe("OK");
    const report = h.adapter.terminals()[0]!;
    expect(report).toMatchObject({ model: "SpeedFace-V5L", firmware: "ZAM180-NF-Ver1.1.17", pendingCommands: [] });
    expect(report.failedCommands).toEqual([
      {
        id: Number(second),
        command: "DATA UPDATE USERINFO PIN=4 Name=李四 Pri=0",
        state: "refused",
        returnCode: -1002,
        meaning: "command syntax refused by the terminal",
      },
    ]);
    expect(h.log.join("")).toMatch(/ADMS terminal refused a command/);
    expect(commandsOf((await poll(h)).body.toString())).toEqual([]);
  });

  it("resends an unconfirmed command and reports it after three tries", async () => {
    const h = await start(siteConfig({ people: [] }), { now: Date.now(), confirmTimeoutMs: 1_000 });
    const first = commandsOf((await poll(h)).body.toString());
    expect(first).toHaveLength(1); // INFO
    for (let i = 0; i < 2; i++) {
      h.now.t += 1_500;
      expect(commandsOf((await poll(h)).body.toString())).toEqual(first);
    }
    h.now.t += 1_500;
    expect(commandsOf((await poll(h)).body.toString())).toEqual([]);
    expect(h.adapter.terminals()[0]!.failedCommands).toEqual([
      expect.objectContaining({ command: "INFO", state: "unconfirmed", meaning: "never confirmed" }),
    ]);
  });

  it("asks a terminal that comes back after an outage for the punches of the gap", async () => {
    const h = await start(siteConfig({ people: [] }), { now: Date.now() });
    await poll(h);
    h.now.t += 3 * 3600_000;
    const lines = commandsOf((await poll(h)).body.toString());
    const query = lines.find((l) => l.includes("DATA QUERY ATTLOG"));
    expect(query).toMatch(/DATA QUERY ATTLOG StartTime=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\tEndTime=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
  });

  it("serves push 3.x registration, push options, ping and the time", async () => {
    const h = await start();
    const reg = await rawRequest(h.port, `POST /iclock/registry?SN=${SERIAL}`, {
      body: Buffer.from("DeviceType=att,~DeviceName=SpeedFace,FirmVer=1.0\n"),
    });
    expect(reg.body.toString()).toMatch(/^RegistryCode=[0-9a-f]{10}$/);
    expect((await rawRequest(h.port, `POST /iclock/push?SN=${SERIAL}`, { body: Buffer.from("") })).body.toString()).toMatch(/Realtime=1/);
    expect((await rawRequest(h.port, `GET /iclock/ping?SN=${SERIAL}`)).body.toString()).toBe("OK");
    expect((await rawRequest(h.port, `GET /iclock/rtdata?SN=${SERIAL}&type=time`)).body.toString()).toMatch(
      /^DateTime=\d+,ServerTZ=\+0800$/,
    );
  });
});

describe("ADMS push adapter, hostile input", () => {
  it("refuses an oversized body without storing any of it", async () => {
    const h = await start();
    const line = "1\t2024-07-28 08:01:00\t0\t1\t\r\n";
    const res = await post(h, "ATTLOG", line.repeat(Math.ceil(MAX_BODY_BYTES / line.length) + 10));
    expect(res.status).toBe(413);
    expect(signins(h)).toEqual([]);
  });

  it("refuses a body with too many lines", async () => {
    const h = await start();
    const res = await post(h, "ATTLOG", "1\n".repeat(60_000));
    expect(res.status).toBe(413);
    expect(res.body.toString()).toMatch(/at most 50000/);
    expect(h.deadLetters).toEqual([]);
  });

  it("answers binary junk with OK and a bounded number of dead letters, never crashing", async () => {
    const h = await start();
    const junk = Buffer.alloc(200_000);
    let x = 12345;
    for (let i = 0; i < junk.length; i++) {
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      junk[i] = x & 0xff;
    }
    const res = await post(h, "ATTLOG", junk);
    expect(res.status).toBe(200);
    expect(res.body.toString()).toMatch(/^OK: \d+$/);
    expect(signins(h)).toEqual([]);
    expect(h.deadLetters.length).toBeGreaterThan(0);
    expect(h.deadLetters.length).toBeLessThanOrEqual(101);
    expect((await poll(h)).status).toBe(200);
  });

  it("refuses bad query strings and paths with a reason", async () => {
    const h = await start();
    const cases: [string, number, RegExp][] = [
      ["GET /iclock/cdata?options=all", 400, /SN missing/],
      ["GET /iclock/cdata?SN=../../etc/passwd", 400, /SN missing or not a serial/],
      ["GET /iclock/cdata?SN=%ZZ%00", 400, /SN missing/],
      [`GET /iclock/cdata?SN=${"A".repeat(70)}`, 400, /SN missing/],
      ["GET /iclock/shell?SN=BOCK200961014", 404, /not an ADMS path/],
      ["GET /admin", 404, /not an ADMS path/],
      [`DELETE /iclock/cdata?SN=${SERIAL}`, 405, /DELETE is not served/],
    ];
    for (const [line, status, text] of cases) {
      const res = await rawRequest(h.port, line);
      expect(res.status, line).toBe(status);
      expect(res.body.toString(), line).toMatch(text);
    }
    const huge = await rawRequest(h.port, `GET /iclock/cdata?SN=${SERIAL}&x=${"a".repeat(20_000)}`);
    expect(huge.status).toBe(431);
    expect(h.stored.filter((r) => r.kind === "signin")).toEqual([]);
  });

  it("drains photo and template uploads unread", async () => {
    const h = await start();
    const res = await post(h, "BIODATA", Buffer.alloc(100_000, 0x41));
    expect(res.body.toString()).toBe("OK");
    expect(h.adapter.terminals()[0]!.templatesDropped).toBe(1);
    expect(h.deadLetters).toEqual([]);
  });
});

describe("ADMS push adapter, crash between commit and answer", () => {
  /** Starts the crash-test server as a process of its own; resolves once it listens. */
  function serve(path: string, port: number, hold: boolean) {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", join(import.meta.dirname, "testing/crash-server.ts"), path, String(port), JSON.stringify(siteConfig())],
      {
        stdio: ["ignore", "pipe", "inherit"],
        env: { ...process.env, CRASH_AFTER_COMMIT: hold ? "1" : "0" },
      },
    );
    const lines: string[] = [];
    let text = "";
    child.stdout.on("data", (c: Buffer) => {
      text += c.toString();
      const parts = text.split("\n");
      text = parts.pop()!;
      lines.push(...parts);
    });
    const until = async (pred: () => boolean, what: string) => {
      const deadline = Date.now() + 60_000;
      while (!pred()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; child said ${JSON.stringify(lines)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    return { child, lines, until, exited: new Promise<void>((r) => child.once("exit", () => r())) };
  }

  it("stores once what a gateway killed with -9 after the commit never acknowledged, when the terminal resends", async () => {
    const dir = mkdtempSync(join(tmpdir(), "adms-crash-"));
    const path = join(dir, "buffer.db");
    const port = await freePort();
    const body = fixture("BOCK200961014.attlog.body");
    const line = requestLine("BOCK200961014.attlog.request.txt");

    const first = serve(path, port, true);
    await first.until(() => first.lines.includes(`listening ${port}`), "the server to listen");
    const unanswered = rawRequest(port, line, { body }).then(
      (r) => r,
      (e: Error) => e,
    );
    await first.until(() => first.lines.filter((l) => l.startsWith("committed")).length === 3, "three commits");
    first.child.kill("SIGKILL");
    await first.exited;
    // The terminal got no OK (the connection died): it sends the same body again to the restarted gateway.
    const lost = await unanswered;
    expect(lost instanceof Error || lost.status !== 200).toBe(true);

    const second = serve(path, port, false);
    await second.until(() => second.lines.includes(`listening ${port}`), "the restarted server to listen");
    const res = await rawRequest(port, line, { body });
    expect(res.body.toString()).toBe("OK: 3");
    second.child.kill("SIGTERM");
    await second.exited;

    const buffer = openBuffer({ path, capacityBytes: 64 * 1024 * 1024 });
    const readings: Reading[] = [];
    buffer.sealNext(10_000, 1 << 30, (json) => {
      readings.push(...(JSON.parse(`[${json.toString()}]`) as Reading[]));
      return { epoch: "0".repeat(16), seq: 1, hash: "0".repeat(64), wire: Buffer.from("x") };
    });
    buffer.close();
    const punches = readings.filter((r) => r.kind === "signin");
    expect(punches.map((r) => [r.personId, r.ts])).toEqual([
      ["sup-01", Date.UTC(2024, 6, 27, 17, 25, 24)],
      ["sup-01", Date.UTC(2024, 6, 28, 2, 41, 21)],
      ["sup-04", Date.UTC(2024, 6, 28, 2, 41, 31)],
    ]);
  });
});
