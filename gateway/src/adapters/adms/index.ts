import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { dirname } from "node:path";
import {
  checkDeviceTime,
  type DeviceCommand,
  encodeGbk,
  type GatewayConfig,
  localDate,
  SigninEvent,
} from "@supervision/firmware-protocols";
import type { Logger } from "pino";
import { Counter, Registry } from "prom-client";
import type { ReadingSink } from "../../buffer/types.ts";
import type { AdapterHealth, DeviceAdapter, HttpAnswer, RefusedDevice } from "../adapter.ts";
import {
  bodyLines,
  parseAttlogLine,
  punchDirection,
  punchMethod,
  punchSeq,
  terminalTimeToUtc,
  utcToTerminalTime,
  zkEncodedTime,
  zoneOffsetMs,
} from "./attlog.ts";
import { type AdmsCommand, type CommandRecord, commandText, parseConfirmations, RETURN_CODES } from "./commands.ts";
import {
  describeCommand,
  newTerminal,
  type PersistedTerminal,
  type RefusedTerminal,
  type Terminal,
  type TerminalReport,
} from "./terminal.ts";
import { decodeBody, deviceInfo, parseOperlogLine } from "./text.ts";

export { encodeGbk };
export type { RefusedTerminal, TerminalReport } from "./terminal.ts";

export interface AdmsAdapterOptions {
  config: GatewayConfig | undefined;
  logger: Logger;
  host: string;
  port: number;
  tls?: { cert: Buffer; key: Buffer; ca?: Buffer | undefined } | undefined;
  /** Where stamps, last contacts and pushed users are kept across restarts (a JSON file); undefined: in memory only. */
  statePath?: string | undefined;
  now?: () => number;
  /** A terminal clock further off than this is corrected and its punches flagged (default 2 min). */
  clockToleranceMs?: number;
  /** Command confirmation timeout before a resend (default 60 s). */
  confirmTimeoutMs?: number;
}

/** Largest ATTLOG/OPERLOG/devicecmd body read (a backlog of some 40,000 punches). */
export const MAX_BODY_BYTES = 2 * 1024 * 1024;
/** Largest photo or template body drained (and dropped). */
export const MAX_DISCARD_BYTES = 16 * 1024 * 1024;
export const MAX_LINES = 50_000;
/** Bad lines of one body dead-lettered one by one; beyond this the rest share one dead letter. */
const DEAD_LETTERS_PER_BODY = 100;
/** Silence after which a terminal's next contact starts a new run (it was offline: ask for missed punches). */
const OUTAGE_MS = 2 * 60_000;
/** A terminal polls every few seconds; silent this long it counts as offline. */
const ONLINE_WITHIN_MS = 90_000;
const REFUSED_KEPT = 100;
/** A serial number as the device catalogue declares it (firmware-protocols devices/links/adms.ts). */
const SERIAL_NUMBER = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * ZKTeco ADMS ("iclock" push) terminals over HTTP: handshake, punches, operator log, commands, confirmations
 * (README.md beside this file). A punch is answered `OK: n` only after it is committed to the buffer.
 */
