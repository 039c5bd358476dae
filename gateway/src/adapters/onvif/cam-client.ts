import onvif from "onvif";

export type Cam = InstanceType<typeof onvif.Cam>;

/** A callback request of the `onvif` package as a promise. */
export const call = <T>(fn: (cb: (err: Error | null, data?: T) => void) => void): Promise<T> =>
  new Promise((resolve, reject) => fn((err, data) => (err ? reject(err) : resolve(data as T))));

export interface CameraAddress {
  /** The camera's ONVIF device service URL (http or https). */
  url: string;
  username?: string | undefined;
  password?: string | undefined;
  timeoutMs: number;
}

/**
 * Connects to a camera with the `onvif` package, keeping the configured address for every service the camera names
 * (`preserveAddress`: cameras often name another interface or the inside of a NAT). Rejects with the camera's reason.
 */
export async function connectCamera(address: CameraAddress): Promise<Cam> {
  const cam = newCamera(address);
  await call((cb) => cam.connect(cb));
  return cam;
}

/** The same camera, not connected yet: enough for GetSystemDateAndTime, which needs no credentials. */
export function newCamera(address: CameraAddress): Cam {
  const url = new URL(address.url);
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error(`onvif url ${url.protocol}// is not http(s)`);
  const cam = new onvif.Cam({
    hostname: url.hostname,
    port: Number(url.port || (url.protocol === "https:" ? 443 : 80)),
    path: url.pathname || "/onvif/device_service",
    useSecure: url.protocol === "https:",
    username: address.username,
    password: address.password,
    timeout: address.timeoutMs,
    preserveAddress: true,
    autoconnect: false,
  });
  // The package emits "warning" for media it could not read; without a listener nothing is lost.
  cam.on("warning", () => undefined);
  return cam;
}

/** Why a request failed, in one line (ONVIF faults come as Error messages; sockets with a code). */
export function describeError(error: unknown): string {
  const oneLine = (s: string) => s.replace(/\s+/g, " ").trim();
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return oneLine(code ? `${code}: ${error.message}` : error.message);
  }
  return oneLine(String(error));
}

/** True when the camera refused the credentials (ONVIF `ter:NotAuthorized`, or HTTP 401). */
export function isAuthError(error: unknown): boolean {
  return /NotAuthorized|not authorized|401|Unauthorized|Sender not Authorized/i.test(describeError(error));
}
