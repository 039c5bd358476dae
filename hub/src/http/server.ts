import { createServer, type IncomingMessage, type Server } from "node:http";
import type { Logger } from "pino";
import type { HttpRequest, HttpResponse, HttpRoutes } from "../controller/extension.ts";

type Handler = (req: HttpRequest) => Promise<HttpResponse>;
interface Route {
  method: "GET" | "POST";
  parts: string[];
  handler: Handler;
}

/** JSON bodies above this are refused: the API takes small commands, never uploads. */
const MAX_BODY_BYTES = 64 * 1024;

/** A tiny router for the hub's JSON API; extensions add routes through HttpRoutes. */
export class HubHttpServer implements HttpRoutes {
  private readonly routes: Route[] = [];
  private server: Server | undefined;

  constructor(private readonly logger: Logger) {}

  add(method: "GET" | "POST", path: string, handler: Handler): void {
    this.routes.push({ method, parts: path.split("/").filter(Boolean), handler });
  }

  async listen(port: number, host: string): Promise<number> {
    const server = createServer((req, res) => {
      this.handle(req)
        .then((reply) => {
          res.writeHead(reply.status, { "content-type": reply.contentType ?? "application/json" });
          res.end(typeof reply.body === "string" && reply.contentType ? reply.body : JSON.stringify(reply.body));
        })
        .catch((err: unknown) => {
          this.logger.error({ err, url: req.url }, "HTTP handler failed");
          res.writeHead(500, { "content-type": "application/json" });
          res.end(JSON.stringify({ error: "internal error; see the hub log" }));
        });
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => resolve());
    });
    const address = server.address();
    return typeof address === "object" && address ? address.port : port;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    this.server = undefined;
  }

  private async handle(req: IncomingMessage): Promise<HttpResponse> {
    const url = new URL(req.url ?? "/", "http://hub");
    const parts = url.pathname.split("/").filter(Boolean);
    for (const route of this.routes) {
      if (route.method !== req.method || route.parts.length !== parts.length) continue;
      const params: Record<string, string> = {};
      const matches = route.parts.every((p, i) => {
        if (p.startsWith(":")) {
          params[p.slice(1)] = decodeURIComponent(parts[i] ?? "");
          return true;
        }
        return p === parts[i];
      });
      if (!matches) continue;
      let body: unknown;
      if (req.method === "POST") {
        const read = await readJson(req);
        if (!read.ok) return { status: read.status, body: { error: read.error } };
        body = read.value;
      }
      return route.handler({ params, query: url.searchParams, body });
    }
    return { status: 404, body: { error: `no route ${req.method} ${url.pathname}` } };
  }
}

async function readJson(req: IncomingMessage): Promise<{ ok: true; value: unknown } | { ok: false; status: number; error: string }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return { ok: false, status: 413, error: `body larger than ${MAX_BODY_BYTES} bytes` };
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return { ok: true, value: undefined };
  try {
    return { ok: true, value: JSON.parse(Buffer.concat(chunks).toString("utf8")) };
  } catch {
    return { ok: false, status: 400, error: "body is not valid JSON" };
  }
}
