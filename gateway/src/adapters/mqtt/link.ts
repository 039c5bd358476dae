import type { DeviceLink } from "../adapter.ts";
import { MqttAdapter } from "./mqtt-adapter.ts";
import { MqttSettings } from "./settings.ts";

/** MQTT devices through the gateway's embedded broker (README.md in this folder). */
export const mqttLink = {
  name: "mqtt",
  section: "broker" as const,
  settings: MqttSettings,
  // Most devices speak MQTT, and a taken port is a setup error the operator must see at start.
  essential: true,
  // The broker always listens (unknown devices are refused with a reason); devices and secrets apply live.
  slice: () => null,
  create: (context) => new MqttAdapter(context),
} satisfies DeviceLink<MqttSettings>;
