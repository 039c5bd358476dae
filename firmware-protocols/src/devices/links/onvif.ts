import { z } from "zod";
import { defineLink } from "../link.ts";

/** ONVIF cameras: the gateway talks to the camera's device service. */
export const onvifLink = defineLink({
  name: "onvif",
  kinds: ["camera"],
  description: "ONVIF camera: device service URL, account, and whether snapshots and PTZ are used",
  fields: {
    url: z
      .string()
      .max(512)
      .regex(/^https?:\/\/[^\s]+$/, "an http:// or https:// URL of the camera's ONVIF device service"),
    username: z.string().min(1).max(64).optional(),
    /** Take snapshots on motion (for the supervision centre's evidence). */
    snapshot: z.boolean().optional(),
    /** The camera may be turned (PTZ presets). */
    ptz: z.boolean().optional(),
  },
  secrets: { password: { optional: true } },
});
