import { siteInflux } from "../influx/regions.ts";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { PtzRequest } from "@supervision/firmware-protocols";
import type { HubContext, HubExtension, HttpResponse, WarningEvent } from "../controller/extension.ts";
import { PUBLIC, requireRole } from "../http/auth.ts";
import type { Registry } from "../registry/schema.ts";
import { INFLUXQL, schemaPoint } from "../schema/index.ts";
import { placementOf } from "../supervision/day.ts";
import { type CameraAsk, CameraRequester, CameraTimeout } from "./requests.ts";

export interface CamerasOptions {
  brokerUrl: string;
  username?: string;
  password?: string;
  /** How long a gateway has to answer (default 15 s: a snapshot alone may take the camera 5 s). */
  timeoutMs?: number;
  /** A warning older than this asks for no snapshot (a day judged again later shows nothing of then). Default 2 h. */
  warningSnapshotMaxAgeMs?: number;
}

const SHA256 = /^[0-9a-f]{64}$/;
/** The evidence page: a warning's or a dashboard's link, `/cameras/snapshot?device=<camera>&sha256=<hash>`. */
const PAGE = readFileSync(new URL("./snapshot.html", import.meta.url), "utf8");

/** Where a person checks a snapshot in a browser (the page fetches it with their token). */
export const snapshotPageLink = (deviceId: string, sha256: string): string =>
  `/cameras/snapshot?device=${encodeURIComponent(deviceId)}&sha256=${sha256}`;

/**
 * Cameras through the hub (README.md beside this file): turn a camera, take a snapshot, fetch a kept one checked
 * against the hash its reading or warning recorded, all as camera requests down the MQTT uplink; and a snapshot of
 * the window whenever an unattended-window warning is raised.
 */
