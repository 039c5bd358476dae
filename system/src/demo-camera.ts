import { createServer as createHttpServer, type Server } from "node:http";
import { createServer } from "node:net";
import { OnvifReplay, type RtspSource, rtspSourceMissing, startRtspSource } from "@supervision/gateway/testing";

/**
 * `npm start`'s ONVIF camera: the replay camera the camera tests use (ONVIF device, media and PullPoint events on
 * loopback) with a real RTSP stream behind its GetStreamUri (GStreamer's RTSP server, a moving test picture), and a
 * control URL through which the simulator reports the motion its scenario camera sees: POST `{"state":"start"|"end",
 * "ts":<ms>}` becomes a motion notification with that time. The gateway follows it like any camera.
 */
export interface DemoCamera {
  /** The camera's ONVIF device service URL (what the registry names). */
  readonly onvifUrl: string;
  readonly rtspUrl: string;
  /** Where the simulator POSTs motion (`npm run sim -- --camera-relay <id>=<url>`). */
  readonly controlUrl: string;
  stop(): Promise<void>;
}

function anyFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

/** Starts the demo camera, or says why it cannot run here (the GStreamer packages are missing). */
export async function startDemoCamera(): Promise<DemoCamera | { missing: string }> {
  const missing = rtspSourceMissing();
  if (missing) return { missing };
  const source: RtspSource = await startRtspSource({ port: await anyFreePort() });
  // A subscription of a minute, as real cameras grant: the replay's 5 s default is for tests of renewal.
  const replay = new OnvifReplay({ rtspPort: Number(new URL(source.url).port), clock: "now", terminationMs: 60_000 });
  let control: Server | undefined;
  try {
    await replay.start();
    control = createHttpServer((req, res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on("data", (c: Buffer) => {
        size += c.length;
        if (size <= 1024) chunks.push(c);
      });
      req.on("end", () => {
        const refuse = (why: string) => res.writeHead(400, { "content-type": "text/plain" }).end(`${why}\n`);
        if (req.method !== "POST" || req.url !== "/motion") return void res.writeHead(404).end();
        if (size > 1024) return refuse("body larger than 1 KiB");
        let body: { state?: unknown; ts?: unknown };
        try {
          body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as typeof body;
        } catch {
          return refuse('body is not JSON; send {"state":"start"|"end","ts":<ms>}');
        }
        if ((body.state !== "start" && body.state !== "end") || typeof body.ts !== "number" || !Number.isFinite(body.ts)) {
          return refuse('send {"state":"start"|"end","ts":<ms since 1970>}');
        }
        replay.notify({ variant: "cell-ismotion", motion: body.state === "start", operation: "Changed", utcTime: new Date(body.ts) });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve, reject) => {
      control!.once("error", reject);
      control!.listen(0, "127.0.0.1", () => resolve());
    });
  } catch (error) {
    await replay.stop();
    await source.stop();
    throw error;
  }
  const server = control;
  return {
    onvifUrl: replay.url,
    rtspUrl: source.url,
    controlUrl: `http://127.0.0.1:${(server.address() as { port: number }).port}/motion`,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await replay.stop();
      await source.stop();
    },
  };
}
