import type { GatewayConfig } from "@supervision/firmware-protocols";
import type { DeviceLink } from "../adapter.ts";
import { OnvifAdapter } from "./index.ts";
import { OnvifSettings } from "./settings.ts";

/** ONVIF cameras: motion by PullPoint, health, snapshot evidence (README.md in this folder). */
export const onvifLink = {
  name: "onvif",
  section: "onvif" as const,
  settings: OnvifSettings,
  slice: (config: GatewayConfig | undefined) =>
    OnvifAdapter.cameras(config?.devices ?? []).map((d) => [d.id, d.onvif, d.cameraId, d.heartbeatS]),
  create: ({ settings, config, logger, dataDir, openSecret }) => {
    const cameras = OnvifAdapter.cameras(config?.devices ?? []);
    if (cameras.length === 0) return undefined;
    if (dataDir === undefined) throw new Error("the onvif link needs the gateway's dataDir (sequence numbers, snapshots)");
    return new OnvifAdapter({
      devices: cameras,
      logger,
      dataDir,
      ...(openSecret ? { openSecret } : {}),
      quietMs: settings.quietS * 1000,
      renewBeforeMs: settings.renewBeforeS * 1000,
      streamCheckMs: settings.streamCheckS * 1000,
      requestTimeoutMs: settings.requestTimeoutMs,
      snapshots: settings.snapshots.enabled && {
        maxBytes: settings.snapshots.maxBytes,
        retentionMs: settings.snapshots.retentionDays * 86_400_000,
        timeoutMs: settings.snapshots.timeoutMs,
      },
      live: settings.live.enabled && {
        ffmpeg: settings.live.ffmpeg,
        lingerMs: settings.live.lingerS * 1000,
        maxViewers: settings.live.maxViewers,
        backoffMs: settings.live.backoffS * 1000,
        maxBackoffMs: settings.live.maxBackoffS * 1000,
      },
    });
  },
} satisfies DeviceLink<OnvifSettings>;
