import type { DeviceEvent, GatewayConfig, Reading } from "@supervision/firmware-protocols";
import type { Logger } from "pino";
import type { DeadLetter, ReadingSink } from "../buffer/types.ts";

/** Sign-ins and sign-outs kept per window: enough to place ratings buffered in a keypad for a day. */
const HISTORY_PER_WINDOW = 64;

interface Change {
  ts: number;
  /** The clerk signed in from `ts` on, or null after a sign-out. */
  clerkId: string | null;
}

/**
 * Who is signed in at each window, from the sign-ins that pass through this gateway (a clerk's sign-in places them
 * at their registry window, as the keypad display does). A rating names the clerk signed in at its window at its
 * device time: the gateway fills it, or corrects a keypad that claims another clerk (PROTOCOL.md, "Who a rating
 * credits"). Before the gateway has seen a sign-in at a window (after a restart) it does not know, and the keypad's
 * claim goes on to the hub, which checks it against the registry.
 */
export class WindowClerks {
  private readonly byWindow = new Map<string, Change[]>();
  private windowOf = new Map<string, string>();

  constructor(config: GatewayConfig | undefined) {
    if (config) this.setConfig(config);
  }

  setConfig(config: GatewayConfig): void {
    this.windowOf = new Map(config.people.filter((p) => p.windowId).map((p) => [p.id, p.windowId as string]));
  }

  /** Records a stored sign-in or sign-out of a clerk at their window. */
  signin(personId: string, direction: string, ts: number): void {
    const windowId = this.windowOf.get(personId);
    if (windowId === undefined) return;
    const changes = this.byWindow.get(windowId) ?? [];
    this.byWindow.set(windowId, changes);
    const current = this.at(windowId, ts);
    // A sign-out ends only its own clerk's session; "in" starts one (taking over from whoever was there).
    const clerkId = direction === "out" ? (current === personId ? null : (current ?? null)) : personId;
    let i = changes.length;
    while (i > 0 && (changes[i - 1] as Change).ts > ts) i--;
    changes.splice(i, 0, { ts, clerkId });
    if (changes.length > HISTORY_PER_WINDOW) changes.shift();
  }

  /** The clerk signed in at the window at `ts`: an id, null (nobody), or undefined when the gateway does not know. */
  at(windowId: string, ts: number): string | null | undefined {
    const changes = this.byWindow.get(windowId);
    if (!changes) return undefined;
    for (let i = changes.length - 1; i >= 0; i--) if ((changes[i] as Change).ts <= ts) return (changes[i] as Change).clerkId;
    return undefined;
  }
}

/**
 * The sink the device links commit to, with each rating's clerk set from the sign-in state (WindowClerks) and each
 * sign-in recorded in it once stored. A corrected claim is logged with both clerks.
 */
export function clerkCheckedSink(sink: ReadingSink, clerks: WindowClerks, logger: Logger): ReadingSink {
  return {
    async append(reading: Reading) {
      let toStore = reading;
      // Links append only events they validated against the v1 schemas (as observedSink reads them).
      const event = reading as unknown as DeviceEvent;
      if (event.kind === "rating") {
        const signedIn = clerks.at(event.windowId, event.ts);
        const claimed = event.clerkId ?? null;
        if (signedIn !== undefined && signedIn !== claimed) {
          logger.warn(
            { deviceId: event.deviceId, seq: event.seq, windowId: event.windowId, claimed, signedIn },
            "rating names another clerk than the one signed in at its window; stored with the clerk signed in",
          );
          const { clerkId: _claimed, ...rest } = reading;
          toStore = (signedIn === null ? rest : { ...rest, clerkId: signedIn }) as Reading;
        }
      }
      const stored = await sink.append(toStore);
      if (event.kind === "signin" && stored === "stored") clerks.signin(event.personId, event.direction, event.ts);
      return stored;
    },
    deadLetter(entry: DeadLetter) {
      return sink.deadLetter(entry);
    },
  };
}
