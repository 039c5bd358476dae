import { z } from "zod";

/** The unattended-window rule's settings (`supervision.unattended` in the hub settings); see README.md. */
export const UnattendedSettings = z
  .strictObject({
    /** A keypad rating or a sign-in at the window counts as someone there this many minutes either side of it. */
    activityMinutes: z.int().min(0).max(120).default(10),
    /** A stretch starting within this many minutes after the previous one ended is the same episode (one warning). */
    cooldownMinutes: z.int().min(0).max(480).default(30),
  })
  .prefault({});
export type UnattendedSettings = z.output<typeof UnattendedSettings>;
