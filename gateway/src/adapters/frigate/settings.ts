import { z } from "zod";

/** The `frigate` section of the gateway settings: where this hall's Frigate publishes, and what counts as motion. */
export const FrigateSettings = z
  .strictObject({
    /** The MQTT broker Frigate publishes to (Frigate's `mqtt.host`/`port`). */
    url: z
      .string()
      .max(512)
      .regex(/^mqtts?:\/\/[^\s]+$/, "an mqtt:// or mqtts:// URL of the broker Frigate publishes to")
      .default("mqtt://127.0.0.1:1883"),
    username: z.string().min(1).max(128).optional(),
    /** The broker password, from this environment variable (never in the settings file). */
    passwordEnv: z
      .string()
      .regex(/^[A-Z_][A-Z0-9_]{0,63}$/, "an environment variable name")
      .optional(),
    /** Frigate's `mqtt.topic_prefix`. */
    topicPrefix: z
      .string()
      .regex(/^[A-Za-z0-9_/-]{1,64}$/, "Frigate's topic prefix, e.g. frigate")
      .default("frigate"),
    /** What makes a window's motion: Frigate's person events (in the window's zone), its pixel motion, or both. */
    use: z
      .array(z.enum(["events", "motion"]))
      .min(1)
      .max(2)
      .default(["events"]),
    /** The object labels that count as someone at the window. */
    labels: z
      .array(z.string().regex(/^[a-z_]{1,32}$/))
      .min(1)
      .max(16)
      .default(["person"]),
    /** Frigate's HTTP API (e.g. http://127.0.0.1:5000): the event's snapshot becomes the evidence of a motion start. */
    httpUrl: z
      .string()
      .max(512)
      .regex(/^https?:\/\/[^\s]+$/, "an http(s):// URL of Frigate's API")
      .optional(),
    snapshots: z
      .strictObject({
        maxBytes: z
          .int()
          .min(1 << 20)
          .default(256 << 20),
        retentionDays: z.int().min(1).max(3650).default(30),
        timeoutMs: z.int().min(500).max(60_000).default(5000),
      })
      .prefault({}),
  })
  .prefault({});
export type FrigateSettings = z.output<typeof FrigateSettings>;
