export type { HubContext, HubExtension, RegistryView } from "./controller/extension.ts";
export { Hub } from "./controller/hub.ts";
export { createConfigPublisher } from "./registry/config-publisher.ts";
export { formatRegistryError, loadRegistry, RegistryLoadError } from "./registry/loader.ts";
export type { Registry } from "./registry/schema.ts";
export { sliceFor } from "./registry/slice.ts";
export { WatchedRegistry } from "./registry/view.ts";
export { HubSettings, loadSettings, SettingsError } from "./settings/index.ts";
