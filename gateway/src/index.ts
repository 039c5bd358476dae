export { DeviceAccess } from "./broker/access.ts";
export { type DeviceBroker, startDeviceBroker } from "./broker/device-broker.ts";
export { type GatewayParts, type RunningGateway, startGateway } from "./controller.ts";
export { AvailabilityTracker } from "./devices/availability.ts";
export { CommandPlanner } from "./devices/commands.ts";
export { loadSettings, parseSettings, Settings, SettingsError } from "./settings/settings.ts";
export { openBuffer } from "./buffer/index.ts";
export { Uplink } from "./uplink/index.ts";
export { loadOrCreateKeys } from "./identity/keys.ts";
