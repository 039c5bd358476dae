import { connect } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { type DemoCamera, startDemoCamera } from "../src/demo-camera.ts";

// npm start's ONVIF camera: its control URL takes the simulator's motion and refuses anything else with the reason.
let camera: DemoCamera | undefined;
afterAll(() => camera?.stop());

describe("demo camera", () => {
  it("starts the replay camera and its RTSP stream, takes motion at its control URL and refuses bad input", async () => {
    const started = await startDemoCamera();
    if ("missing" in started) throw new Error(started.missing);
    camera = started;
    expect(camera.onvifUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/onvif\/device_service$/);
    expect(camera.rtspUrl).toMatch(/^rtsp:\/\/127\.0\.0\.1:\d+\/h264main$/);
    const post = (body: string, path = "/motion") => fetch(camera!.controlUrl.replace("/motion", path), { method: "POST", body });
    expect((await post(JSON.stringify({ state: "start", ts: Date.now() }))).status).toBe(204);
    expect((await post(JSON.stringify({ state: "end", ts: Date.now() }))).status).toBe(204);
    for (const bad of [
      "not json",
      "{}",
      JSON.stringify({ state: "maybe", ts: 1 }),
      JSON.stringify({ state: "start", ts: "x" }),
      JSON.stringify({ state: "start", ts: 1, pad: "x".repeat(2000) }),
    ]) {
      const answer = await post(bad);
      expect(answer.status).toBe(400);
      expect(await answer.text()).toMatch(/state|JSON|1 KiB/);
    }
    expect((await post("{}", "/other")).status).toBe(404);
    // The stream answers RTSP (what the gateway's health check asks).
    const url = new URL(camera.rtspUrl);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect({ host: url.hostname, port: Number(url.port) }, () =>
        socket.write(`OPTIONS ${camera!.rtspUrl} RTSP/1.0\r\nCSeq: 1\r\n\r\n`),
      );
      socket.once("data", (c: Buffer) => (socket.destroy(), resolve(c.toString("latin1"))));
      socket.once("error", reject);
    });
    expect(answer).toMatch(/^RTSP\/1\.0 200 OK/);
  });
});
