export { upCommand } from "./up.ts";
export { type ManagedChild, startChild } from "./child.ts";
export { DEMO_GATEWAYS, writeDemoRegistry } from "./demo.ts";
export { createLiveSummary, formatSummary, type SiteSummary, summarize } from "./summary.ts";
