import { createServer } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { CameraRelay, parseCameraRelay } from "./camera-relay.ts";

const closers: (() => void)[] = [];
afterEach(() => closers.splice(0).forEach((c) => c()));

async function receiver(status = 204): Promise<{ url: string; bodies: unknown[] }> {
  const bodies: unknown[] = [];
  const server = createServer((req, res) => {
    let text = "";
    req.on("data", (c: Buffer) => (text += c.toString()));
    req.on("end", () => {
      bodies.push(JSON.parse(text));
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  closers.push(() => server.close());
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/motion`, bodies };
}

describe("camera relay (a scenario camera played through a test ONVIF camera)", () => {
  it("posts each motion start and end with its time, and nothing else", async () => {
    const r = await receiver();
    const relay = new CameraRelay(r.url);
    await relay.publish("motion", { v: 1, deviceId: "cam-w01", seq: 7, ts: 1_700_000_000_000, state: "start", cameraId: "cam-w01" });
    await relay.publish("heartbeat", { v: 1, deviceId: "cam-w01", seq: 8, ts: 1_700_000_060_000, intervalS: 60 });
    await relay.publish("motion", { v: 1, deviceId: "cam-w01", seq: 9, ts: 1_700_000_120_000, state: "end" });
    expect(r.bodies).toEqual([
      { state: "start", ts: 1_700_000_000_000 },
      { state: "end", ts: 1_700_000_120_000 },
    ]);
  });

  it("fails the publish when the camera refuses it (the player counts it failed)", async () => {
    const r = await receiver(400);
    await expect(new CameraRelay(r.url).publish("motion", { ts: 1, state: "start" })).rejects.toThrow(/answered 400/);
  });

  it("parses --camera-relay and refuses what is not <id>=<http url>", () => {
    expect(parseCameraRelay("cam-w01=http://127.0.0.1:4000/motion")).toEqual({ deviceId: "cam-w01", url: "http://127.0.0.1:4000/motion" });
    for (const bad of ["cam-w01", "=http://x", "cam-w01=ftp://x", "cam w01=http://x", "cam-w01=http://"])
      expect(() => parseCameraRelay(bad)).toThrow(/--camera-relay must be/);
  });
});
