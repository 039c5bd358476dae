import { createServer, type Server, type ServerResponse } from "node:http";
import { pipeline, Readable } from "node:stream";
import type { Registry } from "prom-client";
import { timingSafeEqual } from "node:crypto";
import type { HttpAnswer } from "../adapters/adapter.ts";
import type { DeviceAvailability } from "../devices/availability.ts";

/** What the HTTP API reports; the controller supplies it. */
export interface GatewayProbe {
  brokerListening(): boolean;
  bufferWritable(): boolean;
  /** Configured devices, then devices that tried to reach the gateway and were refused as unknown. */
  devices(): (DeviceAvailability | (DeviceAvailability & { refused: string; requests: number }))[];
  /** Free-form details for `gateway status` (buffer stats, uplink state). */
  details(): object;
  /** The newest refused messages, newest first. */
  deadLetters(limit: number, offset?: number): object[];
  /** Paths the device adapters serve (/api/cameras/...); undefined when none does. */
  adapterRoute?(path: string, query: URLSearchParams): HttpAnswer | undefined;
}

export interface HttpApi {
  readonly port: number;
  close(): Promise<void>;
}

/** Serves /healthz, /metrics and the read-only JSON the CLI shows (/api/status, /api/devices). */
export async function startHttpApi(opts: {
  host: string;
  port: number;
  probe: GatewayProbe;
  registry: Registry;
  token?: string | undefined;
  /** Registries of the running device links (they come and go with config changes), served after the gateway's. */
  moreMetrics?: () => Registry[];
}): Promise<HttpApi> {
  const { probe, registry } = opts;
  /** Streaming answers (live view) in progress: closing the API ends them, so close never waits on a viewer. */
  const streaming = new Set<ServerResponse>();
  const server: Server = createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (req.method !== "GET") return send(405, { error: "only GET is served" });
    const url = new URL(req.url ?? "/", "http://gateway");
    const path = url.pathname;
    if (path === "/healthz") {
      const checks = { brokerListening: probe.brokerListening(), bufferWritable: probe.bufferWritable() };
      return send(checks.brokerListening && checks.bufferWritable ? 200 : 503, checks);
    }
    if (path === "/metrics") {
      Promise.all([registry, ...(opts.moreMetrics?.() ?? [])].map((r) => r.metrics()))
        .then((texts) => texts.join("\n"))
        .then(
          (text) => {
            res.writeHead(200, { "content-type": registry.contentType });
            res.end(text);
          },
          (error: Error) => send(500, { error: error.message }),
        );
      return;
    }
    if (path.startsWith("/api/") && !tokenOk(req.headers.authorization, opts.token)) {
      res.setHeader("www-authenticate", 'Bearer realm="gateway"');
      return send(401, { error: "this API needs the gateway's http.token: send Authorization: Bearer <token>" });
    }
    if (path === "/api/devices") return send(200, probe.devices());
    if (path === "/api/status") return send(200, probe.details());
    if (path === "/api/dead-letters") {
      const limit = Number(url.searchParams.get("limit") ?? "50");
      if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) return send(400, { error: "limit must be an integer from 1 to 10000" });
      // offset pages through older ones (newest first): a fault run reads every dead letter, not only the newest.
      const offset = Number(url.searchParams.get("offset") ?? "0");
      if (!Number.isSafeInteger(offset) || offset < 0) return send(400, { error: "offset must be a non-negative integer" });
      return send(200, probe.deadLetters(limit, offset));
    }
    const answer = path.startsWith("/api/") ? probe.adapterRoute?.(path, url.searchParams) : undefined;
    if (answer) {
      if (answer.body instanceof Readable) {
        const body = answer.body;
        res.writeHead(answer.status, { "content-type": "application/octet-stream", ...answer.headers });
        streaming.add(res);
        // pipeline destroys the body when the client goes away: that is how a live viewer leaves.
        pipeline(body, res, () => streaming.delete(res));
        return;
      }
      if (Buffer.isBuffer(answer.body)) {
        res.writeHead(answer.status, {
          "content-type": "application/octet-stream",
          ...answer.headers,
          "content-length": answer.body.length,
        });
        res.end(answer.body);
        return;
      }
      res.writeHead(answer.status, { "content-type": "application/json", ...answer.headers });
      res.end(JSON.stringify(answer.body));
      return;
    }
    send(404, { error: `no such path; try /healthz, /metrics, /api/status, /api/devices, /api/dead-letters?limit=N&offset=M` });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === "object" && address ? address.port : opts.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const res of streaming) res.destroy();
      }),
  };
}

/** No token configured: the API is open (it listens on 127.0.0.1 by default). Otherwise a Bearer token must match. */
function tokenOk(header: string | undefined, token: string | undefined): boolean {
  if (token === undefined) return true;
  const given = Buffer.from(/^Bearer (.+)$/.exec(header ?? "")?.[1] ?? "");
  const wanted = Buffer.from(token);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}
