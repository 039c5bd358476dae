import { z } from "zod";
import { defineLink } from "../link.ts";

/** Sign-in terminals that push attendance over ZKTeco's ADMS (HTTP "iclock") protocol. */
export const admsLink = defineLink({
  name: "adms",
  kinds: ["terminal"],
  description: "ADMS attendance terminal: its serial number, the time zone its clock shows, its comm key",
  fields: {
    serialNumber: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "the terminal's serial number (SN), letters and digits"),
    /** IANA zone of the terminal's clock; absent: the site's zone. */
    timeZone: z.string().min(1).max(64).optional(),
  },
  secrets: { commKey: { optional: true } },
});
