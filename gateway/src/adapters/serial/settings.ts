import { z } from "zod";

const BaudRate = z.union([z.literal(9600), z.literal(19200), z.literal(38400), z.literal(57600), z.literal(115200)]);

/** The `serial` section of the gateway settings: how this gateway drives its RS-485 ports. */
export const SerialSettings = z
  .strictObject({
    /** Line speed of every port not listed under `ports` (PROTOCOL.md 3.1: 19200 8N1). */
    baudRate: BaudRate.default(19200),
    /** How long a polled device has to start answering (PROTOCOL.md 3.4: 50 ms). */
    replyTimeoutMs: z.int().min(10).max(1000).default(50),
    /** Per-port line speed, by the device path the registry names (`/dev/serial/by-id/...`). */
    ports: z.record(z.string().min(1).max(256), z.strictObject({ baudRate: BaudRate })).default({}),
  })
  .prefault({});
export type SerialSettings = z.output<typeof SerialSettings>;
