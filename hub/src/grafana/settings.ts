import { DEFAULT_LOCALE, LOCALES } from "@supervision/dashboards";
import { Id } from "@supervision/firmware-protocols";
import { z } from "zod";

/** Grafana provisioning settings. Without `url` (or token) the extension stays disabled and says so in status. */
export const GrafanaSettings = z
  .object({
    url: z.url().optional(),
    serviceAccountToken: z.string().min(1).optional(),
    datasource: z
      .object({
        /** The InfluxDB URL as Grafana reaches it (in Docker: http://influxdb:8086). */
        url: z.url().default("http://127.0.0.1:8086"),
        database: z.string().min(1).default("supervision"),
        user: z.string().default(""),
        password: z.string().default(""),
      })
      .strict()
      .default({ url: "http://127.0.0.1:8086", database: "supervision", user: "", password: "" }),
    /**
     * Each region's InfluxDB as Grafana reaches it (influx.regions; hub/README.md, "InfluxDB by region"), for its data
     * source. Default: the hub's influx.regions URL and database; user and password are datasource's.
     */
    regions: z.record(Id, z.strictObject({ url: z.url(), database: z.string().min(1).max(64).optional() })).optional(),
    folderTitle: z.string().min(1).max(200).default("Supervision"),
    /** The hub's HTTP API as the centre's browsers reach it: the hall dashboard links to its live view page (/live). */
    hubUrl: z.url({ protocol: /^https?$/ }).default("http://127.0.0.1:8080"),
    /** Language of every dashboard text: simplified Chinese for the supervision offices, or English. */
    locale: z.enum(LOCALES).default(DEFAULT_LOCALE),
    /** First retry delay after a failed provisioning; doubles up to 5 minutes. */
    retryIntervalMs: z.number().int().min(10).max(600_000).default(5_000),
  })
  .strict();

export type GrafanaSettings = z.infer<typeof GrafanaSettings>;
export type GrafanaSettingsInput = z.input<typeof GrafanaSettings>;
