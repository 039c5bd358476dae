import { admsLink } from "./adms.ts";
import { frigateLink } from "./frigate.ts";
import { onvifLink } from "./onvif.ts";
import { serialLink } from "./serial.ts";

/**
 * Every device link, one line each. A link's fields appear in the registry (`devices[].<name>`), in the gateway
 * config (secrets sealed) and in the docs from its one file in this folder.
 */
export const DEVICE_LINKS = {
  serial: serialLink,
  onvif: onvifLink,
  frigate: frigateLink,
  adms: admsLink,
} as const;

export type DeviceLinks = typeof DEVICE_LINKS;
export type LinkName = keyof DeviceLinks;
export const LINK_NAMES = Object.keys(DEVICE_LINKS) as LinkName[];
