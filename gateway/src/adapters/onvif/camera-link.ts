import { connect as tcpConnect } from "node:net";
import type { GatewayDevice } from "@supervision/firmware-protocols";
import onvif from "onvif";
import type { Logger } from "pino";
import { MotionEpisode, type EpisodeEdge } from "./episode.ts";
import { parseMotionNotification } from "./motion-notification.ts";

type Cam = InstanceType<typeof onvif.Cam>;

/** What the adapter knows about one camera's health, for `gateway status`, availability and `cameras check`. */
export interface CameraHealth {
  deviceId: string;
  /** A PullPoint subscription is up and answering. */
  subscribed: boolean;
  /** Gateway time of the last answered PullMessages (the camera is alive), or null. */
  lastPullAt: number | null;
  /** Gateway time of the last notification of any topic, or null. */
  lastEventAt: number | null;
  /** The RTSP stream answered OPTIONS at the last check; null before the first check. */
  streamReachable: boolean | null;
  /** Camera clock minus gateway clock, ms, measured at connect. */
  clockSkewMs: number | null;
  lastError: string | null;
  motionActive: boolean;
}

export interface CameraLinkOptions {
  device: GatewayDevice & { onvif: NonNullable<GatewayDevice["onvif"]> };
  /** The camera's password opened from its sealed form, or why it could not be (the link then stays down). */
  password: { ok: true; value: string | undefined } | { ok: false; reason: string };
  logger: Logger;
  /** Ends an episode this long after the last motion report, for cameras that never send motion-stop. */
  quietMs: number;
  /** First wait before reconnecting; doubles to maxBackoffMs. */
  backoffMs: number;
  maxBackoffMs: number;
  /** Renew the subscription when less than this is left of it. */
  renewBeforeMs: number;
  /** Timeout of ordinary SOAP requests. */
  requestTimeoutMs: number;
  /** How often the stream URI is probed with RTSP OPTIONS. */
  streamCheckMs: number;
  onEdge: (edge: EpisodeEdge) => void;
  /** Health changed between usable and not. */
  onHealth: (healthy: boolean) => void;
}

/** The longest a camera holds a PullMessages: the `onvif` package asks for PT1M. */
const PULL_HOLD_MS = 60_000;

const call = <T>(fn: (cb: (err: Error | null, data?: T) => void) => void): Promise<T> =>
  new Promise((resolve, reject) => fn((err, data) => (err ? reject(err) : resolve(data as T))));

/**
 * One ONVIF camera: connects with the `onvif` package (the address configured is kept for every service the camera
 * names: `preserveAddress`), runs its own PullPoint loop (create, pull, renew before expiry, resubscribe after any
 * error with exponential backoff) rather than the package's automatic one, whose retry starts at 10 ms and cannot be
 * stopped cleanly, and turns motion notifications into episodes.
 */
export class CameraLink {
  readonly health: CameraHealth;
  private cam: Cam | undefined;
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private readonly episode: MotionEpisode;
  private streamUri: string | undefined;
  private snapshotUri: string | undefined;
  private streamTimer: NodeJS.Timeout | undefined;
  private healthy = false;
  private subscribedSince = 0;

  constructor(private readonly opts: CameraLinkOptions) {
    this.health = {
      deviceId: opts.device.id,
      subscribed: false,
      lastPullAt: null,
      lastEventAt: null,
      streamReachable: null,
      clockSkewMs: null,
      lastError: null,
      motionActive: false,
    };
    this.episode = new MotionEpisode(opts.quietMs, (edge) => {
      this.health.motionActive = edge.state === "start";
      opts.onEdge(edge);
    });
  }

  get deviceId(): string {
    return this.opts.device.id;
  }

  /** Seconds the current subscription has been up (0 when down): a camera heartbeat's uptime. */
  uptimeS(): number {
    return this.health.subscribed ? Math.floor((Date.now() - this.subscribedSince) / 1000) : 0;
  }