export class AdmsAdapter implements DeviceAdapter {
  readonly name = "adms";
  readonly metrics = new Registry();
  #server: Server | undefined;
  #sink: ReadingSink | undefined;
  #config: GatewayConfig | undefined;
  #terminals = new Map<string, Terminal>();
  #bySerial = new Map<string, Terminal>();
  readonly #refused = new Map<string, RefusedTerminal & { loggedAt: number }>();
  readonly #now: () => number;
  readonly #saved: Record<string, PersistedTerminal>;
  #port = 0;
  readonly #counters = {
    requests: new Counter({
      name: "gateway_adms_requests_total",
      help: "ADMS requests by endpoint and answer.",
      labelNames: ["endpoint", "status"],
      registers: [this.metrics],
    }),
    punches: new Counter({
      name: "gateway_adms_punches_total",
      help: "ATTLOG lines by result.",
      labelNames: ["result"],
      registers: [this.metrics],
    }),
    unknownSerial: new Counter({
      name: "gateway_adms_unknown_serial_total",
      help: "Requests refused because the terminal serial is not in the registry.",
      registers: [this.metrics],
    }),
    unknownPin: new Counter({
      name: "gateway_adms_unknown_pin_total",
      help: "Punches of PINs the registry maps to nobody (kept for review).",
      registers: [this.metrics],
    }),
    commands: new Counter({
      name: "gateway_adms_commands_total",
      help: "Terminal commands finished, by result.",
      labelNames: ["result"],
      registers: [this.metrics],
    }),
    templates: new Counter({
      name: "gateway_adms_templates_dropped_total",
      help: "Biometric templates and photos received and dropped unread.",
      registers: [this.metrics],
    }),
    clock: new Counter({
      name: "gateway_adms_clock_corrections_total",
      help: "Terminal clocks found off and set.",
      registers: [this.metrics],
    }),
  };

  constructor(private readonly opts: AdmsAdapterOptions) {
    this.#now = opts.now ?? Date.now;
    this.#saved = opts.statePath === undefined ? {} : loadState(opts.statePath, opts.logger);
    this.configure(opts.config);
  }

  /** The port the push server listens on (after start). */
  get port(): number {
    return this.#port;
  }

  async start(sink: ReadingSink): Promise<void> {
    this.#sink = sink;
    if (this.#server) return;
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      this.#handle(req, res).catch((error: Error) => {
        this.opts.logger.error({ err: error.message }, "ADMS request failed");
        if (!res.headersSent) answer(res, 500, "ERROR: the gateway could not handle this request; it will be asked again");
      });
    };
    const server = this.opts.tls
      ? createHttpsServer(
          { cert: this.opts.tls.cert, key: this.opts.tls.key, ...(this.opts.tls.ca ? { ca: this.opts.tls.ca } : {}), maxHeaderSize: 8192 },
          handler,
        )
      : createHttpServer({ maxHeaderSize: 8192 }, handler);
    server.headersTimeout = 10_000;
    server.requestTimeout = 60_000;
    server.on("clientError", (error: NodeJS.ErrnoException, socket) => {
      const status = error.code === "HPE_HEADER_OVERFLOW" ? "431 Request Header Fields Too Large" : "400 Bad Request";
      if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
      else socket.destroy();
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", (error: Error) =>
        reject(
          new Error(`cannot serve ADMS on ${this.opts.host}:${this.opts.port}: ${error.message}; change adms.port in the gateway settings`),
        ),
      );
      server.listen(this.opts.port, this.opts.host, () => resolve());
    });
    const address = server.address();
    this.#port = typeof address === "object" && address ? address.port : this.opts.port;
    this.#server = server;
    this.opts.logger.info({ port: this.#port, tls: Boolean(this.opts.tls), terminals: this.#bySerial.size }, "ADMS push server listening");
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    this.#persist();
  }

  /** A new config: terminals added or removed, zones and people (PINs) changed; the people are pushed to the terminals. */
  configure(config: GatewayConfig | undefined): void {
    this.#config = config;
    const next = new Map<string, Terminal>();
    for (const d of config?.devices ?? []) {
      if (!d.adms) continue;
      const old = this.#bySerial.get(d.adms.serialNumber);
      const tz = d.adms.timeZone ?? config!.site.tz;
      // The queue renders clock commands in the terminal's zone, which a later config may change.
      const holder: { terminal?: Terminal } = {};
      const terminal =
        old ??
        newTerminal(
          { ...d, adms: d.adms },
          config!.site.tz,
          this.#saved[d.adms.serialNumber],
          this.#queueOptions(() => holder.terminal?.tz ?? tz),
        );
      holder.terminal = terminal;
      terminal.deviceId = d.id;
      terminal.tz = tz;
      terminal.heartbeatS = d.heartbeatS;
      next.set(d.adms.serialNumber, terminal);
    }
    this.#bySerial = next;
    this.#terminals = new Map([...next.values()].map((t) => [t.deviceId, t]));
    for (const t of next.values()) if (t.lastContact !== null) this.#syncUsers(t);
  }

  handles(deviceId: string): boolean {
    return this.#terminals.has(deviceId);
  }

  /** The `time` command sets the terminal clock; ADMS terminals have no display, prompt or config commands. */
  send(deviceId: string, command: DeviceCommand): Promise<void> {
    const t = this.#terminals.get(deviceId);
    if (!t) return Promise.reject(new Error(`${deviceId} is not an ADMS terminal of this gateway`));
    if (command.name !== "time") return Promise.reject(new Error(`ADMS terminals have no ${command.name} command`));
    this.#queueClock(t);
    return Promise.resolve();
  }

  online(): string[] {
    const now = this.#now();
    return [...this.#terminals.values()]
      .filter((t) => t.lastContact !== null && now - t.lastContact <= ONLINE_WITHIN_MS)
      .map((t) => t.deviceId);
  }

  /** Queues a command for a terminal (registry people, missed punches, info); the `Shell` command does not exist. */
  enqueue(deviceId: string, command: AdmsCommand): CommandRecord {
    const t = this.#terminals.get(deviceId);
    if (!t) throw new Error(`${deviceId} is not an ADMS terminal of this gateway`);
    return t.commands.enqueue(command);
  }

  terminals(): TerminalReport[] {
    const now = this.#now();
    return [...this.#bySerial.values()].map((t) => ({
      serial: t.serial,
      deviceId: t.deviceId,
      tz: t.tz,
      model: t.model ?? null,
      firmware: t.firmware ?? null,
      pushver: t.pushver ?? null,
      lastContact: t.lastContact,
      online: t.lastContact !== null && now - t.lastContact <= ONLINE_WITHIN_MS,
      punchesToday: t.punchesToday.date === localDate(now, t.tz) ? t.punchesToday.count : 0,
      pendingCommands: t.commands.pending().map(describeCommand),
      failedCommands: t.commands
        .history()
        .filter((r) => r.state === "refused" || r.state === "unconfirmed")
        .map((r) => ({
          id: r.id,
          command: describeCommand(r),
          state: r.state,
          returnCode: r.returnCode ?? null,
          meaning: r.state === "unconfirmed" ? "never confirmed" : (RETURN_CODES[r.returnCode ?? 0] ?? "unknown return code"),
        })),
      clockOffsetS: t.clock.offsetS,
      clockFlagged: t.clock.flagged,
      usersOnTerminal: t.users.size,
      unknownPins: [...t.unknownPins].slice(0, 50),
      templatesDropped: t.templatesDropped,
    }));
  }

  /** `/api/adms/terminals`: what `gateway terminals` shows. */
  route(path: string): HttpAnswer | undefined {
    return path === "/api/adms/terminals" ? { status: 200, body: this.terminals() } : undefined;
  }

  health(): AdapterHealth {
    return this.#server
      ? { ok: true, ports: { adms: this.#port } }
      : { ok: false, problem: `the ADMS push server is not listening on ${this.opts.host}:${this.opts.port}` };
  }

  refusedDevices(): RefusedDevice[] {
    return this.refused().map((r) => ({
      deviceId: `adms:${r.serial}`,
      lastSeen: r.lastSeen,
      requests: r.requests,
      reason: `unknown ADMS terminal serial ${r.serial} (from ${r.address}): refused; add it to the registry (devices[].adms.serialNumber) if it belongs here`,
    }));
  }

  /** Serial numbers that called and were refused (newest first). */
  refused(): RefusedTerminal[] {
    return [...this.#refused.values()].map(({ loggedAt: _l, ...r }) => r).sort((a, b) => b.lastSeen - a.lastSeen);
  }

  #queueOptions(tz: () => string) {
    return {
      now: this.#now,
      confirmTimeoutMs: this.opts.confirmTimeoutMs ?? 60_000,
      // The clock command carries the time it is sent at.
      render: (c: AdmsCommand) => commandText(c.kind === "set-time" ? clockCommand(this.#now(), tz()) : c),
      onFinished: (r: CommandRecord) => this.#finished(r),
    };
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://terminal");
    } catch {
      return this.#reply(res, "bad", 400, "ERROR: unreadable request line");
    }
    const endpoint = url.pathname.replace(/^\/iclock\//, "");
    if (
      !url.pathname.startsWith("/iclock/") ||
      !["cdata", "getrequest", "devicecmd", "registry", "push", "ping", "rtdata"].includes(endpoint)
    ) {
      req.resume();
      return this.#reply(res, "other", 404, "ERROR: not an ADMS path (/iclock/cdata, getrequest, devicecmd, registry, push, ping, rtdata)");
    }
    const sn = url.searchParams.get("SN") ?? "";
    if (!SERIAL_NUMBER.test(sn)) {
      req.resume();
      return this.#reply(res, endpoint, 400, "ERROR: SN missing or not a serial number (1 to 64 letters, digits, _ or -)");
    }
    const terminal = this.#bySerial.get(sn);
    if (!terminal) {
      req.resume();
      this.#refuse(sn, req.socket.remoteAddress ?? "?");
      return this.#reply(res, endpoint, 403, `ERROR: unknown terminal serial ${sn}; add it to the registry (devices[].adms.serialNumber)`);
    }
    const method = req.method ?? "GET";
    const table = url.searchParams.get("table") ?? "";
    const discard = method === "POST" && endpoint === "cdata" && !["ATTLOG", "OPERLOG", "options"].includes(table);
    const body = method === "POST" ? await readBody(req, discard ? MAX_DISCARD_BYTES : MAX_BODY_BYTES, discard) : Buffer.alloc(0);
    if (body === "oversized") return this.#reply(res, endpoint, 413, `ERROR: body larger than ${MAX_BODY_BYTES} bytes`);
    this.#contact(terminal, url, method === "GET" && endpoint === "cdata");
    switch (`${method} ${endpoint}`) {
      case "GET cdata":
        return this.#reply(res, endpoint, 200, this.#options(terminal, url));
      case "POST cdata":
        return this.#cdata(res, terminal, table, url, body);
      case "GET getrequest":
        return this.#getrequest(res, terminal, url);
      case "POST devicecmd":
        return this.#devicecmd(res, terminal, body);
      case "POST registry":
        return this.#reply(
          res,
          endpoint,
          200,
          `RegistryCode=${createHash("sha256").update(`adms-registry:${sn}`).digest("hex").slice(0, 10)}`,
        );
      case "POST push":
        return this.#reply(res, endpoint, 200, this.#options(terminal, url));
      case "GET ping":
        return this.#reply(res, endpoint, 200, "OK");
      case "GET rtdata":
        return this.#reply(
          res,
          endpoint,
          200,
          `DateTime=${zkEncodedTime(utcToTerminalTime(this.#now(), terminal.tz))},ServerTZ=${zoneLabel(terminal.tz, this.#now())}`,
        );
      default:
        return this.#reply(res, endpoint, 405, `ERROR: ${method} is not served on /iclock/${endpoint}`);
    }
  }

  #reply(res: ServerResponse, endpoint: string, status: number, text: string | Buffer): void {
    this.#counters.requests.inc({ endpoint, status: String(status) });
    answer(res, status, text);
  }

  #refuse(serial: string, address: string): void {
    const now = this.#now();
    this.#counters.unknownSerial.inc();
    let r = this.#refused.get(serial);
    if (!r) {
      if (this.#refused.size >= REFUSED_KEPT) {
        const oldest = [...this.#refused.values()].sort((a, b) => a.lastSeen - b.lastSeen)[0]!;
        this.#refused.delete(oldest.serial);
      }
      r = { serial, firstSeen: now, lastSeen: now, requests: 0, address: address.slice(0, 64), loggedAt: 0 };
      this.#refused.set(serial, r);
    }
    r.lastSeen = now;
    r.requests++;
    if (now - r.loggedAt >= 10 * 60_000) {
      r.loggedAt = now;
      this.opts.logger.warn(
        { serial, address: r.address, requests: r.requests },
        "ADMS terminal with an unknown serial refused; add it to the registry (devices[].adms.serialNumber) if it belongs here",
      );
    }
  }

  /** Every request is a sign of life: after an outage (or a restart) the terminal is asked for what it may hold. */
  #contact(t: Terminal, url: URL, handshake = false): void {
    const now = this.#now();
    const previous = t.lastContact;
    const newRun = t.runStart === null || previous === null || now - previous > OUTAGE_MS;
    if (newRun) {
      t.runStart = now;
      t.contactsInRun = 0;
      if (!t.model || !t.firmware) t.commands.enqueue({ kind: "info" });
      if (previous !== null) {
        // Punches made while the terminal could not reach us (or we were down) that it may not upload on its own.
        const from = utcToTerminalTime(previous - 5 * 60_000, t.tz);
        t.commands.enqueue({ kind: "query-attlog", from, to: utcToTerminalTime(now + 60_000, t.tz) });
        this.opts.logger.info(
          { deviceId: t.deviceId, silentS: Math.round((now - previous) / 1000) },
          "ADMS terminal back; asking for punches since its last contact",
        );
      }
      this.#syncUsers(t);
    }
    // The handshake (GET cdata) is what a terminal sends when it (re)connects: what it uploads right after is what it
    // kept while away, not a punch made now, so its clock is judged live again only from two requests on.
    if (handshake) t.contactsInRun = 0;
    t.contactsInRun++;
    t.lastContact = now;
    const pushver = url.searchParams.get("pushver");
    if (pushver) t.pushver = pushver.slice(0, 16);
    // language=83 is simplified Chinese firmware, which reads and writes names in GBK.
    if (url.searchParams.get("language") === "83") t.charset = "gbk";
    if (now - t.lastHeartbeat >= t.heartbeatS * 1000) {
      t.lastHeartbeat = now;
      void this.#heartbeat(t, now);
    }
  }

  /** Terminals send no heartbeat: their polls stand for one, so the hub and `gateway devices` see them alive. */
  async #heartbeat(t: Terminal, now: number): Promise<void> {
    try {
      await this.#sink?.append({
        kind: "heartbeat",
        deviceId: t.deviceId,
        seq: Math.floor(now / 1000) >>> 0,
        ts: now,
        rxTs: now,
        intervalS: t.heartbeatS,
        uptimeS: Math.floor((now - (t.runStart ?? now)) / 1000),
        ...(t.firmware ? { fw: t.firmware.slice(0, 32) } : {}),
      });
    } catch (error) {
      this.opts.logger.debug({ deviceId: t.deviceId, err: (error as Error).message }, "terminal heartbeat not buffered");
    }
  }

  #options(t: Terminal, url: URL): string {
    const now = this.#now();
    const offsetH = zoneOffsetMs(now, t.tz) / 3_600_000;
    const info = url.searchParams.get("DeviceType");
    if (info) t.model ??= info.slice(0, 64);
    return [
      `GET OPTION FROM: ${t.serial}`,
      `ATTLOGStamp=${t.attlogStamp}`,
      `OPERLOGStamp=${t.operlogStamp}`,
      "ATTPHOTOStamp=None",
      "ErrorDelay=30",
      "Delay=5",
      "TransTimes=00:00;12:00",
      "TransInterval=1",
      // Punches, the operator log and user records; never fingerprints, faces or photos.
      "TransFlag=TransData AttLog OpLog EnrollUser ChgUser",
      ...(Number.isInteger(offsetH) ? [`TimeZone=${offsetH}`] : []),
      "Realtime=1",
      "Encrypt=None",
      `ServerVersion=2.4.1`,
      `PushProtVer=${t.pushver ?? "2.4.1"}`,
      "",
    ].join("\n");
  }

  async #cdata(res: ServerResponse, t: Terminal, table: string, url: URL, body: Buffer): Promise<void> {
    if (table === "ATTLOG") return this.#attlog(res, t, url, body);
    if (table === "OPERLOG") return this.#operlog(res, t, url, body);
    if (table === "options") {
      Object.assign(t, deviceInfo(decodeBody(body).text));
      return this.#reply(res, "cdata", 200, "OK");
    }
    // Photos and biometric tables: drained unread, never kept.
    this.#counters.templates.inc();
    t.templatesDropped++;
    return this.#reply(res, "cdata", 200, "OK");
  }

  async #attlog(res: ServerResponse, t: Terminal, url: URL, body: Buffer): Promise<void> {
    const sink = this.#sink!;
    const rxTs = this.#now();
    const { text, charset } = decodeBody(body);
    if (charset === "gbk") t.charset = "gbk";
    const lines = bodyLines(text);
    if (lines.length > MAX_LINES) return this.#reply(res, "cdata", 413, `ERROR: ${lines.length} lines; at most ${MAX_LINES} a body`);
    const people = new Map((this.#config?.people ?? []).filter((p) => p.pin).map((p) => [p.pin!, p.id]));
    const source = `adms:${t.serial}`;
    const bad: { line: string; code: string; reason: string }[] = [];
    const stores: Promise<"stored" | "duplicate">[] = [];
    const today = localDate(rxTs, t.tz);
    /** Per store: whether the punch was made today (local), for `punchesToday`. */
    const madeToday: boolean[] = [];
    let newest = t.newestPunchTs;
    for (const line of lines) {
      const parsed = parseAttlogLine(line);
      if (!parsed.ok) {
        bad.push({ line, code: "adms_malformed_line", reason: parsed.reason });
        continue;
      }
      const punch = parsed.punch;
      const ts = terminalTimeToUtc(punch.local, t.tz);
      // Ahead of the gateway is kept and flagged (below), not refused: the person was there, only the clock is wrong.
      const timeError = checkDeviceTime(
        ts,
        { now: rxTs, maxFutureSkewMs: Number.POSITIVE_INFINITY, retentionDays: this.#config?.retentionDays },
        "signin",
      );
      if (timeError) {
        const clockUnset = timeError.code === "clock_unset";
        bad.push({
          line,
          code: timeError.code,
          reason: clockUnset
            ? `punch time ${punch.local} is before 2020: the terminal clock was not set; it is being set`
            : timeError.message,
        });
        if (clockUnset) this.#queueClock(t);
        continue;
      }
      const offsetS = this.#judgeClock(t, ts, rxTs, lines.length);
      newest = newest === null ? ts : Math.max(newest, ts);
      let personId = people.get(punch.pin);
      if (!personId) {
        personId = `pin-${punch.pin.toLowerCase()}`;
        this.#counters.unknownPin.inc();
        if (!t.unknownPins.has(punch.pin)) {
          t.unknownPins.add(punch.pin);
          this.opts.logger.warn(
            { deviceId: t.deviceId, pin: punch.pin },
            "ADMS punch of a PIN the registry maps to nobody: kept for review as person pin-<PIN>",
          );
        }
      }
      const event = SigninEvent.safeParse({
        v: 1,
        deviceId: t.deviceId,
        seq: punchSeq(punch.pin, punch.status),
        ts,
        personId,
        method: punchMethod(punch.verify),
        direction: punchDirection(punch.status),
        ...(offsetS === undefined ? {} : { clockOffsetS: offsetS }),
      });
      if (!event.success) {
        bad.push({ line, code: "invalid_field", reason: event.error.issues[0]?.message ?? "not a valid sign-in" });
        continue;
      }
      const { v: _v, ...reading } = event.data;
      stores.push(sink.append({ kind: "signin", ...reading, rxTs }));
      madeToday.push(localDate(ts, t.tz) === today);
    }
    const letters = bad.slice(0, DEAD_LETTERS_PER_BODY).map((b) =>
      sink.deadLetter({
        rxTs,
        source,
        deviceId: t.deviceId,
        code: b.code,
        message: `ATTLOG line refused: ${b.reason}`,
        payload: Buffer.from(b.line, "utf8"),
      }),
    );
    if (bad.length > DEAD_LETTERS_PER_BODY) {
      const rest = bad.slice(DEAD_LETTERS_PER_BODY);
      letters.push(
        sink.deadLetter({
          rxTs,
          source,
          deviceId: t.deviceId,
          code: "adms_malformed_line",
          message: `${rest.length} more ATTLOG lines of this body refused (first: ${rest[0]!.reason})`,
          payload: Buffer.from(rest.map((b) => b.line).join("\n"), "utf8").subarray(0, 65536),
        }),
      );
    }
    let results: ("stored" | "duplicate")[];
    try {
      [results] = await Promise.all([Promise.all(stores), Promise.all(letters)]);
    } catch (error) {
      // Not all committed (buffer full, disk): no OK, so the terminal sends the body again; what was stored is a duplicate then.
      this.opts.logger.warn({ deviceId: t.deviceId, err: (error as Error).message }, "ADMS punches not committed; not acknowledged");
      return this.#reply(res, "cdata", 503, "ERROR: not stored, send again later");
    }
    const stored = results.filter((r) => r === "stored").length;
    this.#counters.punches.inc({ result: "stored" }, stored);
    this.#counters.punches.inc({ result: "duplicate" }, results.length - stored);
    this.#counters.punches.inc({ result: "refused" }, bad.length);
    t.newestPunchTs = newest;
    if (t.punchesToday.date !== today) t.punchesToday = { date: today, count: 0 };
    // Counted after the commit, stored ones only: a resend does not count twice.
    t.punchesToday.count += results.filter((r, i) => r === "stored" && madeToday[i]).length;
    const stamp = url.searchParams.get("Stamp");
    if (stamp && /^\d{1,12}$/.test(stamp)) t.attlogStamp = stamp;
    this.#persist();
    if (bad.length > 0)
      this.opts.logger.warn(
        { deviceId: t.deviceId, refused: bad.length, first: bad[0]!.reason },
        "ADMS punches refused; see gateway dead-letters",
      );
    // Every line is answered, refused ones too: a terminal that is not told so would send them for ever.
    return this.#reply(res, "cdata", 200, `OK: ${lines.length}`);
  }

  /**
   * A terminal sends no clock reading, so its clock is judged by its punches: one sent alone (a real-time upload,
   * Realtime=1) by a terminal that has been polling (two requests or more before it, since it last came back), newer than any before, was made moments ago; its lag is the
   * clock's offset. A punch ahead of the gateway is always a clock error. Returns the offset to flag the punch with,
   * while the clock is known off.
   */
  #judgeClock(t: Terminal, ts: number, rxTs: number, linesInBody: number): number | undefined {
    const tolerance = this.opts.clockToleranceMs ?? 120_000;
    const offsetMs = ts - rxTs;
    // At least two requests before this one: a terminal that just came back (handshake, then its backlog) is not live.
    const live = linesInBody === 1 && t.contactsInRun >= 3 && (t.newestPunchTs === null || ts > t.newestPunchTs);
    if (offsetMs > tolerance || (live && Math.abs(offsetMs) > tolerance)) {
      const offsetS = Math.round(offsetMs / 1000);
      if (!t.clock.flagged) {
        this.opts.logger.warn(
          { deviceId: t.deviceId, offsetS },
          `ADMS terminal clock is ${formatOffset(offsetS)}: punches keep their terminal time and are flagged for review; setting the clock`,
        );
      }
      t.clock = { offsetS, flagged: true, measuredAt: rxTs };
      this.#queueClock(t);
    } else if (live) {
      t.clock = { offsetS: Math.round(offsetMs / 1000), flagged: false, measuredAt: rxTs };
    }
    return t.clock.flagged ? (t.clock.offsetS ?? undefined) : undefined;
  }

  #queueClock(t: Terminal): void {
    t.commands.enqueue(clockCommand(this.#now(), t.tz));
  }

  async #operlog(res: ServerResponse, t: Terminal, url: URL, body: Buffer): Promise<void> {
    const { text, charset } = decodeBody(body);
    if (charset === "gbk") t.charset = "gbk";
    const lines = bodyLines(text);
    if (lines.length > MAX_LINES) return this.#reply(res, "cdata", 413, `ERROR: ${lines.length} lines; at most ${MAX_LINES} a body`);
    let invalid = 0;
    for (const line of lines) {
      const record = parseOperlogLine(line);
      if (record.type === "user") t.users.set(record.pin, record.name);
      else if (record.type === "oplog") {
        t.oplog.unshift({ op: record.op, admin: record.admin, local: record.local });
        t.oplog.length = Math.min(t.oplog.length, 20);
        this.opts.logger.info({ deviceId: t.deviceId, op: record.op, admin: record.admin, at: record.local }, "ADMS terminal operator log");
      } else if (record.type === "biometric") {
        // Never stored, logged or forwarded: only counted.
        t.templatesDropped++;
        this.#counters.templates.inc();
      } else invalid++;
    }
    if (invalid > 0)
      this.opts.logger.info({ deviceId: t.deviceId, invalid }, "ADMS OPERLOG lines not understood; ignored (their content is not logged)");
    const stamp = url.searchParams.get("Stamp");
    if (stamp && /^\d{1,12}$/.test(stamp)) {
      t.operlogStamp = stamp;
      this.#persist();
    }
    return this.#reply(res, "cdata", 200, `OK: ${lines.length}`);
  }

  #getrequest(res: ServerResponse, t: Terminal, url: URL): void {
    const info = url.searchParams.get("INFO");
    if (info) {
      const first = info.split(",")[0] ?? "";
      if (first.startsWith("Ver ")) t.firmware ??= first.slice(4, 68);
    }
    const lines = t.commands.take();
    if (lines.length === 0) return this.#reply(res, "getrequest", 200, "OK");
    const text = `${lines.join("\n")}\n`;
    return this.#reply(res, "getrequest", 200, t.charset === "gbk" ? encodeGbk(text) : text);
  }

  #devicecmd(res: ServerResponse, t: Terminal, body: Buffer): void {
    const { text } = decodeBody(body);
    const { confirmations, extra } = parseConfirmations(text);
    for (const c of confirmations) {
      const record = t.commands.confirm(c);
      if (!record) {
        this.opts.logger.info(
          { deviceId: t.deviceId, id: c.id, cmd: c.cmd },
          "ADMS confirmation of a command this gateway does not hold (sent before a restart?)",
        );
        continue;
      }
      if (record.command.kind === "info" && extra) Object.assign(t, deviceInfo(extra));
      if (record.command.kind === "set-time" && c.returnCode === 0) {
        if (t.clock.flagged) this.opts.logger.info({ deviceId: t.deviceId }, "ADMS terminal clock set");
        t.clock = { offsetS: null, flagged: false, measuredAt: null };
        this.#counters.clock.inc();
      }
      if (c.returnCode === 0 && record.command.kind === "user-update") t.pushed.set(record.command.pin, record.command.name);
      if (c.returnCode === 0 && record.command.kind === "user-delete") t.pushed.delete(record.command.pin);
    }
    if (confirmations.length > 0) this.#persist();
    return this.#reply(res, "devicecmd", 200, "OK");
  }

  #finished(r: CommandRecord): void {
    this.#counters.commands.inc({ result: r.state });
    if (r.state === "refused") {
      const meaning = RETURN_CODES[r.returnCode ?? 0] ?? "unknown return code";
      this.opts.logger.warn(
        { id: r.id, command: describeCommand(r), returnCode: r.returnCode, meaning },
        "ADMS terminal refused a command",
      );
    } else if (r.state === "unconfirmed") {
      this.opts.logger.warn({ id: r.id, command: describeCommand(r), tries: r.tries }, "ADMS terminal never confirmed a command; given up");
    }
  }

  /** The site's people with a PIN, on every terminal; people this gateway pushed before and no longer in the registry, removed. */
  #syncUsers(t: Terminal): void {
    const wanted = new Map((this.#config?.people ?? []).filter((p) => p.pin).map((p) => [p.pin!, p.name]));
    for (const [pin, name] of wanted) if (t.pushed.get(pin) !== name) t.commands.enqueue({ kind: "user-update", pin, name });
    for (const pin of t.pushed.keys()) if (!wanted.has(pin)) t.commands.enqueue({ kind: "user-delete", pin });
  }

  #persist(): void {
    for (const t of this.#bySerial.values()) {
      this.#saved[t.serial] = {
        attlogStamp: t.attlogStamp,
        operlogStamp: t.operlogStamp,
        lastContact: t.lastContact,
        pushed: Object.fromEntries(t.pushed),
      };
    }
    const path = this.opts.statePath;
    if (path === undefined) return;
    try {
      mkdirSync(dirname(path), { recursive: true });
      const tmp = `${path}.tmp`;
      writeFileSync(tmp, JSON.stringify(this.#saved));
      renameSync(tmp, path);
    } catch (error) {
      // Losing it costs a re-upload (stored once) and a re-push of users: logged, not fatal.
      this.opts.logger.warn({ err: (error as Error).message, path: this.opts.statePath }, "cannot save ADMS terminal state");
    }
  }
}

