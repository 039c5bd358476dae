import { call, type Cam, connectCamera, describeError, isAuthError, newCamera } from "./cam-client.ts";
import { onConfiguredHost, rtspOptions } from "./camera-link.ts";
import { fetchSnapshot } from "./snapshot.ts";

export interface CheckLine {
  status: "ok" | "note" | "FIX";
  text: string;
}

export interface CameraUnderCheck {
  deviceId: string;
  url: string;
  username?: string | undefined;
  password?: string | undefined;
  /** The registry says the camera may be turned: its presets are listed. */
  ptz?: boolean | undefined;
  timeoutMs: number;
}

/** Cameras refuse WS-Security tokens created more than a few minutes from their own clock. */
const AUTH_WINDOW_MS = 5 * 60_000;

/**
 * What works on one camera and what to fix, in the order a field engineer fixes it: reachable, clock, credentials,
 * event service (PullPoint), stream URI (RTSP answers), snapshot, PTZ presets. Stops after the first step that makes
 * the rest meaningless (unreachable, credentials refused).
 */
export async function checkCamera(camera: CameraUnderCheck): Promise<CheckLine[]> {
  const lines: CheckLine[] = [];
  const ok = (text: string) => lines.push({ status: "ok", text });
  const note = (text: string) => lines.push({ status: "note", text });
  const fix = (text: string) => lines.push({ status: "FIX", text });
  const host = new URL(camera.url).hostname;

  // 1. Reachable, and its clock: GetSystemDateAndTime needs no credentials.
  let skewMs: number | undefined;
  try {
    const t = await call<Date>((cb) => newCamera({ url: camera.url, timeoutMs: camera.timeoutMs }).getSystemDateAndTime(cb));
    if (t instanceof Date) skewMs = t.getTime() - Date.now();
  } catch (error) {
    if (!isAuthError(error)) {
      fix(
        `camera ${camera.deviceId} does not answer at ${camera.url} (${describeError(error)}): check the address in the registry (onvif.url), that the camera is on, and that ONVIF is enabled on it`,
      );
      return lines;
    }
  }
  ok(`reachable at ${camera.url}`);

  // 2. Credentials: connecting reads services and profiles, which need them.
  let cam: Cam;
  try {
    cam = await connectCamera({ url: camera.url, username: camera.username, password: camera.password, timeoutMs: camera.timeoutMs });
  } catch (error) {
    if (skewMs !== undefined) clockLine(skewMs, ok, note, fix);
    if (isAuthError(error))
      fix(
        camera.username === undefined
          ? "the camera wants credentials: set onvif.username and the password (onvif.password) in the registry"
          : `the camera refuses user "${camera.username}" and its password: check onvif.username and onvif.password in the registry (an ONVIF user of level Operator)${skewMs !== undefined && Math.abs(skewMs) > AUTH_WINDOW_MS ? ", and set the camera's clock first" : ""}`,
      );
    else fix(`the camera answers but its services cannot be read: ${describeError(error)}`);
    return lines;
  }
  if (skewMs !== undefined) clockLine(skewMs, ok, note, fix);
  const info = await call<{ manufacturer?: string; model?: string; firmwareVersion?: string }>((cb) => cam.getDeviceInformation(cb)).catch(
    () => undefined,
  );
  ok(
    `credentials accepted${camera.username ? ` for user "${camera.username}"` : " (no credentials needed)"}${info ? `: ${info.manufacturer ?? "?"} ${info.model ?? "?"}, firmware ${info.firmwareVersion ?? "?"}` : ""}`,
  );

  // 3. Event service: a PullPoint subscription is how motion arrives.
  try {
    await call((cb) => cam.createPullPointSubscription(cb));
    ok("event service: PullPoint subscription created (motion will arrive)");
    await call((cb) => cam.unsubscribe(cb, true)).catch(() => undefined);
  } catch (error) {
    fix(
      `event service: no PullPoint subscription (${describeError(error)}): enable ONVIF events and the camera's motion detection rule, or take this window's motion from Frigate (gateway/src/adapters/frigate)`,
    );
  }

  // 4. Stream URI: health needs the RTSP server to answer.
  const stream = await call<{ uri: string }>((cb) => cam.getStreamUri({ protocol: "RTSP" }, cb)).catch((error: unknown) => error);
  if (stream instanceof Error || !(stream as { uri?: string }).uri) {
    fix(`stream URI: GetStreamUri failed (${stream instanceof Error ? describeError(stream) : "no uri"}): enable RTSP on the camera`);
  } else {
    const uri = onConfiguredHost((stream as { uri: string }).uri, host);
    if (await rtspOptions(uri, camera.timeoutMs)) ok(`stream ${withoutCredentials(uri)} answers RTSP`);
    else
      fix(
        `stream ${withoutCredentials(uri)} does not answer RTSP OPTIONS: check the camera's RTSP port and that a firewall lets the gateway reach it`,
      );
  }

  // 5. Snapshot: the evidence at each motion edge.
  const snapshot = await call<{ uri: string }>((cb) => cam.getSnapshotUri(cb)).catch((error: unknown) => error);
  if (snapshot instanceof Error || !(snapshot as { uri?: string }).uri) {
    note("snapshot: the camera gives no snapshot URI; motion readings go without evidence");
  } else {
    const uri = onConfiguredHost((snapshot as { uri: string }).uri, host);
    try {
      const jpeg = await fetchSnapshot(
        uri,
        { username: camera.username, password: camera.password },
        { timeoutMs: camera.timeoutMs, maxBytes: 8 << 20 },
      );
      ok(`snapshot: ${jpeg.length} bytes of JPEG from ${withoutCredentials(uri)}`);
    } catch (error) {
      fix(`snapshot: ${describeError(error)}`);
    }
  }

  // 6. PTZ presets, where the registry says the camera may be turned.
  if (camera.ptz) {
    try {
      const presets = await call<Record<string, { $?: { token?: string } }>>((cb) => cam.getPresets({}, cb));
      const list = Object.entries(presets).map(([name, p]) => `${p.$?.token ?? "?"} (${name})`);
      if (list.length > 0) ok(`PTZ presets: ${list.slice(0, 12).join(", ")}${list.length > 12 ? ` and ${list.length - 12} more` : ""}`);
      else note("PTZ: the camera has no presets yet; store one per window on the camera, then: gateway camera ptz <id> preset <token>");
    } catch (error) {
      fix(`PTZ: the camera refuses GetPresets (${describeError(error)}): it may have no PTZ; set ptz: false in the registry`);
    }
  }
  return lines;
}

function clockLine(skewMs: number, ok: (t: string) => void, note: (t: string) => void, fix: (t: string) => void): void {
  const s = Math.round(skewMs / 1000);
  const text = `camera clock ${s >= 0 ? "+" : ""}${s} s from this gateway's`;
  // The camera's clock reads whole seconds: under 2 s is as close as it can tell.
  if (Math.abs(skewMs) < 2000) ok("camera clock within 2 s of this gateway's");
  else if (Math.abs(skewMs) <= AUTH_WINDOW_MS)
    note(`${text}: motion times are corrected by it, but set the camera's NTP server to this gateway or the hall's time server`);
  else
    fix(
      `${text}: set the camera's clock (its NTP server: the hall's time server); cameras refuse WS-Security logins more than about 5 minutes off, so ONVIF clients that do not correct for it fail`,
    );
}

function withoutCredentials(uri: string): string {
  try {
    const u = new URL(uri);
    u.username = "";
    u.password = "";
    return u.toString();
  } catch {
    return uri;
  }
}

export function formatCheck(deviceId: string, lines: CheckLine[]): string {
  return [`camera ${deviceId}`, ...lines.map((l) => `${l.status.padEnd(4)} ${l.text}`)].join("\n");
}
