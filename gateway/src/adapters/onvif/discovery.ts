import onvif from "onvif";
import { call, connectCamera, describeError, isAuthError } from "./cam-client.ts";

/** A camera that answered a WS-Discovery probe, with what it told about itself. */
export interface DiscoveredCamera {
  /** Its WS-Discovery endpoint reference (a stable urn:uuid). */
  endpoint: string;
  /** Its ONVIF device service URL (the first http(s) XAddr). */
  url: string;
  /** From the probe's scopes (any camera answers these without credentials). */
  scopeName?: string;
  scopeHardware?: string;
  /** From GetDeviceInformation (needs credentials on most cameras). */
  manufacturer?: string;
  model?: string;
  firmware?: string;
  serial?: string;
  profiles: { token: string; name: string; video?: string; ptz: boolean }[];
  /** Why device information or profiles could not be read (e.g. "needs credentials"). */
  problem?: string;
}

export interface DiscoverOptions {
  /** How long to listen for answers after the probe (default 3 s). */
  timeoutMs?: number;
  /** The network interface to probe on (e.g. eth0); default: the system's multicast route. */
  networkInterface?: string;
  /** Credentials to read device information and profiles with; without them only the probe's scopes are shown. */
  username?: string;
  password?: string;
  requestTimeoutMs?: number;
}

interface RawProbeMatch {
  probeMatches?: {
    probeMatch?: { endpointReference?: { address?: string }; XAddrs?: string; scopes?: string | { _?: string } };
  };
}

/**
 * WS-Discovery on the hall's LAN: the `onvif` package's probe (multicast 239.255.255.250:3702, type
 * NetworkVideoTransmitter), then each camera's device information and media profiles read with the `onvif` package.
 */
export async function discoverCameras(opts: DiscoverOptions = {}): Promise<DiscoveredCamera[]> {
  const matches = await probe(opts);
  return Promise.all(matches.map((m) => describeCamera(m, opts)));
}

