import { Counter, Gauge, Registry } from "prom-client";

/** The gateway's Prometheus metrics; gauges are read from the live components at scrape time. */
export function createGatewayMetrics(read: {
  devicesConnected: () => number;
  devicesOnline: () => number;
  buffer: () => { depth: number; bytes: number; oldestTs: number | null; deadLetters: number; thinned: number } | undefined;
  uplinkConnected: () => boolean;
  /** The uplink's last batch round trips (average, ms) and batches in flight. */
  uplink?: () => { rttMs: number | null; inFlight: number } | undefined;
  now?: () => number;
}) {
  const registry = new Registry();
  const now = read.now ?? Date.now;
  const gauge = (name: string, help: string, value: () => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(value());
      },
    });
  gauge(
    "gateway_devices_connected",
    "Devices a device link hears from now (an open MQTT connection, answering serial polls).",
    read.devicesConnected,
  );
  gauge("gateway_devices_online", "Devices online by connection, status or heartbeat.", read.devicesOnline);
  gauge("gateway_buffer_depth", "Readings waiting to reach the hub.", () => read.buffer()?.depth ?? 0);
  gauge("gateway_buffer_bytes", "Bytes held by the buffer.", () => read.buffer()?.bytes ?? 0);
  gauge("gateway_buffer_oldest_age_seconds", "Age of the oldest unsent reading.", () => {
    const oldest = read.buffer()?.oldestTs;
    return oldest == null ? 0 : Math.max(0, (now() - oldest) / 1000);
  });
  gauge("gateway_dead_letters", "Refused device messages kept for inspection.", () => read.buffer()?.deadLetters ?? 0);
  gauge("gateway_thinned_readings", "Low-value readings dropped to stay under the buffer bound.", () => read.buffer()?.thinned ?? 0);
  gauge("gateway_uplink_connected", "1 when the uplink to the hub is connected.", () => (read.uplinkConnected() ? 1 : 0));
  gauge(
    "gateway_batch_rtt_seconds",
    "Average round trip of the last batches, publish to the hub's stored ack.",
    () => (read.uplink?.()?.rttMs ?? 0) / 1000,
  );
  gauge("gateway_batches_in_flight", "Batches sent to the hub and not yet acknowledged.", () => read.uplink?.()?.inFlight ?? 0);
  return {
    registry,
    accepted: new Counter({
      name: "gateway_readings_accepted_total",
      help: "Readings committed to the buffer.",
      labelNames: ["kind", "result"],
      registers: [registry],
    }),
    rejected: new Counter({
      name: "gateway_readings_rejected_total",
      help: "Device messages refused, by reason code.",
      labelNames: ["code"],
      registers: [registry],
    }),
  };
}
export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>;
