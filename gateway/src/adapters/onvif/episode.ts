/**
 * One camera's motion episodes: a start when motion is first seen, an end when the camera says it stopped, or
 * `quietMs` after the last motion report for cameras that never say stop (a repeated "motion" keeps the episode
 * open). Repeated states are not repeated readings: a camera that re-sends its state after a resubscription
 * (PropertyOperation "Initialized") does not start a second episode.
 */
export type EpisodeEdge = { state: "start" | "end"; at: number; why: "camera" | "quiet" };

export class MotionEpisode {
  private open = false;
  private lastMotionAt = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly quietMs: number,
    private readonly emit: (edge: EpisodeEdge) => void,
  ) {}

  get active(): boolean {
    return this.open;
  }

  /** A motion state from the camera at time `at` (ms). */
  report(motion: boolean, at: number): void {
    if (motion) {
      this.lastMotionAt = Math.max(this.lastMotionAt, at);
      this.armQuietEnd();
      if (!this.open) {
        this.open = true;
        this.emit({ state: "start", at, why: "camera" });
      }
    } else if (this.open) {
      this.close(Math.max(at, this.lastMotionAt), "camera");
    }
  }

  /** Ends an open episode now (the camera went away: its last state cannot be trusted to last). */
  endNow(at: number): void {
    if (this.open) this.close(Math.max(at, this.lastMotionAt), "quiet");
  }

  dispose(): void {
    clearTimeout(this.timer);
  }

  private armQuietEnd(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (this.open) this.close(this.lastMotionAt + this.quietMs, "quiet");
    }, this.quietMs);
    this.timer.unref?.();
  }

  private close(at: number, why: EpisodeEdge["why"]): void {
    clearTimeout(this.timer);
    this.open = false;
    this.emit({ state: "end", at, why });
  }
}