function answer(res: ServerResponse, status: number, text: string | Buffer): void {
  res.writeHead(status, {
    "content-type": "text/plain",
    date: new Date().toUTCString(),
    ...(status >= 400 ? { connection: "close" } : {}),
  });
  res.end(text);
}

/** Reads a body up to `max` bytes; `discard` drains without keeping it. */
function readBody(req: IncomingMessage, max: number, discard: boolean): Promise<Buffer | "oversized"> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        req.removeAllListeners("data");
        req.resume();
        resolve("oversized");
        return;
      }
      if (!discard) chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function loadState(path: string, logger: Logger): Record<string, PersistedTerminal> {
  try {
    const parsed: unknown = JSON.parse(readFileSync(path, "utf8"));
    return parsed && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as Record<string, PersistedTerminal>) : {};
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT")
      logger.warn({ err: (error as Error).message, path }, "ADMS terminal state unreadable; starting afresh");
    return {};
  }
}

/** `SET OPTION DateTime=` for the current time in the terminal's zone. */
function clockCommand(now: number, tz: string): AdmsCommand & { kind: "set-time" } {
  const local = utcToTerminalTime(now, tz);
  return { kind: "set-time", encoded: zkEncodedTime(local), local };
}

function formatOffset(offsetS: number): string {
  const abs = Math.abs(offsetS);
  const text = abs >= 3600 ? `${(abs / 3600).toFixed(1)} h` : abs >= 60 ? `${Math.round(abs / 60)} min` : `${abs} s`;
  return `${text} ${offsetS < 0 ? "behind" : "ahead"}`;
}

/** "+0800" for a zone's current offset. */
function zoneLabel(tz: string, now: number): string {
  const minutes = Math.round(zoneOffsetMs(now, tz) / 60_000);
  const sign = minutes < 0 ? "-" : "+";
  const abs = Math.abs(minutes);
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}${String(abs % 60).padStart(2, "0")}`;
}
