// What other packages' tests and benchmarks use to drive a hub (`@supervision/hub/testing`).
export * from "./ingest-fixtures.ts";
export { startLiveViewHub } from "./live-view-hub.ts";