function probe(opts: DiscoverOptions): Promise<{ endpoint: string; url: string; scopes: string }[]> {
  return new Promise((resolve, reject) => {
    // The package's Discovery emits "error" for every answer it cannot parse: without a listener that would throw.
    const ignore = () => undefined;
    onvif.Discovery.on("error", ignore);
    onvif.Discovery.probe(
      { timeout: opts.timeoutMs ?? 3000, resolve: false, ...(opts.networkInterface ? { device: opts.networkInterface } : {}) },
      (err, devices) => {
        onvif.Discovery.removeListener("error", ignore);
        // Per-answer parse errors come as an array; a socket error (no route for multicast) as one Error.
        if (err && !Array.isArray(err)) {
          reject(
            new Error(
              `WS-Discovery probe failed (${describeError(err)}); check that this machine has a route for multicast on the hall's LAN (--interface)`,
            ),
          );
          return;
        }
        const found: { endpoint: string; url: string; scopes: string }[] = [];
        for (const raw of (devices ?? []) as RawProbeMatch[]) {
          const match = raw.probeMatches?.probeMatch;
          const url = (match?.XAddrs ?? "").split(/\s+/).find((u) => /^https?:\/\//.test(u));
          if (!match || !url) continue;
          const scopes = typeof match.scopes === "string" ? match.scopes : (match.scopes?._ ?? "");
          found.push({ endpoint: match.endpointReference?.address ?? url, url, scopes });
        }
        resolve(found.sort((a, b) => a.url.localeCompare(b.url)));
      },
    );
  });
}

async function describeCamera(match: { endpoint: string; url: string; scopes: string }, opts: DiscoverOptions): Promise<DiscoveredCamera> {
  const scope = (kind: string) => {
    const value = match.scopes.split(/\s+/).find((s) => s.startsWith(`onvif://www.onvif.org/${kind}/`));
    return value ? decodeURIComponent(value.slice(`onvif://www.onvif.org/${kind}/`.length)) : undefined;
  };
  const camera: DiscoveredCamera = { endpoint: match.endpoint, url: match.url, profiles: [] };
  const [name, hardware] = [scope("name"), scope("hardware")];
  if (name) camera.scopeName = name;
  if (hardware) camera.scopeHardware = hardware;
  try {
    const cam = await connectCamera({
      url: match.url,
      username: opts.username,
      password: opts.password,
      timeoutMs: opts.requestTimeoutMs ?? 5000,
    });
    const info = await call<{ manufacturer?: string; model?: string; firmwareVersion?: string; serialNumber?: string }>((cb) =>
      cam.getDeviceInformation(cb),
    );
    if (info.manufacturer) camera.manufacturer = String(info.manufacturer);
    if (info.model) camera.model = String(info.model);
    if (info.firmwareVersion) camera.firmware = String(info.firmwareVersion);
    if (info.serialNumber) camera.serial = String(info.serialNumber);
    for (const p of (cam.profiles ?? []) as RawProfile[]) {
      const encoder = p.videoEncoderConfiguration;
      const video = encoder?.encoding
        ? `${encoder.encoding}${encoder.resolution ? ` ${encoder.resolution.width}x${encoder.resolution.height}` : ""}`
        : undefined;
      camera.profiles.push({
        token: String(p.$?.token ?? ""),
        name: String(p.name ?? ""),
        ...(video ? { video } : {}),
        ptz: p.PTZConfiguration !== undefined,
      });
    }
  } catch (error) {
    camera.problem = isAuthError(error)
      ? "needs credentials: run again with --username and the password in CAMERA_PASSWORD"
      : `device information not read: ${describeError(error)}`;
  }
  return camera;
}

interface RawProfile {
  $?: { token?: string };
  name?: string;
  videoEncoderConfiguration?: { encoding?: string; resolution?: { width?: number; height?: number } };
  PTZConfiguration?: unknown;
}

/** A device id proposal from what the camera says about itself: lowercase, safe in topics. */
function proposedId(camera: DiscoveredCamera, index: number): string {
  const base = (camera.scopeName ?? camera.model ?? `camera-${index + 1}`)
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
  return `cam-${base || index + 1}`.slice(0, 64);
}

/** The discovered cameras as text: one block each, then a registry snippet ready to paste under devices:. */
export function formatDiscovered(cameras: DiscoveredCamera[], username = "supervision"): string {
  if (cameras.length === 0)
    return "no ONVIF camera answered the WS-Discovery probe: check that the cameras are on this LAN, that ONVIF (and its discovery mode) is enabled on them, and --interface";
  const lines: string[] = [`${cameras.length} ONVIF camera${cameras.length === 1 ? "" : "s"} answered:`, ""];
  cameras.forEach((c) => {
    lines.push(`${c.url}`);
    lines.push(
      `  maker ${c.manufacturer ?? "?"}, model ${c.model ?? c.scopeHardware ?? "?"}${c.firmware ? `, firmware ${c.firmware}` : ""}${c.serial ? `, serial ${c.serial}` : ""}`,
    );
    if (c.scopeName) lines.push(`  name ${c.scopeName}`);
    lines.push(`  endpoint ${c.endpoint}`);
    if (c.profiles.length > 0)
      lines.push(
        `  profiles ${c.profiles.map((p) => `${p.token} (${[p.name, p.video, p.ptz ? "PTZ" : undefined].filter(Boolean).join(", ")})`).join("; ")}`,
      );
    if (c.problem) lines.push(`  NOTE ${c.problem}`);
  });
  lines.push("", "# registry snippet: paste under devices: in the hub's registry, then set site, window and the password", "devices:");
  cameras.forEach((c, i) => {
    const id = proposedId(c, i);
    lines.push(
      `  - id: ${id}`,
      "    kind: camera",
      "    site: SITE-ID        # the hall",
      "    window: WINDOW-ID    # the window this camera watches",
      "    onvif:",
      `      url: ${c.url}`,
      `      username: ${username}`,
      `      password: { env: ${id.replace(/[^a-z0-9]+/gi, "_").toUpperCase()}_PASSWORD }`,
      "      snapshot: true",
      ...(c.profiles.some((p) => p.ptz) ? ["      ptz: true"] : []),
    );
  });
  return lines.join("\n");
}
