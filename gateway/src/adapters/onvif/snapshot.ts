import { createHash, randomBytes } from "node:crypto";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";

/**
 * Fetches a camera's JPEG snapshot (the URI from GetSnapshotUri) with HTTP Digest (MD5 or SHA-256, qop auth) or
 * Basic authentication, whichever the camera asks for. Refuses anything that is not a JPEG or is larger than
 * `maxBytes`, with a reason.
 */
export interface SnapshotCredentials {
  username?: string | undefined;
  password?: string | undefined;
}

export async function fetchSnapshot(
  uri: string,
  credentials: SnapshotCredentials,
  opts: { timeoutMs: number; maxBytes: number },
): Promise<Buffer> {
  const url = new URL(uri);
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error(`snapshot URI is ${url.protocol}//, not http(s)`);
  // Credentials embedded in the URI (some cameras hand them out) are not used: the registry's are.
  url.username = "";
  url.password = "";
  let res = await get(url, undefined, opts);
  if (res.status === 401) {
    const challenge = pickChallenge(res.challenges);
    if (!challenge) throw new Error("camera refused the snapshot (401) without a Digest or Basic challenge");
    if (credentials.username === undefined)
      throw new Error("camera wants credentials for its snapshot; set onvif username/password in the registry");
    res = await get(url, authorization(challenge, "GET", url.pathname + url.search, credentials), opts);
    if (res.status === 401)
      throw new Error("camera refused the snapshot credentials (401): check the onvif username/password in the registry");
  }
  if (res.status !== 200) throw new Error(`camera answered the snapshot request with HTTP ${res.status}`);
  const body = res.body;
  if (body.length < 4 || body[0] !== 0xff || body[1] !== 0xd8)
    throw new Error(`snapshot is not a JPEG (${body.length} bytes, content-type ${res.contentType ?? "none"})`);
  return body;
}

export const sha256Hex = (data: Uint8Array): string => createHash("sha256").update(data).digest("hex");

interface Answer {
  status: number;
  challenges: string[];
  contentType: string | undefined;
  body: Buffer;
}

function get(url: URL, auth: string | undefined, opts: { timeoutMs: number; maxBytes: number }): Promise<Answer> {
  const request = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: "GET", headers: auth ? { authorization: auth } : {}, timeout: opts.timeoutMs },
      (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > opts.maxBytes) {
            req.destroy(new Error(`snapshot larger than ${opts.maxBytes} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on("end", () => {
          const raw = res.headers["www-authenticate"];
          resolve({
            status: res.statusCode ?? 0,
            challenges: headerValues(res.rawHeaders, "www-authenticate") ?? (raw ? [raw] : []),
            contentType: res.headers["content-type"],
            body: Buffer.concat(chunks),
          });
        });
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`camera did not answer the snapshot request within ${opts.timeoutMs} ms`)));
    req.on("error", reject);
    req.end();
  });
}

function headerValues(raw: string[], name: string): string[] | undefined {
  const values: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) if (raw[i]!.toLowerCase() === name) values.push(raw[i + 1]!);
  return values.length > 0 ? values : undefined;
}

/** Prefers Digest with SHA-256, then Digest MD5, then Basic. */
function pickChallenge(challenges: string[]): string | undefined {
  const digests = challenges.filter((c) => /^digest\s/i.test(c));
  return digests.find((c) => /algorithm="?sha-256"?/i.test(c)) ?? digests[0] ?? challenges.find((c) => /^basic\b/i.test(c));
}

/** The value of an Authorization header answering a WWW-Authenticate challenge (RFC 7616 Digest, RFC 7617 Basic). */
export function authorization(
  challenge: string,
  method: string,
  uri: string,
  credentials: SnapshotCredentials,
  cnonce = randomBytes(8).toString("hex"),
): string {
  const user = credentials.username ?? "";
  const pass = credentials.password ?? "";
  if (/^basic\b/i.test(challenge)) return `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}`;
  const p = Object.fromEntries(
    [...challenge.replace(/^digest\s+/i, "").matchAll(/([\w-]+)=(?:"([^"]*)"|([^,\s]*))/g)].map((m) => [
      m[1]!.toLowerCase(),
      m[2] ?? m[3] ?? "",
    ]),
  );
  const algorithm = (p.algorithm ?? "MD5").toUpperCase();
  const hashName = algorithm.startsWith("SHA-256") ? "sha256" : algorithm.startsWith("MD5") ? "md5" : undefined;
  if (!hashName) throw new Error(`camera asks for Digest algorithm ${algorithm}, which the gateway does not speak (MD5, SHA-256)`);
  const h = (s: string) => createHash(hashName).update(s).digest("hex");
  const realm = p.realm ?? "";
  const nonce = p.nonce ?? "";
  let ha1 = h(`${user}:${realm}:${pass}`);
  if (algorithm.endsWith("-SESS")) ha1 = h(`${ha1}:${nonce}:${cnonce}`);
  const ha2 = h(`${method}:${uri}`);
  const qop = (p.qop ?? "")
    .split(",")
    .map((q) => q.trim())
    .includes("auth")
    ? "auth"
    : undefined;
  const nc = "00000001";
  const response = qop ? h(`${ha1}:${nonce}:${nc}:${cnonce}:${qop}:${ha2}`) : h(`${ha1}:${nonce}:${ha2}`);
  const parts = [
    `username="${user}"`,
    `realm="${realm}"`,
    `nonce="${nonce}"`,
    `uri="${uri}"`,
    `algorithm=${algorithm}`,
    `response="${response}"`,
  ];
  if (qop) parts.push(`qop=${qop}`, `nc=${nc}`, `cnonce="${cnonce}"`);
  if (p.opaque !== undefined) parts.push(`opaque="${p.opaque}"`);
  return `Digest ${parts.join(", ")}`;
}
