export interface StampedSignin {
  /** Device time. */
  ts: number;
  /** Gateway receive time. */
  rxTs: number;
  /** The terminal flagged its own clock as untrustworthy. */
  timeSuspect: boolean;
}

/**
 * Whether a sign-in's device time cannot be trusted, so a person reviews it instead of a rule judging it: the
 * terminal says so; or the time lies ahead of when the gateway received it; or it was received long after it was
 * made although the terminal was connected then. A sign-in kept back by an offline terminal is normal and is judged
 * by its device time; one that a connected terminal should have sent at once points to a wrong clock. Connected
 * means a heartbeat (sent live, never kept back) with a device time within `heartbeatWindowMs` of the sign-in's.
 */
export function clockSuspect(signin: StampedSignin, heartbeats: number[], toleranceMs: number, heartbeatWindowMs: number): boolean {
  if (signin.timeSuspect || signin.ts - signin.rxTs > toleranceMs) return true;
  if (signin.rxTs - signin.ts <= toleranceMs) return false;
  return heartbeats.some((hb) => Math.abs(hb - signin.ts) <= heartbeatWindowMs);
}