  isHealthy(): boolean {
    return this.healthy;
  }

  /** The camera's snapshot URL, on the configured host (null until connected or when it has none). */
  snapshotUrl(): string | undefined {
    return this.snapshotUri;
  }

  rtspUrl(): string | undefined {
    return this.streamUri;
  }

  /** The connected `onvif` camera, for PTZ and checks. */
  camera(): Cam | undefined {
    return this.cam;
  }

  /** The registry's credentials for this camera, password in clear: for requests only, never logged. */
  credentials(): { username: string | undefined; password: string | undefined } {
    return { username: this.opts.device.onvif.username, password: this.opts.password.ok ? this.opts.password.value : undefined };
  }

  start(): void {
    this.running = true;
    if (!this.opts.password.ok) {
      this.health.lastError = `camera password: ${this.opts.password.reason}`;
      this.opts.logger.error({ deviceId: this.deviceId, err: this.health.lastError }, "camera not followed");
      return;
    }
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    clearInterval(this.streamTimer);
    this.episode.dispose();
    const cam = this.cam;
    if (cam && this.health.subscribed) await call((cb) => cam.unsubscribe(cb, true)).catch(() => undefined);
    await this.loop;
  }

  private async run(): Promise<void> {
    let backoff = this.opts.backoffMs;
    while (this.running) {
      try {
        const cam = await this.connect();
        await call((cb) => cam.createPullPointSubscription(cb));
        this.subscribedSince = Date.now();
        this.health.subscribed = true;
        this.health.lastError = null;
        this.opts.logger.info({ deviceId: this.deviceId }, "camera motion subscription up");
        backoff = this.opts.backoffMs;
        await this.pullLoop(cam);
      } catch (error) {
        if (!this.running) break;
        const message = describe(error);
        if (this.health.lastError !== message)
          this.opts.logger.warn({ deviceId: this.deviceId, err: message, retryInMs: backoff }, "camera motion subscription down");
        this.health.lastError = message;
        this.health.subscribed = false;
        this.updateHealth();
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, this.opts.maxBackoffMs);
      }
    }
    this.health.subscribed = false;
  }

  private async connect(): Promise<Cam> {
    if (this.cam) return this.cam;
    const url = new URL(this.opts.device.onvif.url);
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error(`onvif url ${url.protocol}// is not http(s)`);
    const cam = new onvif.Cam({
      hostname: url.hostname,
      port: Number(url.port || (url.protocol === "https:" ? 443 : 80)),
      path: url.pathname || "/onvif/device_service",
      useSecure: url.protocol === "https:",
      ...this.credentials(),
      timeout: this.opts.requestTimeoutMs,
      preserveAddress: true,
      autoconnect: false,
    });
    await call((cb) => cam.connect(cb));
    const cameraTime = await call<Date>((cb) => cam.getSystemDateAndTime(cb)).catch(() => undefined);
    this.health.clockSkewMs = cameraTime ? cameraTime.getTime() - Date.now() : null;
    const stream = await call<{ uri: string }>((cb) => cam.getStreamUri({ protocol: "RTSP" }, cb)).catch(() => undefined);
    this.streamUri = stream?.uri ? onConfiguredHost(stream.uri, url.hostname) : undefined;
    const snapshot = await call<{ uri: string }>((cb) => cam.getSnapshotUri(cb)).catch(() => undefined);
    this.snapshotUri = snapshot?.uri ? onConfiguredHost(snapshot.uri, url.hostname) : undefined;
    this.cam = cam;
    void this.checkStream();
    clearInterval(this.streamTimer);
    this.streamTimer = setInterval(() => void this.checkStream(), this.opts.streamCheckMs);
    this.streamTimer.unref();
    return cam;
  }

  private async pullLoop(cam: Cam): Promise<void> {
    while (this.running) {
      const data = await call<{ notificationMessage?: unknown; terminationTime?: Date; currentTime?: Date }>((cb) =>
        cam.pullMessages({ messageLimit: 50 }, cb),
      );
      if (!this.running) return;
      const rxTs = Date.now();
      this.health.lastPullAt = rxTs;
      this.updateHealth();
      const messages =
        data?.notificationMessage === undefined
          ? []
          : Array.isArray(data.notificationMessage)
            ? data.notificationMessage
            : [data.notificationMessage];
      for (const message of messages) this.onNotification(message, rxTs);
      const left = remainingMs(data?.currentTime, data?.terminationTime);
      // The next PullMessages may be held a minute (PT1M): renew now if the subscription could lapse during it.
      if (left === undefined || left < this.opts.renewBeforeMs + PULL_HOLD_MS) await call((cb) => cam.renew({}, cb));
    }
  }

  private onNotification(message: unknown, rxTs: number): void {
    this.health.lastEventAt = rxTs;
    const parsed = parseMotionNotification(message);
    if (!parsed.ok) {
      this.opts.logger.warn({ deviceId: this.deviceId, reason: parsed.error }, "camera notification not understood");
      return;
    }
    const n = parsed.value;
    if (!n || n.operation === "Deleted") return;
    // The camera's time, corrected by the skew measured at connect (its clock reads whole seconds, so a skew under
    // 2 s is not corrected); never after the gateway received it.
    const skew = Math.abs(this.health.clockSkewMs ?? 0) < 2000 ? 0 : this.health.clockSkewMs!;
    const at = n.cameraTime === undefined ? rxTs : Math.min(rxTs, n.cameraTime - skew);
    this.episode.report(n.motion, at);
  }

  private async checkStream(): Promise<void> {
    if (!this.streamUri) {
      this.health.streamReachable = false;
    } else {
      this.health.streamReachable = await rtspOptions(this.streamUri, this.opts.requestTimeoutMs);
    }
    this.updateHealth();
  }

  private updateHealth(): void {
    const pulledRecently = this.health.lastPullAt !== null && Date.now() - this.health.lastPullAt < 90_000;
    const healthy = this.health.subscribed && pulledRecently && this.health.streamReachable === true;
    if (healthy === this.healthy) return;
    this.healthy = healthy;
    this.opts.logger[healthy ? "info" : "warn"](
      { deviceId: this.deviceId, health: this.health },
      healthy ? "camera healthy" : "camera unhealthy",
    );
    this.opts.onHealth(healthy);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}

