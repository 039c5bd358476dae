import { z } from "zod";
import { Port } from "../../settings/values.ts";

const Tls = z.strictObject({ certFile: z.string(), keyFile: z.string(), caFile: z.string().optional() });

/** The `adms` section of the gateway settings: where ZKTeco terminals push to (the address set on the terminal). */
export const AdmsSettings = z
  .strictObject({
    /** Listen even when the registry names no ADMS terminal yet, so terminals that call are refused and listed. */
    enabled: z.boolean().default(false),
    host: z.string().default("0.0.0.0"),
    port: Port.default(8089),
    /** HTTPS, for firmware that supports it. */
    tls: Tls.optional(),
    /** A terminal clock further off than this is set, and its punches flagged for review. */
    clockToleranceS: z.int().min(10).max(3600).default(120),
  })
  .prefault({});
export type AdmsSettings = z.output<typeof AdmsSettings>;
