import { describe, expect, it } from "vitest";
import { CameraReply, CameraRequest, NEGATIVE_NUMBER_WORDS, ptzFromWords, PtzRequest } from "./camera-commands.ts";

describe("PTZ requests", () => {
  it("reads the command line's words into a request", () => {
    expect(ptzFromWords(["preset", "P003"], undefined)).toEqual({ ok: true, value: { action: "preset", preset: "P003" } });
    expect(ptzFromWords(["move", "-0.5", "0.25"], "2")).toEqual({
      ok: true,
      value: { action: "move", pan: -0.5, tilt: 0.25, zoom: 0, seconds: 2 },
    });
    expect(ptzFromWords(["move", "0", "0", "1"], undefined)).toEqual({ ok: true, value: { action: "move", pan: 0, tilt: 0, zoom: 1 } });
    expect(ptzFromWords(["stop"], undefined)).toEqual({ ok: true, value: { action: "stop" } });
    expect(ptzFromWords(["home"], undefined)).toEqual({ ok: true, value: { action: "home" } });
  });

  it("refuses malformed, hostile and out-of-range words with the reason", () => {
    const refused = (words: string[], seconds?: string) => {
      const r = ptzFromWords(words, seconds);
      return r.ok ? "accepted" : r.error;
    };
    expect(refused([])).toMatch(/name a PTZ action/);
    expect(refused(["spin"])).toMatch(/name a PTZ action: preset, move, stop or home \(not "spin"\)/);
    expect(refused(["preset"])).toMatch(/preset takes one preset token/);
    expect(refused(["preset", "</PresetToken><Evil/>"])).toMatch(/preset: a preset token/);
    expect(refused(["preset", "x".repeat(65)])).toMatch(/preset: a preset token/);
    expect(refused(["move", "1"])).toMatch(/move takes pan and tilt/);
    expect(refused(["move", "NaN", "0"])).toMatch(/move takes pan and tilt/);
    expect(refused(["move", "1.5", "0"])).toMatch(/pan: a speed from -1 to 1/);
    expect(refused(["move", "0", "0"], "61")).toMatch(/seconds: at most 60 seconds/);
    expect(refused(["move", "0", "0"], "-1")).toMatch(/seconds/);
    expect(refused(["stop", "now"])).toMatch(/stop takes no parameters/);
    expect(refused(["home"], "2")).toMatch(/--seconds goes with move only/);
  });

  it("negative speeds survive option parsing", () => {
    const hidden = NEGATIVE_NUMBER_WORDS.hide(["move", "-0.5", "-.2", "--seconds", "2"]);
    expect(hidden[3]).toBe("--seconds");
    expect(hidden.map(NEGATIVE_NUMBER_WORDS.restore)).toEqual(["move", "-0.5", "-.2", "--seconds", "2"]);
  });

  it("the API body is checked by the same schema: unknown fields and actions are refused", () => {
    expect(PtzRequest.safeParse({ action: "home", extra: 1 }).success).toBe(false);
    expect(PtzRequest.safeParse({ action: "zoom" }).success).toBe(false);
    expect(PtzRequest.safeParse({ action: "move", pan: "0.5", tilt: 0 }).success).toBe(false);
    expect(PtzRequest.safeParse(null).success).toBe(false);
  });
});

describe("camera requests and replies on the uplink", () => {
  const reqId = "0f8c2a52-6a43-4b39-9a3e-0d6c1c1b2f10";
  const sha256 = "a".repeat(64);

  it("accepts the three requests and a reply", () => {
    expect(CameraRequest.safeParse({ v: 1, op: "ptz", reqId, deviceId: "cam1", ptz: { action: "stop" } }).success).toBe(true);
    expect(CameraRequest.safeParse({ v: 1, op: "snapshot", reqId, deviceId: "cam1" }).success).toBe(true);
    expect(CameraRequest.safeParse({ v: 1, op: "fetch", reqId, sha256 }).success).toBe(true);
    expect(CameraReply.safeParse({ v: 1, reqId, ok: true, deviceId: "cam1", sha256, ts: 1, jpegBase64: "/9j/" }).success).toBe(true);
  });

  it("refuses malformed, unknown and hostile ones", () => {
    for (const bad of [
      {},
      { v: 2, op: "snapshot", reqId, deviceId: "cam1" },
      { v: 1, op: "reboot", reqId, deviceId: "cam1" },
      { v: 1, op: "snapshot", reqId: "short", deviceId: "cam1" },
      { v: 1, op: "snapshot", reqId, deviceId: "../../etc" },
      { v: 1, op: "fetch", reqId, sha256: "../snapshot" },
      { v: 1, op: "fetch", reqId, sha256: "A".repeat(64) },
      { v: 1, op: "ptz", reqId, deviceId: "cam1", ptz: { action: "preset", preset: "<x/>" } },
      { v: 1, op: "snapshot", reqId, deviceId: "cam1", extra: true },
    ])
      expect(CameraRequest.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    for (const bad of [
      { v: 1, reqId, ok: "yes" },
      { v: 1, reqId, ok: false, code: "exploded" },
      { v: 1, reqId, ok: true, sha256: "zz" },
      { v: 1, reqId, ok: true, jpegBase64: "x".repeat(12 * 1024 * 1024 + 1) },
      { v: 1, reqId, ok: false, error: "e".repeat(1001) },
    ])
      expect(CameraReply.safeParse(bad).success).toBe(false);
  });
});
