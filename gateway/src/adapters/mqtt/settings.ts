import { z } from "zod";
import { Port } from "../../settings/values.ts";

const Tls = z.strictObject({ certFile: z.string(), keyFile: z.string(), caFile: z.string().optional() });

/** The `broker` section of the gateway settings: where devices reach the gateway's MQTT broker. */
export const MqttSettings = z
  .strictObject({
    host: z.string().default("0.0.0.0"),
    port: Port.default(1883),
    tls: Tls.extend({ port: Port.default(8883) }).optional(),
    websocketPort: Port.optional(),
  })
  .prefault({});
export type MqttSettings = z.output<typeof MqttSettings>;
