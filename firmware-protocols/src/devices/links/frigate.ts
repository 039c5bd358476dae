import { z } from "zod";
import { defineLink } from "../link.ts";

/** Cameras whose person detection runs in Frigate: the device is Frigate's camera of that name. */
export const frigateLink = defineLink({
  name: "frigate",
  kinds: ["camera"],
  description: "Frigate NVR: the camera's name in Frigate's configuration",
  fields: {
    camera: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "a Frigate camera name (letters, digits, _ and -, up to 64)"),
    /** The Frigate zone over the window's counter: only a person inside it is this window's motion (absent: anywhere on the camera). */
    zone: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, "a Frigate zone name (letters, digits, _ and -, up to 64)")
      .optional(),
  },
  secrets: {},
});
