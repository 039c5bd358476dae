// What other packages' tests and benchmarks use to run a gateway (`@supervision/gateway/testing`).
export * from "./fixtures.ts";
export { type StandInHub, startStandInHub } from "../src/uplink/testing/stand-in-hub.ts";
