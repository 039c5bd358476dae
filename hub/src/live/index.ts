import { readFileSync } from "node:fs";
import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import type { HubContext, HubExtension, HttpResponse } from "../controller/extension.ts";
import { PUBLIC, requireRole } from "../http/auth.ts";
import type { Registry } from "../registry/schema.ts";

/** The page the supervision centre opens (`/live?site=<site>`); it plays the streams with MSE. */
const PAGE = readFileSync(new URL("./page.html", import.meta.url), "utf8");

/** A camera the centre can watch, as `GET /api/live/cameras` lists it. */
export interface LiveCamera {
  deviceId: string;
  site: string;
  siteName: string;
  window: string | null;
  windowName: string | null;
  gateway: string;
  /** The hub can reach the camera's gateway (its registry entry has `api`); otherwise why not. */
  watchable: boolean;
  reason?: string;
}

export interface LiveViewOptions {
  /** How long the gateway has to answer a stream request with its headers (default 10 s). */
  connectTimeoutMs?: number;
}

/** The registry's ONVIF cameras, optionally of one site, with their windows and whether their gateway is reachable. */
export function liveCameras(registry: Registry, site?: string): LiveCamera[] {
  return [...registry.devices.values()]
    .filter((d) => d.kind === "camera" && d.onvif !== undefined && (site === undefined || d.site === site))
    .map((d) => {
      const s = registry.sites.get(d.site);
      const gateway = s ? registry.gateways.get(s.gateway) : undefined;
      const w = d.window ? registry.windows.get(d.window) : undefined;
      return {
        deviceId: d.id,
        site: d.site,
        siteName: s?.name ?? d.site,
        window: d.window ?? null,
        windowName: w?.name ?? null,
        gateway: gateway?.id ?? s?.gateway ?? "",
        watchable: gateway?.api !== undefined,
        ...(gateway?.api ? {} : { reason: `gateway ${s?.gateway ?? "?"} has no api (url, token) in the registry` }),
      };
    })
    .sort((a, b) => a.site.localeCompare(b.site) || (a.window ?? a.deviceId).localeCompare(b.window ?? b.deviceId));
}

/**
 * Live view through the hub: the centre's browser talks only to the hub, with its API token (viewer); the hub pulls
 * the picture from the camera's gateway (`GET /api/cameras/live/<device>` with the gateway's `http.token` from the
 * registry) and passes the stream on as it comes. The gateway starts and stops its ffmpeg with its viewers, so a
 * browser that leaves ends the hub's request, which ends the gateway's viewer.
 */
export function createLiveViewExtension(opts: LiveViewOptions = {}): HubExtension {
  let ctx: HubContext | undefined;
  const watching = new Map<string, number>();
  let opened = 0;
  let refused = 0;

  async function stream(deviceId: string): Promise<HttpResponse> {
    const registry = ctx!.registry.current();
    const camera = liveCameras(registry).find((c) => c.deviceId === deviceId);
    if (!camera)
      return { status: 404, body: { error: `no ONVIF camera "${deviceId}" in the registry (GET /api/live/cameras lists them)` } };
    const api = registry.gateways.get(camera.gateway)?.api;
    // The loader replaced { env } / { file } by the token itself.
    if (api && typeof api.token !== "string")
      return { status: 503, body: { error: `gateway ${camera.gateway}: api.token was not read; see the registry load errors` } };
    if (!api) return { status: 503, body: { error: `${camera.reason}; add it so the hub can reach the gateway's live view` } };
    const url = new URL(`api/cameras/live/${encodeURIComponent(deviceId)}`, api.url.endsWith("/") ? api.url : `${api.url}/`);
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), opts.connectTimeoutMs ?? 10_000);
    let answer: Response;
    try {
      answer = await fetch(url, { headers: { authorization: `Bearer ${api.token}` }, signal: controller.signal });
    } catch (error) {
      refused += 1;
      ctx!.logger.warn({ deviceId, gateway: camera.gateway, err: (error as Error).message }, "live view: gateway not reachable");
      return { status: 502, body: { error: `gateway ${camera.gateway} does not answer at ${api.url} (${(error as Error).message})` } };
    } finally {
      clearTimeout(timer);
    }
    if (answer.status !== 200 || !answer.body) {
      refused += 1;
      const text = (await answer.text().catch(() => "")).slice(0, 500);
      ctx!.logger.warn({ deviceId, gateway: camera.gateway, status: answer.status, answer: text }, "live view: gateway refused");
      // The gateway's own 401 means the registry's token is wrong: that is the hub's fault, not the viewer's.
      const status = answer.status === 401 ? 502 : answer.status === 404 || answer.status === 503 ? answer.status : 502;
      return {
        status,
        body: {
          error: `gateway ${camera.gateway} answered ${answer.status}${answer.status === 401 ? " (the registry's api.token is not its http.token)" : ""}: ${text}`,
        },
      };
    }
    const body = Readable.fromWeb(answer.body as WebReadableStream<Uint8Array>);
    opened += 1;
    watching.set(deviceId, (watching.get(deviceId) ?? 0) + 1);
    ctx!.logger.info({ deviceId, gateway: camera.gateway }, "live view: viewer joined");
    body.once("close", () => {
      controller.abort();
      const n = (watching.get(deviceId) ?? 1) - 1;
      if (n > 0) watching.set(deviceId, n);
      else watching.delete(deviceId);
      ctx?.logger.info({ deviceId }, "live view: viewer left");
    });
    return { status: 200, body, contentType: "video/mp4" };
  }

  return {
    name: "live-view",
    async start(context) {
      ctx = context;
      context.http.add("GET", "/live", async () => ({ status: 200, body: PAGE, contentType: "text/html; charset=utf-8" }), PUBLIC);
      context.http.add(
        "GET",
        "/api/live/cameras",
        async (req) => {
          const site = req.query.get("site") ?? undefined;
          const registry = context.registry.current();
          if (site !== undefined && !registry.sites.has(site)) return { status: 404, body: { error: `no site "${site}" in the registry` } };
          return { status: 200, body: liveCameras(registry, site) };
        },
        requireRole("viewer"),
      );
      context.http.add("GET", "/api/live/cameras/:device", (req) => stream(req.params.device ?? ""), requireRole("viewer"));
    },
    async stop() {
      ctx = undefined;
    },
    status() {
      return { watching: Object.fromEntries(watching), opened, refused };
    },
  };
}
