import { connect } from "node:net";

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * Sends one HTTP request byte for byte (the recorded request line as it is, then headers and body) over a fresh
 * loopback connection, the way a terminal's firmware does, and reads the answer until the server closes.
 */
export function rawRequest(port: number, requestLine: string, opts: { body?: Buffer; headers?: string[] } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port });
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", reject);
    socket.on("close", () => {
      const all = Buffer.concat(chunks);
      const split = all.indexOf("\r\n\r\n");
      if (split < 0) return reject(new Error(`no HTTP answer: ${JSON.stringify(all.toString("latin1").slice(0, 200))}`));
      const [statusLine, ...headerLines] = all.subarray(0, split).toString("latin1").split("\r\n");
      const headers = Object.fromEntries(
        headerLines.map((h) => [h.slice(0, h.indexOf(":")).toLowerCase(), h.slice(h.indexOf(":") + 1).trim()]),
      );
      let body: Buffer = all.subarray(split + 4);
      if (headers["transfer-encoding"] === "chunked") body = dechunk(body);
      resolve({ status: Number(statusLine!.split(" ")[1]), headers, body });
    });
    const body = opts.body ?? Buffer.alloc(0);
    const head = [
      requestLine.endsWith(" HTTP/1.1") ? requestLine : `${requestLine} HTTP/1.1`,
      `Host: 127.0.0.1:${port}`,
      "User-Agent: iClock Proxy/1.09",
      "Accept: application/push",
      "Connection: close",
      ...(opts.headers ?? []),
      ...(body.length > 0 || requestLine.startsWith("POST") ? [`Content-Length: ${body.length}`] : []),
      "",
      "",
    ].join("\r\n");
    socket.write(Buffer.concat([Buffer.from(head, "latin1"), body]));
  });
}

function dechunk(data: Buffer): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = data.indexOf("\r\n", at);
    if (eol < 0) break;
    const size = parseInt(data.subarray(at, eol).toString("latin1"), 16);
    if (!size) break;
    out.push(data.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  return Buffer.concat(out);
}
