import type { PtzRequest } from "@supervision/firmware-protocols";
import { call, type Cam } from "./cam-client.ts";

/**
 * Sends one PTZ request to a connected camera (ONVIF PTZ service) on its first media profile, the one the package
 * picked at connect. Rejects with the camera's reason; a camera without PTZ answers with a fault.
 */
export async function sendPtz(cam: Cam, request: PtzRequest): Promise<void> {
  const profileToken = cam.activeSource?.profileToken;
  if (!profileToken) throw new Error("the camera has no media profile to turn (GetProfiles answered none)");
  switch (request.action) {
    case "preset":
      await call((cb) => cam.gotoPreset({ profileToken, preset: request.preset }, cb));
      return;
    case "home":
      await call((cb) => cam.gotoHomePosition({ profileToken }, cb));
      return;
    case "stop":
      await call((cb) => cam.stop({ profileToken, panTilt: true, zoom: true }, cb));
      return;
    case "move":
      await call((cb) =>
        cam.continuousMove(
          {
            profileToken,
            x: request.pan,
            y: request.tilt,
            zoom: request.zoom,
            ...(request.seconds ? { timeout: Math.round(request.seconds * 1000) } : {}),
          },
          cb,
        ),
      );
      return;
  }
}

/** One line for logs and the CLI: what was asked of the camera. */
export function describePtz(request: PtzRequest): string {
  switch (request.action) {
    case "preset":
      return `go to preset ${request.preset}`;
    case "home":
      return "go to the home position";
    case "stop":
      return "stop moving";
    case "move":
      return `move pan ${request.pan}, tilt ${request.tilt}, zoom ${request.zoom}${request.seconds ? ` for ${request.seconds} s` : " until stop"}`;
  }
}
