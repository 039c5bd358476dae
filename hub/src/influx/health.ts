import type { InfluxdState, ManagedInfluxd } from "@supervision/influxd";
import type { Logger } from "pino";
import { Counter, Gauge, type Registry as MetricsRegistry } from "prom-client";

export interface InfluxHealthStatus {
  url: string;
  /** True when the hub started this influxd and watches it. */
  managed: boolean;
  /** Whether InfluxDB answered its last /ping. */
  reachable: boolean;
  /** The managed influxd's state, its pid, and how often it was restarted after dying. */
  state?: InfluxdState;
  pid?: number;
  restarts?: number;
  /** An influxd of the data directory left running by a hub that died, which this hub stopped before starting its own. */
  orphanStopped?: number;
}

/**
 * Whether the hub can store: InfluxDB answers /ping (checked every `intervalMs`) and, when the hub manages
 * influxd, it runs. /healthz answers 503 while not, `hub status` shows it, and the metrics carry it:
 * `hub_influx_up`, `hub_influxd_running`, `hub_influxd_restarts_total`.
 */
export class InfluxHealth {
  private reachable = true;
  private timer: NodeJS.Timeout | undefined;
  private probing = false;
  private readonly up: Gauge;
  private readonly running: Gauge | undefined;
  private readonly restarts: Counter | undefined;

  constructor(
    private readonly url: string,
    private readonly managed: ManagedInfluxd | undefined,
    private readonly logger: Logger,
    metrics: MetricsRegistry,
    private readonly intervalMs = 2_000,
  ) {
    const registers = [metrics];
    this.up = new Gauge({ name: "hub_influx_up", help: "1 while InfluxDB answers /ping", registers });
    this.up.set(1);
    if (managed) {
      this.running = new Gauge({ name: "hub_influxd_running", help: "1 while the managed influxd runs and answers", registers });
      this.running.set(managed.state === "running" ? 1 : 0);
      this.restarts = new Counter({
        name: "hub_influxd_restarts_total",
        help: "Times the managed influxd was brought back after it died",
        registers,
      });
    }
  }

  /** The managed influxd's state changes (ManagedInfluxd's onState). */
  onManagedState(state: InfluxdState, detail: string): void {
    this.running?.set(state === "running" ? 1 : 0);
    if (state === "restarting") this.logger.error({ detail }, "managed influxd died; the hub cannot store until it is back");
    else if (state === "running" && (this.managed?.restarts ?? 0) > 0) {
      this.restarts?.inc();
      this.logger.warn({ detail, restarts: this.managed?.restarts }, "managed influxd restarted");
    } else this.logger.info({ state, detail }, "managed influxd");
  }

  start(): void {
    this.timer = setInterval(() => void this.probe(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private async probe(): Promise<void> {
    if (this.probing) return;
    this.probing = true;
    let ok = false;
    try {
      ok = (await fetch(`${this.url}/ping`, { signal: AbortSignal.timeout(Math.max(500, this.intervalMs - 250)) })).status === 204;
    } catch {
      ok = false;
    } finally {
      this.probing = false;
    }
    if (ok !== this.reachable)
      this.logger[ok ? "info" : "error"]({ url: this.url }, ok ? "influxdb answers again" : "influxdb does not answer /ping");
    this.reachable = ok;
    this.up.set(ok ? 1 : 0);
  }

  /** False while the hub cannot store. */
  get ok(): boolean {
    return this.reachable && (this.managed === undefined || this.managed.state === "running");
  }

  status(): InfluxHealthStatus {
    const m = this.managed;
    return {
      url: this.url,
      managed: m !== undefined,
      reachable: this.reachable,
      ...(m ? { state: m.state, pid: m.pid, restarts: m.restarts, ...(m.orphan ? { orphanStopped: m.orphan.pid } : {}) } : {}),
    };
  }
}
