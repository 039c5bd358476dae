import { z } from "zod";
import { defineLink } from "../link.ts";

/** RS-485 devices (PROTOCOL.md section 3): the gateway polls each bus address on a serial port. */
export const serialLink = defineLink({
  name: "serial",
  kinds: ["keypad", "terminal", "camera"],
  description: "RS-485 bus: the serial port path on the gateway and the device's bus address",
  fields: {
    port: z.string().min(1).max(256),
    address: z.int().min(1).max(247),
  },
  secrets: {},
});
