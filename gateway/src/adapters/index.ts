import { mqttLink } from "./mqtt/link.ts";
import { onvifLink } from "./onvif/link.ts";
import { serialLink } from "./serial/link.ts";
import { admsLink } from "./adms/link.ts";
import { frigateLink } from "./frigate/link.ts";

/**
 * Every device link the gateway has, one line each. A new link is a folder next to these (see "Adding a device
 * link" in gateway/README.md) and one line here: its settings section, start, config changes and commands follow.
 */
export const DEVICE_LINKS = [
  mqttLink, // MQTT devices through the embedded broker
  serialLink, // RS-485 keypads and terminals polled on the gateway's serial ports
  onvifLink, // ONVIF IP cameras: motion by PullPoint, health, snapshot evidence
  admsLink, // ZKTeco sign-in terminals pushing over HTTP (ADMS)
  frigateLink, // Frigate NVR: person events and motion over its MQTT, availability as health
] as const;
