import { encodeGbk } from "../gbk.ts";
import type { EventKind } from "../topics.ts";
import type { PlayedDevice } from "./player.ts";

/**
 * A ZKTeco-style terminal speaking ADMS push over HTTP, as recorded from real firmware: handshake, a poll every few
 * seconds, each punch uploaded at once (`Realtime=1`) as a tab-separated ATTLOG line with a trailing tab and CR LF,
 * commands executed and confirmed. Punches stay in its log until the server answers `OK`, so an unreachable server
 * loses nothing: the upload is retried on the next poll, the way terminals keep their log.
 */
export interface AdmsTerminalOptions {
  /** The gateway's ADMS server, e.g. http://127.0.0.1:8089. */
  url: string;
  serial: string;
  /** The zone the terminal's clock is set in. */
  tz: string;
  /** Person id → PIN, as enrolled on the terminal. */
  pins: Map<string, string>;
  pollMs?: number;
  /** How far the terminal's clock is off (terminal − real time), until the server sets it. */
  clockOffsetMs?: number;
  /** Write user names in GBK, as older Chinese firmware does. */
  gbk?: boolean;
  deviceName?: string;
  firmware?: string;
  /** Commands the firmware refuses, by prefix, with the return code it answers (e.g. a clone refusing DATA UPDATE with -1002). */
  refuse?: { prefix: string; returnCode: number }[];
  /**
   * For a player catching up on the past part of a day: punches older than this (against the real clock) were made
   * while the terminal was offline. start() then waits, keeping them, and the terminal comes online (handshake, the
   * kept punches in one body, then polls) at the first recent punch or after 10 s without punches. A past punch made
   * while online (the player still catching up after a quiet stretch) takes the terminal offline again the same way:
   * a terminal that polled all along would have sent it when it was made, so sent now it would look like a clock
   * hours wrong.
   */
  offlineBeforeMs?: number;
  /** How long without punches means the player caught up (default 10 s). */
  caughtUpAfterMs?: number;
}

interface Punch {
  line: string;
  ts: number;
  done: () => void;
}

export class AdmsTerminalSimulator implements PlayedDevice {
  /** Users the server pushed: PIN → name. */
  readonly users = new Map<string, string>();
  /** Every confirmation sent: `ID=..&Return=..&CMD=..`. */
  readonly confirmations: string[] = [];
  readonly counts = { uploaded: 0, polls: 0, failedRequests: 0 };
  #clockOffsetMs: number;
  #log: Punch[] = [];
  /** Punches in the log not yet acknowledged. */
  #unsent: Punch[] = [];
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  #uploading: Promise<void> | undefined;
  #stamp = 0;

  constructor(private readonly opts: AdmsTerminalOptions) {
    this.#clockOffsetMs = opts.clockOffsetMs ?? 0;
  }

  /** The terminal's clock offset now (the server may have set it). */
  clockOffsetMs(): number {
    return this.#clockOffsetMs;
  }

  #online = false;
  #goOnline: (() => void) | undefined;
  #idleTimer: NodeJS.Timeout | undefined;

  /** Handshake (retried until the server answers), then polls until stop(). */
  async start(): Promise<void> {
    this.#running = true;
    await this.#connect(this.opts.offlineBeforeMs !== undefined);
  }

