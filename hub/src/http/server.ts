import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type RequestListener, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { pipeline, Readable } from "node:stream";
import type { Logger } from "pino";
import type { HttpRequest, HttpResponse, HttpRoutes } from "../controller/extension.ts";
import { type Access, type ApiTokens, type Identity, requireRole, roleAllows } from "./auth.ts";

type Handler = (req: HttpRequest) => Promise<HttpResponse>;
interface Route {
  method: "GET" | "POST";
  parts: string[];
  handler: Handler;
  access: Access;
}

export interface HubHttpOptions {
  /** The API tokens in force (re-read by the caller when the token file changes). */
  tokens: { current(): ApiTokens };
  /** PEM files: the API speaks HTTPS. */
  tls?: { certFile: string; keyFile: string };
}

/** JSON bodies above this are refused: the API takes small commands, never uploads. */
const MAX_BODY_BYTES = 64 * 1024;

/** A tiny router for the hub's JSON API; extensions add routes through HttpRoutes. */
export class HubHttpServer implements HttpRoutes {
  private readonly routes: Route[] = [];
  private server: Server | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly options: HubHttpOptions,
  ) {}

  /**
   * A route and who may call it. Without `access`, a GET needs a viewer token and a POST an administrator one, so
   * a route added without thought is closed rather than open; `PUBLIC` opens it to anyone.
   */
  add(method: "GET" | "POST", path: string, handler: Handler, access?: Access): void {
    this.routes.push({
      method,
      parts: path.split("/").filter(Boolean),
      handler,
      access: access ?? requireRole(method === "GET" ? "viewer" : "administrator"),
    });
  }

  async listen(port: number, host: string): Promise<number> {
    const listener: RequestListener = (req, res) => {
      this.handle(req)
        .then((reply) => {
          if (reply.body instanceof Readable) {
            // A stream (camera live view): sent as it comes, destroyed when the client goes away.
            res.writeHead(reply.status, { "content-type": reply.contentType ?? "application/octet-stream", "cache-control": "no-store" });
            pipeline(reply.body, res, () => undefined);
            return;
          }
          const headers: Record<string, string> = { "content-type": reply.contentType ?? "application/json" };
          if (reply.status === 401) headers["www-authenticate"] = 'Bearer realm="hub"';
          res.writeHead(reply.status, headers);
          // Bytes (a camera snapshot) as they are; text with its own type; anything else as JSON.
          if (Buffer.isBuffer(reply.body)) res.end(reply.body);
          else res.end(typeof reply.body === "string" && reply.contentType ? reply.body : JSON.stringify(reply.body));
        })
        .catch((err: unknown) => {
          this.logger.error({ err, url: req.url }, "HTTP handler failed");
          res.writeHead(500, { "content-type": "application/json" });
          res.end(JSON.stringify({ error: "internal error; see the hub log", code: "internal" }));
        });
    };
    const tls = this.options.tls;
    let server: Server;
    try {
      server = tls
        ? createHttpsServer({ cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) }, listener)
        : createServer(listener);
    } catch (err) {
      throw new Error(
        `hub HTTP: cannot use http.tls (${(err as Error).message}); give readable PEM files in http.tls.certFile and http.tls.keyFile`,
      );
    }
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
      let identity: Identity | undefined;
      if (!("public" in route.access)) {
        const need = route.access.role;
        const authorization = req.headers.authorization;
        identity = this.options.tokens.current().identify(authorization);
        if (!identity) {
          this.logger.warn(
            {
              code: authorization ? "api_token_unknown" : "api_token_missing",
              method: req.method,
              path: url.pathname,
              remote: req.socket.remoteAddress,
            },
            "HTTP request refused: no valid API token",
          );
          return {
            status: 401,
            body: authorization
              ? { error: "the API token is not valid; ask an administrator for one (hub token add)", code: "unauthenticated" }
              : { error: "an API token is required: send Authorization: Bearer <token> (hub token add)", code: "unauthenticated" },
          };
        }
        if (!roleAllows(identity.role, need)) {
          this.logger.warn(
            { code: "api_role_refused", method: req.method, path: url.pathname, who: identity.name, role: identity.role, need },
            "HTTP request refused: role",
          );
          return {
            status: 403,
            body: {
              error: `${req.method} ${url.pathname} needs the ${need} role; "${identity.name}" is ${identity.role}`,
              code: "forbidden",
            },
          };
        }
      }
      let body: unknown;
      if (req.method === "POST") {
        const read = await readJson(req);
        if (!read.ok) return { status: read.status, body: { error: read.error } };
        body = read.value;
      }
      return route.handler({ params, query: url.searchParams, body, ...(identity ? { identity } : {}) });
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
