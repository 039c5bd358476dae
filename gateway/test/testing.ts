// What other packages' tests and benchmarks use to run a gateway (`@supervision/gateway/testing`).
export * from "./fixtures.ts";
export { type StandInHub, startStandInHub } from "../src/uplink/testing/stand-in-hub.ts";
export { rawRequest, type RawResponse } from "../src/adapters/adms/testing/raw-http.ts";
export { admsFixture, admsRequestLine } from "../src/adapters/adms/testing/fixtures.ts";
export { OnvifReplay, type PtzCall, type ReplayOptions } from "../src/adapters/onvif/testing/replay-server.ts";
export { type RtspSource, rtspSourceMissing, startRtspSource } from "../src/adapters/onvif/testing/rtsp-source.ts";
