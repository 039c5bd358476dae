import http from "node:http";
import https from "node:https";

/** Where line protocol goes: InfluxDB 1.x's `/write` endpoint of one database. */
export interface InfluxWriteTarget {
  /** Base URL, e.g. http://127.0.0.1:8086 (a path prefix is kept, for a proxy). */
  url: string;
  database: string;
  username?: string;
  password?: string;
}

/**
 * Lines of line protocol (nanosecond timestamps), newline-separated: one text, or pieces of whole lines (text or
 * UTF-8 bytes) sent one after the other with a newline between them, so a large write never becomes one large string.
 */
export type LineBody = string | readonly (string | Uint8Array)[];

const NEWLINE = Buffer.from("\n");

/** Writes a body of line-protocol lines to a retention policy; resolves once InfluxDB stored them. */
export type LineWriter = (body: LineBody, retentionPolicy: string, timeoutMs: number) => Promise<void>;

/** InfluxDB answered, but not 204: `status` tells a refused write (4xx) from an unwell server (5xx). */
export class InfluxWriteError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * POSTs line protocol straight to `/write` over kept-alive connections. The `influx` package stays the hub's
 * query client; this is the write path, where its serialisation cost more than influxd's storage.
 */
export function createLineWriter(target: InfluxWriteTarget): LineWriter {
  const base = new URL(target.url);
  const transport = base.protocol === "https:" ? https : http;
  const agent = new transport.Agent({ keepAlive: true, maxSockets: 8 });
  const prefix = base.pathname.replace(/\/$/, "");
  const auth = target.username === undefined ? undefined : `${target.username}:${target.password ?? ""}`;

  // Made once per policy (a URLSearchParams per write was about 1 % of the hub's CPU in the ingest bench).
  const paths = new Map<string, string>();
  const pathFor = (rp: string): string => {
    let path = paths.get(rp);
    if (path === undefined) paths.set(rp, (path = `${prefix}/write?${new URLSearchParams({ db: target.database, rp, precision: "n" })}`));
    return path;
  };

  return (body, retentionPolicy, timeoutMs) =>
    new Promise<void>((resolve, reject) => {
      const pieces = typeof body === "string" ? [body] : body;
      let length = 0;
      for (const piece of pieces) length += typeof piece === "string" ? Buffer.byteLength(piece) : piece.byteLength;
      length += Math.max(0, pieces.length - 1);
      const request = transport.request(
        {
          agent,
          protocol: base.protocol,
          hostname: base.hostname,
          port: base.port,
          path: pathFor(retentionPolicy),
          method: "POST",
          auth,
          headers: { "content-type": "text/plain; charset=utf-8", "content-length": length },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("error", reject);
          response.on("end", () => {
            const status = response.statusCode ?? 0;
            if (status === 204) return resolve();
            const text = Buffer.concat(chunks).toString("utf8").slice(0, 512);
            reject(new InfluxWriteError(status, `influxdb refused the write (HTTP ${status}): ${text || response.statusMessage}`));
          });
        },
      );
      request.setTimeout(timeoutMs, () => request.destroy(new Error(`influxdb did not answer within ${timeoutMs} ms`)));
      request.on("error", reject);
      pieces.forEach((piece, i) => {
        if (i > 0) request.write(NEWLINE);
        request.write(piece);
      });
      request.end();
    });
}
