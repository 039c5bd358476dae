import type { GatewayConfig } from "@supervision/firmware-protocols";
import { type CommandQueueOptions, CommandQueue, type CommandRecord } from "./commands.ts";

/** A configured ADMS terminal and what the gateway knows of it. */
export interface Terminal {
  serial: string;
  deviceId: string;
  /** The zone the terminal's clock is set in: its own `adms.timeZone`, else the site's. */
  tz: string;
  heartbeatS: number;
  model?: string;
  firmware?: string;
  platform?: string;
  pushver?: string;
  /** The charset its bodies came in; commands with names go back in it. */
  charset: "utf-8" | "gbk";
  /** Gateway time of the last request, or null. */
  lastContact: number | null;
  /** Requests since the terminal's contact began (after a silence longer than OUTAGE_MS it starts again). */
  contactsInRun: number;
  runStart: number | null;
  lastHeartbeat: number;
  punchesToday: { date: string; count: number };
  /** Terminal time (as UTC) of the newest punch received. */
  newestPunchTs: number | null;
  clock: { offsetS: number | null; flagged: boolean; measuredAt: number | null };
  attlogStamp: string;
  operlogStamp: string;
  /** Users the terminal reported (OPERLOG USER records): PIN → name. */
  users: Map<string, string>;
  /** Users this gateway pushed and the terminal confirmed: PIN → name. */
  pushed: Map<string, string>;
  /** The last operator-log entries (op code, admin PIN, terminal time), newest first. */
  oplog: { op: number; admin: string; local: string }[];
  templatesDropped: number;
  unknownPins: Set<string>;
  commands: CommandQueue;
}

/** What is kept on disk per serial, so a restart neither re-reads a terminal's whole log nor forgets whom it pushed. */
export interface PersistedTerminal {
  attlogStamp?: string;
  operlogStamp?: string;
  lastContact?: number | null;
  pushed?: Record<string, string>;
}

export function newTerminal(
  device: GatewayConfig["devices"][number] & { adms: { serialNumber: string; timeZone?: string | undefined } },
  siteTz: string,
  saved: PersistedTerminal | undefined,
  queue: CommandQueueOptions,
): Terminal {
  return {
    serial: device.adms.serialNumber,
    deviceId: device.id,
    tz: device.adms.timeZone ?? siteTz,
    heartbeatS: device.heartbeatS,
    charset: "utf-8",
    lastContact: saved?.lastContact ?? null,
    contactsInRun: 0,
    runStart: null,
    lastHeartbeat: 0,
    punchesToday: { date: "", count: 0 },
    newestPunchTs: null,
    clock: { offsetS: null, flagged: false, measuredAt: null },
    attlogStamp: saved?.attlogStamp ?? "0",
    operlogStamp: saved?.operlogStamp ?? "0",
    users: new Map(),
    pushed: new Map(Object.entries(saved?.pushed ?? {})),
    oplog: [],
    templatesDropped: 0,
    unknownPins: new Set(),
    commands: new CommandQueue(queue),
  };
}

/** One line of `gateway terminals` (and /api/terminals). */
export interface TerminalReport {
  serial: string;
  deviceId: string;
  tz: string;
  model: string | null;
  firmware: string | null;
  pushver: string | null;
  lastContact: number | null;
  online: boolean;
  punchesToday: number;
  pendingCommands: string[];
  /** Commands the terminal refused or never confirmed (newest first), with the reason. */
  failedCommands: { id: number; command: string; state: string; returnCode: number | null; meaning: string }[];
  clockOffsetS: number | null;
  clockFlagged: boolean;
  usersOnTerminal: number;
  unknownPins: string[];
  templatesDropped: number;
}

/** A terminal that called with a serial number the registry does not know: refused, never stored. */
export interface RefusedTerminal {
  serial: string;
  firstSeen: number;
  lastSeen: number;
  requests: number;
  address: string;
}

export function describeCommand(r: CommandRecord): string {
  return r.command.kind === "set-time" ? "SET OPTION DateTime (clock)" : r.text.replace(/\t/g, " ");
}
