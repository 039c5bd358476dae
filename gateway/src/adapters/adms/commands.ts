/**
 * Commands for ADMS terminals: queued per terminal, handed out on `GET /iclock/getrequest` as `C:<id>:<command>`
 * lines, confirmed by `POST /iclock/devicecmd` (`ID=..&Return=..&CMD=..`, several a body). Only the commands built
 * here exist; `Shell` (a shell on the terminal) cannot be expressed.
 */

export type AdmsCommand =
  | { kind: "user-update"; pin: string; name: string }
  | { kind: "user-delete"; pin: string }
  /** Asks the terminal to upload its punches of a time range again (terminal wall-clock times). */
  | { kind: "query-attlog"; from: string; to: string }
  | { kind: "info" }
  /** Sets the terminal clock: `SET OPTION DateTime=<encoded local time>`. */
  | { kind: "set-time"; encoded: number; local: string };

/** What the terminal answered, in words (vendor return codes as observed on real firmware). */
export const RETURN_CODES: Record<number, string> = {
  0: "done",
  [-1]: "not supported, or no data",
  [-2]: "file operation failed",
  [-1002]: "command syntax refused by the terminal",
  [-1004]: "table or feature not supported by this model",
};

/** Tabs, line ends and `=` inside a value would split the command; names are cut to what terminals store. */
function clean(value: string, max: number): string {
  return value.replace(/[\t\r\n=&]/g, " ").slice(0, max);
}

/** The command's text after `C:<id>:`. */
export function commandText(c: AdmsCommand): string {
  switch (c.kind) {
    case "user-update":
      return `DATA UPDATE USERINFO PIN=${clean(c.pin, 24)}\tName=${clean(c.name, 24)}\tPri=0`;
    case "user-delete":
      return `DATA DELETE USERINFO PIN=${clean(c.pin, 24)}`;
    case "query-attlog":
      return `DATA QUERY ATTLOG StartTime=${c.from}\tEndTime=${c.to}`;
    case "info":
      return "INFO";
    case "set-time":
      return `SET OPTION DateTime=${c.encoded}`;
  }
}

export interface Confirmation {
  id: number;
  returnCode: number;
  cmd: string;
}

/** Parses a devicecmd body: `ID=..&Return=..&CMD=..` a line, or the multi-line form (one `Key=Value` a line). */
export function parseConfirmations(text: string): { confirmations: Confirmation[]; extra: string } {
  const confirmations: Confirmation[] = [];
  const extra: string[] = [];
  let current: Partial<Confirmation> = {};
  const flush = () => {
    if (current.id !== undefined && current.returnCode !== undefined)
      confirmations.push({ id: current.id, returnCode: current.returnCode, cmd: current.cmd ?? "" });
    current = {};
  };
  for (const line of text.split(/\r?\n/)) {
    if (!line) continue;
    const pairs = line.split("&").map((p) => [p.slice(0, p.indexOf("=")), p.slice(p.indexOf("=") + 1)] as const);
    let known = false;
    for (const [key, value] of pairs) {
      if (key === "ID") {
        if (current.id !== undefined) flush();
        current.id = /^\d{1,10}$/.test(value) ? Number(value) : undefined;
        known = true;
      } else if (key === "Return") {
        current.returnCode = /^-?\d{1,6}$/.test(value) ? Number(value) : undefined;
        known = true;
      } else if (key === "CMD") {
        current.cmd = value.slice(0, 32);
        known = true;
      }
    }
    // An INFO confirmation carries the device's info after its ID line: kept for the caller to read.
    if (!known) extra.push(line);
  }
  flush();
  return { confirmations, extra: extra.join("\n") };
}

export interface CommandRecord {
  id: number;
  text: string;
  command: AdmsCommand;
  queuedAt: number;
  sentAt?: number;
  tries: number;
  state: "pending" | "sent" | "done" | "refused" | "unconfirmed";
  returnCode?: number;
  finishedAt?: number;
}

export interface CommandQueueOptions {
  /** A sent command not confirmed within this is sent again (default 60 s). */
  confirmTimeoutMs?: number;
  /** Sends before it counts as unconfirmed (default 3). */
  maxTries?: number;
  /** Commands handed out per poll (default 20). */
  perPoll?: number;
  now?: () => number;
  /** First command id; ids then increase (default: seconds since 2020, so ids never repeat across restarts). */
  firstId?: number;
  onFinished?: (record: CommandRecord) => void;
  /** Renders a command when it is handed out (the clock command carries the time of sending, not of queueing). */
  render?: (command: AdmsCommand) => string;
}

/** Finished commands kept per terminal for `gateway terminals`. */
const HISTORY = 50;

/** One terminal's commands: pending ones in order, in flight, and the last finished ones. */
export class CommandQueue {
  readonly #open: CommandRecord[] = [];
  readonly #history: CommandRecord[] = [];
  #nextId: number;
  readonly #now: () => number;

  constructor(private readonly opts: CommandQueueOptions = {}) {
    this.#now = opts.now ?? Date.now;
    this.#nextId = opts.firstId ?? Math.max(1, Math.floor((this.#now() - Date.UTC(2020, 0, 1)) / 1000));
  }

  /** Queues a command unless the same text is already waiting. */
  enqueue(command: AdmsCommand): CommandRecord {
    const text = commandText(command);
    const same = this.#open.find(
      (r) => (command.kind === "set-time" ? r.command.kind === "set-time" : r.text === text) && r.state === "pending",
    );
    if (same) return same;
    const record: CommandRecord = { id: this.#nextId++, text, command, queuedAt: this.#now(), tries: 0, state: "pending" };
    this.#open.push(record);
    return record;
  }

  /** The lines for a poll: pending commands, and sent ones whose confirmation is overdue (until maxTries). */
  take(): string[] {
    const now = this.#now();
    const timeout = this.opts.confirmTimeoutMs ?? 60_000;
    const maxTries = this.opts.maxTries ?? 3;
    const lines: string[] = [];
    for (const r of [...this.#open]) {
      if (lines.length >= (this.opts.perPoll ?? 20)) break;
      const due = r.state === "pending" || (r.state === "sent" && now - (r.sentAt ?? 0) >= timeout);
      if (!due) continue;
      if (r.tries >= maxTries) {
        this.#finish(r, "unconfirmed");
        continue;
      }
      r.state = "sent";
      r.sentAt = now;
      r.tries++;
      if (this.opts.render) r.text = this.opts.render(r.command);
      lines.push(`C:${r.id}:${r.text}`);
    }
    return lines;
  }

  /** Applies a confirmation; returns the record it finished, or undefined for an id this queue does not hold. */
  confirm(c: Confirmation): CommandRecord | undefined {
    const r = this.#open.find((x) => x.id === c.id);
    if (!r) return undefined;
    r.returnCode = c.returnCode;
    this.#finish(r, c.returnCode === 0 ? "done" : "refused");
    return r;
  }

  pending(): CommandRecord[] {
    return [...this.#open];
  }

  history(): CommandRecord[] {
    return [...this.#history];
  }

  #finish(r: CommandRecord, state: "done" | "refused" | "unconfirmed"): void {
    r.state = state;
    r.finishedAt = this.#now();
    this.#open.splice(this.#open.indexOf(r), 1);
    this.#history.unshift(r);
    this.#history.length = Math.min(this.#history.length, HISTORY);
    this.opts.onFinished?.(r);
  }
}