function describe(error: unknown): string {
  if (error instanceof Error)
    return (error as NodeJS.ErrnoException).code ? `${(error as NodeJS.ErrnoException).code}: ${error.message}` : error.message;
  return String(error);
}

function remainingMs(current: Date | undefined, termination: Date | undefined): number | undefined {
  if (!(current instanceof Date) || !(termination instanceof Date)) return undefined;
  return termination.getTime() - current.getTime();
}

/** Cameras often name an address of their own (another interface, a NAT's inside): keep the configured host. */
export function onConfiguredHost(uri: string, host: string): string {
  try {
    const u = new URL(uri);
    u.hostname = host;
    return u.toString();
  } catch {
    return uri;
  }
}

/** True when an RTSP server answers OPTIONS on the stream URI (any status: 401 still means it is there). */
export function rtspOptions(uri: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let u: URL;
    try {
      u = new URL(uri);
    } catch {
      resolve(false);
      return;
    }
    const socket = tcpConnect({ host: u.hostname, port: Number(u.port || 554) });
    const finish = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.on("error", () => finish(false));
    let answer = "";
    socket.on("data", (chunk: Buffer) => {
      answer += chunk.toString("latin1");
      if (answer.length >= 9) finish(answer.startsWith("RTSP/1.0 "));
    });
    socket.on("connect", () => {
      u.username = "";
      u.password = "";
      socket.write(`OPTIONS ${u.toString()} RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: supervision-gateway\r\n\r\n`);
    });
  });
}
