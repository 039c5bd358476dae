import { randomUUID } from "node:crypto";
import {
  COMMAND_SCHEMAS,
  type DeviceEvent,
  deviceTopics,
  type GatewayCommand,
  type GatewayConfig,
  issueToError,
  type PayloadError,
} from "@supervision/firmware-protocols";

/** A message for the device broker to deliver. */
export interface Outgoing {
  topic: string;
  payload: string;
}

export type CommandResult = { ok: true; message: Outgoing } | { ok: false; error: PayloadError };

/** How long a keypad waits for the citizen's key after a transaction ends before it reports a timeout. */
export const PROMPT_TIMEOUT_S = 60;

/** Validation errors that a `time` command can cure. */
const CLOCK_ERRORS: ReadonlySet<string> = new Set(["clock_unset", "future_timestamp"]);

/**
 * Turns device activity and hub commands into device commands. Pure: the caller publishes what it returns.
 * Needs the current config for who sits at which window and which keypad serves it.
 */
export class CommandPlanner {
  constructor(
    private config: GatewayConfig | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  setConfig(config: GatewayConfig): void {
    this.config = config;
  }

  /**
   * A clerk signing in (or out) at a terminal updates their window's keypad display; a transaction the hall's queue
   * system reports finished at a window makes that window's keypad ask for a rating carrying the transaction id.
   */
  afterEvent(event: DeviceEvent): Outgoing[] {
    if (event.kind === "queue" && event.type === "finished" && event.windowId && this.config) {
      const windowId = event.windowId;
      const prompt = dropUndefined({ windowId, txnId: event.txnId, clerkId: event.clerkId, timeoutS: PROMPT_TIMEOUT_S });
      return this.config.devices
        .filter((d) => d.kind === "keypad" && d.windowId === windowId)
        .map((keypad) => this.#message(keypad.id, "prompt", prompt));
    }
    if (event.kind !== "signin" || !this.config) return [];
    const person = this.config.people.find((p) => p.id === event.personId);
    if (!person?.windowId) return [];
    const windowId = person.windowId;
    const clerk = event.direction === "in" ? { id: person.id, name: person.name, post: person.post, photoUrl: person.photoUrl } : null;
    return this.config.devices
      .filter((d) => d.kind === "keypad" && d.windowId === windowId)
      .map((keypad) => this.#message(keypad.id, "display", { windowId, clerk: clerk && dropUndefined(clerk) }));
  }

  /** A device whose clock made its reading invalid gets the gateway time. */
  afterRejection(deviceId: string, code: string): Outgoing[] {
    if (!CLOCK_ERRORS.has(code)) return [];
    return [this.#message(deviceId, "time", { tz: this.config?.site.tz ?? "UTC" })];
  }

  /** Validates a hub command against the v1 schemas before it reaches a device. */
  fromHub(command: GatewayCommand): CommandResult {
    if (this.config && !this.config.devices.some((d) => d.id === command.deviceId)) {
      return {
        ok: false,
        error: { code: "invalid_field", message: `device "${command.deviceId}" is not on this gateway`, path: "deviceId" },
      };
    }
    const parsed = COMMAND_SCHEMAS[command.name].safeParse(command.payload);
    if (!parsed.success) return { ok: false, error: issueToError(parsed.error.issues, command.payload) };
    return { ok: true, message: { topic: deviceTopics.command(command.deviceId, command.name), payload: JSON.stringify(parsed.data) } };
  }

  #message(deviceId: string, name: "display" | "time" | "prompt", fields: Record<string, unknown>): Outgoing {
    const payload = { v: 1, cmdId: randomUUID(), ts: this.now(), ...fields };
    return { topic: deviceTopics.command(deviceId, name), payload: JSON.stringify(payload) };
  }
}

function dropUndefined<T extends Record<string, unknown>>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