export function createCamerasExtension(options: CamerasOptions): HubExtension {
  let requester: CameraRequester | undefined;
  let ctx: HubContext | undefined;
  const timeoutMs = options.timeoutMs ?? 15_000;
  const maxAgeMs = options.warningSnapshotMaxAgeMs ?? 2 * 3_600_000;
  const counts = { warningSnapshots: 0, warningSnapshotFailures: 0, fetched: 0, tampered: 0 };
  let lastError: string | undefined;

  /** The camera, its gateway and its place, or the answer saying why there is none. */
  function camera(registry: Registry, deviceId: string): { gatewayId: string; site: string; window?: string } | HttpResponse {
    const device = registry.devices.get(deviceId);
    if (!device || device.kind !== "camera")
      return { status: 404, body: { error: `no camera ${deviceId} in the registry`, code: "not_found" } };
    const site = registry.sites.get(device.site);
    if (!site)
      return { status: 404, body: { error: `camera ${deviceId} names site ${device.site}, which the registry lacks`, code: "not_found" } };
    return { gatewayId: site.gateway, site: site.id, ...(device.window ? { window: device.window } : {}) };
  }

  async function ask(gatewayId: string, request: CameraAsk): Promise<HttpResponse | import("@supervision/firmware-protocols").CameraReply> {
    if (!requester) return { status: 503, body: { error: "camera requests are not running", code: "unavailable" } };
    try {
      return await requester.request(gatewayId, request, timeoutMs);
    } catch (error) {
      lastError = (error as Error).message;
      return { status: error instanceof CameraTimeout ? 504 : 502, body: { error: (error as Error).message, code: "gateway_unreachable" } };
    }
  }

  async function recorded(deviceId: string, sha256: string): Promise<boolean> {
    const { motion, camera_snapshot } = INFLUXQL;
    // Where the camera's site keeps its points (influx.regions).
    const { influx } = siteInflux(ctx!, ctx!.registry.current().devices.get(deviceId)?.site ?? "");
    const [fromMotion, fromHub] = await Promise.all([
      influx.query(
        `SELECT count(${motion.seq}) FROM ${motion.FROM} WHERE ${motion.device} = '${deviceId}' AND ${motion.snapshot_sha256} = '${sha256}'`,
      ),
      influx.query(
        `SELECT count(${camera_snapshot.warning_ts}) FROM ${camera_snapshot.FROM} WHERE ${camera_snapshot.device} = '${deviceId}' AND ${camera_snapshot.sha256} = '${sha256}'`,
      ),
    ]);
    return fromMotion.length > 0 || fromHub.length > 0;
  }

  async function record(
    registry: Registry,
    deviceId: string,
    where: { site: string; window?: string },
    sha256: string,
    ts: number,
    reason: string,
    warningTs?: number,
  ) {
    const site = registry.sites.get(where.site)!;
    await siteInflux(ctx!, site.id).influx.writePoints([
      schemaPoint(
        "camera_snapshot",
        String(ts * 1_000_000),
        { ...placementOf(registry, site), window: where.window, device: deviceId, reason },
        { sha256, warning_ts: warningTs },
      ),
    ]);
  }

  async function onWarning(warning: WarningEvent): Promise<void> {
    if (warning.rule !== "unattended" || !warning.active || warning.subjectKind !== "window") return;
    if (ctx!.now() - warning.ts > maxAgeMs) return;
    const registry = ctx!.registry.current();
    const cameras = [...registry.devices.values()].filter(
      (d) => d.kind === "camera" && d.site === warning.site && d.window === warning.subject && d.onvif,
    );
    for (const device of cameras) {
      const where = camera(registry, device.id);
      if ("status" in where) continue;
      const reply = await ask(where.gatewayId, { op: "snapshot", deviceId: device.id });
      if ("status" in reply || !reply.ok || !reply.sha256) {
        counts.warningSnapshotFailures++;
        ctx!.logger.warn(
          { deviceId: device.id, window: warning.subject, error: "status" in reply ? reply.body : reply.error },
          "no snapshot for the unattended-window warning",
        );
        continue;
      }
      await record(registry, device.id, where, reply.sha256, reply.ts ?? ctx!.now(), "unattended", warning.ts);
      counts.warningSnapshots++;
      ctx!.logger.info(
        { deviceId: device.id, window: warning.subject, sha256: reply.sha256 },
        "snapshot taken for the unattended-window warning",
      );
    }
  }

  return {
    name: "cameras",
    async start(hub) {
      ctx = hub;
      requester = new CameraRequester({
        brokerUrl: options.brokerUrl,
        username: options.username,
        password: options.password,
        logger: hub.logger,
      });
      await requester.start();
      hub.events.on(
        "warning",
        (w) => void onWarning(w).catch((error: Error) => hub.logger.error({ err: error }, "unattended-window snapshot failed")),
      );

      // The page carries no data: everything it shows comes from the API with the viewer's token.
      hub.http.add("GET", "/cameras/snapshot", async () => ({ status: 200, body: PAGE, contentType: "text/html; charset=utf-8" }), PUBLIC);

      // Turn a camera to a window (ONVIF PTZ on the gateway).
      hub.http.add(
        "POST",
        "/api/cameras/:device/ptz",
        async (req) => {
          const where = camera(hub.registry.current(), req.params.device!);
          if ("status" in where) return where;
          const parsed = PtzRequest.safeParse(req.body);
          if (!parsed.success)
            return {
              status: 400,
              body: { error: parsed.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; "), code: "invalid" },
            };
          const reply = await ask(where.gatewayId, { op: "ptz", deviceId: req.params.device!, ptz: parsed.data });
          if ("status" in reply) return reply;
          hub.logger.info({ deviceId: req.params.device, ptz: parsed.data, by: req.identity?.name, ok: reply.ok }, "camera PTZ request");
          return reply.ok
            ? { status: 200, body: { ok: true, device: req.params.device, ptz: parsed.data } }
            : { status: 502, body: { error: reply.error, code: reply.code } };
        },
        requireRole("operator"),
      );

      // Take a snapshot now; its hash is recorded (camera_snapshot) so the image can be fetched and checked later.
      hub.http.add(
        "POST",
        "/api/cameras/:device/snapshot",
        async (req) => {
          const registry = hub.registry.current();
          const where = camera(registry, req.params.device!);
          if ("status" in where) return where;
          const reply = await ask(where.gatewayId, { op: "snapshot", deviceId: req.params.device! });
          if ("status" in reply) return reply;
          if (!reply.ok || !reply.sha256) return { status: 502, body: { error: reply.error, code: reply.code } };
          const ts = reply.ts ?? hub.now();
          await record(registry, req.params.device!, where, reply.sha256, ts, "operator");
          return {
            status: 200,
            body: {
              device: req.params.device,
              sha256: reply.sha256,
              ts,
              url: `/api/cameras/${req.params.device}/snapshots/${reply.sha256}`,
              page: snapshotPageLink(req.params.device!, reply.sha256),
            },
          };
        },
        requireRole("operator"),
      );

      // A kept snapshot, fetched from the gateway and checked against the hash recorded at the hub.
      hub.http.add("GET", "/api/cameras/:device/snapshots/:sha256", async (req) => {
        const deviceId = req.params.device!;
        const sha256 = req.params.sha256!;
        if (!SHA256.test(sha256))
          return { status: 400, body: { error: "a snapshot is named by its SHA-256: 64 lowercase hex digits", code: "invalid" } };
        const where = camera(hub.registry.current(), deviceId);
        if ("status" in where) return where;
        if (!(await recorded(deviceId, sha256)))
          return {
            status: 404,
            body: { error: `no motion reading or snapshot of ${deviceId} records the hash ${sha256}`, code: "not_recorded" },
          };
        const reply = await ask(where.gatewayId, { op: "fetch", sha256 });
        if ("status" in reply) return reply;
        if (!reply.ok && reply.code === "tampered") {
          counts.tampered++;
          return {
            status: 409,
            body: {
              status: "tampered",
              device: deviceId,
              sha256,
              actualSha256: reply.actualSha256,
              error: `the gateway's file does not match the recorded hash: ${reply.error}`,
            },
          };
        }
        if (!reply.ok || !reply.jpegBase64)
          return { status: reply.code === "not_found" ? 404 : 502, body: { error: reply.error, code: reply.code } };
        const jpeg = Buffer.from(reply.jpegBase64, "base64");
        const actual = createHash("sha256").update(jpeg).digest("hex");
        // Checked here too: what arrived is what the batch's reading recorded, whatever the gateway says.
        if (actual !== sha256 || (reply.deviceId !== undefined && reply.deviceId !== deviceId)) {
          counts.tampered++;
          return {
            status: 409,
            body: {
              status: "tampered",
              device: deviceId,
              sha256,
              actualSha256: actual,
              error: "the image the gateway sent does not match the recorded hash",
            },
          };
        }
        counts.fetched++;
        return { status: 200, body: jpeg, contentType: "image/jpeg" };
      });
    },
    async stop() {
      await requester?.stop();
      requester = undefined;
    },
    status() {
      return {
        connected: requester?.connected() ?? false,
        sent: requester?.sent ?? 0,
        answered: requester?.answered ?? 0,
        timedOut: requester?.timedOut ?? 0,
        ...counts,
        ...(lastError ? { lastError } : {}),
      };
    },
  };
}
