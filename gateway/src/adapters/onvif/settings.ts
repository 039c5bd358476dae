import { z } from "zod";

/** The `onvif` section of the gateway settings: how this gateway follows its ONVIF cameras. */
export const OnvifSettings = z
  .strictObject({
    /** A motion episode ends this long after the last motion report when the camera never says stop. */
    quietS: z.int().min(5).max(3600).default(120),
    /** Renew a PullPoint subscription when less than this is left of it. */
    renewBeforeS: z.int().min(5).max(600).default(30),
    /** How often each camera's RTSP stream is probed (OPTIONS) for its health. */
    streamCheckS: z.int().min(10).max(3600).default(60),
    /** Timeout of one request to a camera (not PullMessages, which a camera holds up to a minute). */
    requestTimeoutMs: z.int().min(500).max(120_000).default(10_000),
    snapshots: z
      .strictObject({
        /** Take a JPEG snapshot at each motion start and end, its SHA-256 in the reading. */
        enabled: z.boolean().default(true),
        /** Bound of dataDir/cameras/snapshots; the oldest go first. */
        maxBytes: z
          .int()
          .min(1 << 20)
          .default(1 << 30),
        retentionDays: z.int().min(1).max(3650).default(30),
        /** How long a camera has to hand over a snapshot before the reading goes without one. */
        timeoutMs: z.int().min(500).max(60_000).default(5000),
      })
      .prefault({}),
    live: z
      .strictObject({
        /** Live view: ffmpeg per watched camera, H.264 passed through (GET /api/cameras/live/<deviceId>). */
        enabled: z.boolean().default(true),
        /** The ffmpeg binary: a name on PATH or an absolute path. */
        ffmpeg: z.string().min(1).max(4096).default("ffmpeg"),
        /** ffmpeg stops this long after a camera's last viewer left (a page reload does not restart it). */
        lingerS: z.number().min(0).max(600).default(5),
        /** Viewers of one camera at once; one more is refused (each costs the gateway's uplink bandwidth). */
        maxViewers: z.int().min(1).max(100).default(8),
        /** ffmpeg that exits is restarted after this, doubling to maxBackoffS while the camera stays down. */
        backoffS: z.number().min(0.1).max(60).default(1),
        maxBackoffS: z.number().min(1).max(3600).default(30),
      })
      .prefault({}),
  })
  .prefault({});
export type OnvifSettings = z.output<typeof OnvifSettings>;
