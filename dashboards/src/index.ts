export type { Dashboard, Panel, Target } from "./builders.ts";
export { CHOSEN_DATASOURCE, DATASOURCE_NAME, DATASOURCE_UID, DATASOURCE_VARIABLE } from "./builders.ts";
export { allDashboards, ITEM_STATE_FILTERS, KIOSK, KIOSK_ROWS, UIDS } from "./dashboards.ts";
export { GENERATED_DIR, renderDashboard } from "./render.ts";
export { DEFAULT_LOCALE, dashboardMessages, type DashboardMessages, type Locale, LOCALES } from "./messages.ts";
export { type RegistryNames, withNames } from "./names.ts";
