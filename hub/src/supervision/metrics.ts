import { Gauge, type Registry } from "prom-client";

export interface SupervisionHealth {
  /** When the last run finished (ms), 0 before the first. */
  lastRunAt(): number;
  /** The last run's error, if it failed (empty or undefined when it did not). */
  lastError(): string | undefined;
  notifications(): { pending: number; sent: number; failed: number; gaveUp: number } | undefined;
}

/**
 * Gauges read from the running extension when Prometheus scrapes, so a failing run or a notification that cannot
 * be delivered shows on /metrics. A restarted extension replaces its predecessor's gauges.
 */
export function registerSupervisionMetrics(registry: Registry, health: SupervisionHealth): void {
  const gauge = (name: string, help: string, labelNames: string[], read: (g: Gauge) => void) => {
    registry.removeSingleMetric(name);
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        read(this);
      },
    });
  };
  gauge("supervision_last_run_timestamp_seconds", "When the supervision rules last finished a run", [], (g) =>
    g.set(health.lastRunAt() / 1000),
  );
  gauge("supervision_last_run_ok", "1 if the last supervision run succeeded, 0 if it failed (it retries at the next interval)", [], (g) =>
    g.set(health.lastError() ? 0 : 1),
  );
  gauge(
    "supervision_notifications",
    "Notification jobs: pending in the outbox, and attempts sent, failed (retrying) and given up",
    ["outcome"],
    (g) => {
      const n = health.notifications();
      if (!n) return;
      g.set({ outcome: "pending" }, n.pending);
      g.set({ outcome: "sent" }, n.sent);
      g.set({ outcome: "failed" }, n.failed);
      g.set({ outcome: "gave_up" }, n.gaveUp);
    },
  );
}
