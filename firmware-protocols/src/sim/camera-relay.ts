import type { EventKind } from "../topics.ts";
import type { PlayedDevice } from "./player.ts";

/**
 * A scenario camera played through a test ONVIF camera instead of MQTT (`npm start`'s demo camera): each motion
 * start and end of the day is POSTed as `{"state":"start"|"end","ts":<ms>}` to the camera's control URL, and the
 * camera tells the gateway in its ONVIF PullPoint notifications, with that time. Its heartbeats are not sent: a
 * gateway makes an ONVIF camera's heartbeats itself while the camera is healthy.
 */
export class CameraRelay implements PlayedDevice {
  constructor(private readonly url: string) {}

  async publish(kind: EventKind, event: Record<string, unknown>): Promise<void> {
    if (kind !== "motion") return;
    const answer = await fetch(this.url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ state: event.state, ts: event.ts }),
      signal: AbortSignal.timeout(10_000),
    });
    if (!answer.ok) throw new Error(`camera relay ${this.url} answered ${answer.status}`);
  }
}

/** `--camera-relay <deviceId>=<url>`, checked: the device id and an http(s) URL. */
export function parseCameraRelay(value: string): { deviceId: string; url: string } {
  const m = /^([A-Za-z0-9][A-Za-z0-9._-]{0,63})=(https?:\/\/\S+)$/.exec(value);
  if (!m) throw new Error(`--camera-relay must be <camera device id>=<http(s) URL>, got "${value}"`);
  return { deviceId: m[1]!, url: m[2]! };
}