  /** Offline first when `offline` (until a recent punch or 10 s without punches), then the handshake, the kept punches and polls. */
  async #connect(offline: boolean): Promise<void> {
    if (offline) {
      await new Promise<void>((resolve) => {
        this.#goOnline = resolve;
        this.#armIdle();
      });
      this.#goOnline = undefined;
      clearTimeout(this.#idleTimer);
      if (!this.#running) return;
    }
    for (;;) {
      const res = await this.#request(
        "GET",
        `/iclock/cdata?SN=${this.opts.serial}&options=all&language=${this.opts.gbk ? 83 : 69}&pushver=2.4.0&DeviceType=att&PushOptionsFlag=1`,
      ).catch(() => undefined);
      if (res?.status === 200) break;
      if (res?.status === 403) throw new Error(`the server refused serial ${this.opts.serial}: ${res.text}`);
      if (!this.#running) return;
      await new Promise((r) => setTimeout(r, this.opts.pollMs ?? 3000));
    }
    this.#online = true;
    await this.#upload().catch(() => this.counts.failedRequests++);
    const loop = async () => {
      if (!this.#running || !this.#online) return;
      await this.#poll().catch(() => this.counts.failedRequests++);
      await this.#upload().catch(() => this.counts.failedRequests++);
      if (this.#running && this.#online) this.#timer = setTimeout(() => void loop(), this.opts.pollMs ?? 3000);
    };
    void loop();
  }

  /** Goes offline (no polls, punches kept) until the player catches up, then connects again. */
  #goOffline(): void {
    this.#online = false;
    clearTimeout(this.#timer);
    void this.#connect(true).catch(() => this.counts.failedRequests++);
  }

  /** Comes online after 10 s (`caughtUpAfterMs`) without punches (the player caught up). */
  #armIdle(): void {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => this.#goOnline?.(), this.opts.caughtUpAfterMs ?? 10_000);
    this.#idleTimer.unref();
  }

  async stop(): Promise<void> {
    this.#running = false;
    clearTimeout(this.#timer);
    clearTimeout(this.#idleTimer);
    this.#goOnline?.();
    await this.#uploading;
  }

  /** Punches waiting for the server's OK. */
  pending(): number {
    return this.#unsent.length;
  }

  /** A sign-in made on the terminal: kept in its log, uploaded at once; resolves when the server acknowledged it. Other kinds: terminals send none. */
  publish(kind: EventKind, event: Record<string, unknown>): Promise<void> {
    if (kind !== "signin") return Promise.resolve();
    const personId = String(event.personId);
    const pin = this.opts.pins.get(personId);
    if (pin === undefined) return Promise.reject(new Error(`${personId} has no PIN on terminal ${this.opts.serial}`));
    const ts = Number(event.ts) + this.#clockOffsetMs;
    const status = event.direction === "out" ? 1 : 0;
    const verify = { pin: 0, fingerprint: 1, card: 4, face: 15 }[String(event.method)] ?? 1;
    return new Promise((resolve) => {
      const punch: Punch = { line: `${pin}\t${wallClock(ts, this.opts.tz)}\t${status}\t${verify}\t\t0\t0\t\r\n`, ts, done: resolve };
      this.#log.push(punch);
      this.#unsent.push(punch);
      const past = this.opts.offlineBeforeMs !== undefined && Number(event.ts) < Date.now() - this.opts.offlineBeforeMs;
      if (this.#online && past && this.#goOnline === undefined) this.#goOffline();
      if (!this.#online) {
        // Made while offline (a player catching up): kept; a recent punch brings the terminal online.
        if (this.opts.offlineBeforeMs !== undefined && Number(event.ts) >= Date.now() - this.opts.offlineBeforeMs) this.#goOnline?.();
        else this.#armIdle();
        return;
      }
      void this.#upload().catch(() => this.counts.failedRequests++);
    });
  }

  /** Uploads what is not yet acknowledged, oldest first; one line a body when live, the backlog in one body. */
  #upload(): Promise<void> {
    if (this.#uploading) return this.#uploading;
    this.#uploading = (async () => {
      // Offline (gone so while catching up): the rest waits for the next connection, sent in one body then.
      while (this.#unsent.length > 0 && this.#online) {
        const batch = this.#unsent.slice(0, 500);
        this.#stamp++;
        const res = await this.#request(
          "POST",
          `/iclock/cdata?SN=${this.opts.serial}&table=ATTLOG&Stamp=${this.#stamp}`,
          Buffer.from(batch.map((p) => p.line).join("")),
        );
        if (res.status !== 200 || !res.text.startsWith("OK")) throw new Error(`upload refused: ${res.status} ${res.text}`);
        this.#unsent.splice(0, batch.length);
        this.counts.uploaded += batch.length;
        for (const p of batch) p.done();
      }
    })().finally(() => (this.#uploading = undefined));
    return this.#uploading;
  }

  async #poll(): Promise<void> {
    this.counts.polls++;
    const res = await this.#request(
      "GET",
      `/iclock/getrequest?SN=${this.opts.serial}&INFO=Ver ${this.opts.firmware ?? "2.4.0-sim"},${this.users.size},0,${this.#log.length},127.0.0.1`,
    );
    const text = this.opts.gbk ? new TextDecoder("gbk").decode(res.bytes) : res.text;
    const results: string[] = [];
    for (const line of text.split("\n")) {
      const m = /^C:(\d+):(.*)$/.exec(line);
      if (m) results.push(await this.#execute(Number(m[1]), m[2]!));
    }
    if (results.length > 0) {
      this.confirmations.push(...results);
      await this.#request("POST", `/iclock/devicecmd?SN=${this.opts.serial}`, Buffer.from(`${results.join("\n")}\n`));
    }
  }

  /** Runs one command as real firmware does; returns its confirmation line. */
  async #execute(id: number, command: string): Promise<string> {
    const word = command.split(" ")[0]!;
    const echo = word === "SET" ? "SET OPTION" : word;
    const refused = this.opts.refuse?.find((r) => command.startsWith(r.prefix));
    if (refused) return `ID=${id}&Return=${refused.returnCode}&CMD=${echo}`;
    if (command.startsWith("DATA UPDATE USERINFO ")) {
      const fields = new Map(
        command
          .slice(21)
          .split("\t")
          .map((f) => [f.slice(0, f.indexOf("=")), f.slice(f.indexOf("=") + 1)]),
      );
      this.users.set(fields.get("PIN") ?? "", fields.get("Name") ?? "");
      return `ID=${id}&Return=0&CMD=DATA`;
    }
    if (command.startsWith("DATA DELETE USERINFO PIN=")) {
      this.users.delete(command.slice(25));
      return `ID=${id}&Return=0&CMD=DATA`;
    }
    if (command.startsWith("DATA QUERY ATTLOG ")) {
      const range = /StartTime=(.+)\tEndTime=(.+)$/.exec(command);
      if (!range) return `ID=${id}&Return=-1002&CMD=DATA`;
      const inRange = this.#log.filter((p) => {
        const local = p.line.split("\t")[1]!;
        return local >= range[1]! && local <= range[2]!;
      });
      if (inRange.length === 0) return `ID=${id}&Return=-1&CMD=DATA`;
      for (const p of inRange) if (!this.#unsent.includes(p)) this.#unsent.push({ ...p, done: () => undefined });
      return `ID=${id}&Return=0&CMD=DATA`;
    }
    if (command === "INFO") {
      return `ID=${id}&Return=0&CMD=INFO\n~DeviceName=${this.opts.deviceName ?? "SimFace-ADMS"}\nFWVersion=${this.opts.firmware ?? "2.4.0-sim"}\nUserCount=${this.users.size}`;
    }
    if (command.startsWith("SET OPTION DateTime=")) {
      // The firmware's encoded local time: the clock is right from now on.
      this.#clockOffsetMs = 0;
      return `ID=${id}&Return=0&CMD=SET OPTION`;
    }
    if (command === "CHECK" || command === "LOG") return `ID=${id}&Return=0&CMD=${command}`;
    return `ID=${id}&Return=-1002&CMD=${echo}`;
  }

  async #request(method: "GET" | "POST", path: string, body?: Buffer): Promise<{ status: number; text: string; bytes: Uint8Array }> {
    try {
      const res = await fetch(`${this.opts.url}${path}`, {
        method,
        headers: { "user-agent": "iClock Proxy/1.09", accept: "application/push", ...(body ? { "content-type": "text/plain" } : {}) },
        ...(body ? { body: new Uint8Array(this.opts.gbk ? encodeGbk(body.toString()) : body) } : {}),
        signal: AbortSignal.timeout(10_000),
      });
      const bytes = new Uint8Array(await res.arrayBuffer());
      return { status: res.status, text: new TextDecoder().decode(bytes), bytes };
    } catch (error) {
      this.counts.failedRequests++;
      throw error;
    }
  }
}

/** "YYYY-MM-DD hh:mm:ss" of `t` in `tz`, as a terminal writes its punches. */
function wallClock(t: number, tz: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-US", {
      timeZone: tz,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    })
      .formatToParts(new Date(t))
      .map((p) => [p.type, p.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second}`;
}
