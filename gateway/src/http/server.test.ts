import { freePort } from "@supervision/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGatewayMetrics } from "./metrics.ts";
import { type HttpApi, startHttpApi } from "./server.ts";

let api: HttpApi;
let bufferWritable = true;
const metrics = createGatewayMetrics({
  devicesConnected: () => 2,
  devicesOnline: () => 3,
  buffer: () => ({ depth: 5, bytes: 1000, oldestTs: 1_000, deadLetters: 1, thinned: 0 }),
  uplinkConnected: () => false,
  uplink: () => ({ rttMs: 250, inFlight: 3 }),
  now: () => 61_000,
});

beforeAll(async () => {
  api = await startHttpApi({
    host: "127.0.0.1",
    port: await freePort(),
    registry: metrics.registry,
    probe: {
      brokerListening: () => true,
      bufferWritable: () => bufferWritable,
      devices: () => [{ deviceId: "kp-1", online: true, connected: true, lastSeen: 1 }],
      details: () => ({ uplink: "disconnected" }),
      deadLetters: (limit, offset) => [{ id: 1, code: "malformed_json", limit, offset }],
    },
  });
});
afterAll(() => api.close());

const get = (path: string, init?: RequestInit) => fetch(`http://127.0.0.1:${api.port}${path}`, init);

describe("http api", () => {
  it("healthz is 200 when healthy and 503 with details when the buffer is not writable", async () => {
    expect((await get("/healthz")).status).toBe(200);
    bufferWritable = false;
    const res = await get("/healthz");
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ brokerListening: true, bufferWritable: false });
    bufferWritable = true;
  });

  it("serves Prometheus metrics read at scrape time", async () => {
    metrics.rejected.inc({ code: "malformed_json" });
    const text = await (await get("/metrics")).text();
    expect(text).toMatch(/^gateway_devices_connected 2$/m);
    expect(text).toMatch(/^gateway_buffer_oldest_age_seconds 60$/m);
    expect(text).toMatch(/^gateway_readings_rejected_total\{code="malformed_json"\} 1$/m);
    expect(text).toMatch(/^gateway_uplink_connected 0$/m);
    expect(text).toMatch(/^gateway_batch_rtt_seconds 0\.25$/m);
    expect(text).toMatch(/^gateway_batches_in_flight 3$/m);
  });

  it("serves devices and status JSON, and refuses unknown paths and methods", async () => {
    expect(await (await get("/api/devices")).json()).toEqual([{ deviceId: "kp-1", online: true, connected: true, lastSeen: 1 }]);
    expect((await get("/nope/../../etc/passwd")).status).toBe(404);
    expect(await (await get("/api/dead-letters?limit=3")).json()).toEqual([{ id: 1, code: "malformed_json", limit: 3, offset: 0 }]);
    expect(await (await get("/api/dead-letters?limit=3&offset=6")).json()).toEqual([
      { id: 1, code: "malformed_json", limit: 3, offset: 6 },
    ]);
    for (const bad of ["0", "-1", "abc", "1e9", "99999"]) expect((await get(`/api/dead-letters?limit=${bad}`)).status).toBe(400);
    for (const bad of ["-1", "abc", "1.5"]) expect((await get(`/api/dead-letters?limit=3&offset=${bad}`)).status).toBe(400);
    expect((await get("/healthz", { method: "POST", body: "x".repeat(100_000) })).status).toBe(405);
  });
});

describe("http api with a token", () => {
  it("asks /api/* for the bearer token (timing-safe), leaves /healthz and /metrics open, and serves adapter routes", async () => {
    const token = "a-token-of-24-characters";
    const tokenApi = await startHttpApi({
      host: "127.0.0.1",
      port: 0,
      registry: metrics.registry,
      token,
      probe: {
        brokerListening: () => true,
        bufferWritable: () => true,
        devices: () => [],
        details: () => ({}),
        deadLetters: () => [],
        adapterRoute: (path) =>
          path === "/api/cameras/x" ? { status: 200, body: Buffer.from("jpeg"), headers: { "content-type": "image/jpeg" } } : undefined,
      },
    });
    try {
      const at = (path: string, auth?: string) =>
        fetch(`http://127.0.0.1:${tokenApi.port}${path}`, auth ? { headers: { authorization: auth } } : {});
      expect((await at("/healthz")).status).toBe(200);
      expect((await at("/api/status")).status).toBe(401);
      expect((await at("/api/status", `Bearer ${token}x`)).status).toBe(401);
      expect((await at("/api/status", `Basic ${token}`)).status).toBe(401);
      const refused = await at("/api/cameras/x");
      expect(refused.status).toBe(401);
      expect(await refused.json()).toEqual({ error: expect.stringMatching(/http\.token.*Authorization: Bearer/) });
      const ok = await at("/api/cameras/x", `Bearer ${token}`);
      expect(ok.headers.get("content-type")).toBe("image/jpeg");
      expect(Buffer.from(await ok.arrayBuffer()).toString()).toBe("jpeg");
      expect((await at("/api/cameras/y", `Bearer ${token}`)).status).toBe(404);
    } finally {
      await tokenApi.close();
    }
  });
});
