import { createHash, randomBytes, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { notificationXml, type NotificationSpec } from "./notifications.ts";

/**
 * A camera for tests: answers ONVIF SOAP requests from the recorded fixtures (the answer picked by the SOAP body's
 * first element and its service namespace, `Error.xml` when none fits), runs PullPoint subscriptions
 * (CreatePullPointSubscription, PullMessages held until a notification is queued, Renew, Unsubscribe, expiry),
 * checks WS-Security credentials, and serves a JPEG snapshot behind Digest or Basic auth. Every URL it hands out
 * points at itself on 127.0.0.1; one that does not is recorded in `violations` and answered with an error, so a
 * test fails loudly instead of a client following it off the machine.
 */

const FIXTURES = new URL("./fixtures/", import.meta.url);
const SNAPSHOT = readFileSync(new URL("snapshot.jpg", FIXTURES));
const SNAPSHOT_PATH = "/onvif-cgi/jpg/image.cgi";

export interface ReplayOptions {
  /** Credentials the camera demands (WS-Security on SOAP, Digest/Basic on the snapshot); none: open camera. */
  username?: string;
  password?: string;
  snapshotAuth?: "digest" | "basic";
  /** The RTSP port written into GetStreamUri (the test's RTSP source); default 554. */
  rtspPort?: number;
  /** How long a subscription lives after Create or Renew (the fixture's 5 s by default). */
  terminationMs?: number;
  /** How long PullMessages waits for a notification before answering empty (capped by the client's Timeout). */
  pullHoldMs?: number;
  /** "now": GetSystemDateAndTime answers this machine's time; "recorded": the fixture's 2014 time; or a skew in ms. */
  clock?: "now" | "recorded" | number;
  /** Service namespaces the camera does not offer (answered with a fault), e.g. "events". */
  without?: string[];
  port?: number;
  /** The WS-Discovery endpoint reference (default: a uuid per replay), so several replays are told apart. */
  endpoint?: string;
}

/** A PTZ request as the camera received it: the action and its parameters. */
export interface PtzCall {
  action: string;
  profileToken?: string;
  preset?: string;
  pan?: number;
  tilt?: number;
  zoom?: number;
  timeout?: string;
  stopPanTilt?: boolean;
  stopZoom?: boolean;
}

/** WS-Discovery's multicast group and port (ONVIF Core, 7.3). */
export const WS_DISCOVERY = { group: "239.255.255.250", port: 3702 } as const;

interface Subscription {
  id: string;
  expiresAt: number;
  queue: string[];
  waiter?: () => void;
}

const NAMESPACES: Record<string, string> = {
  "http://www.onvif.org/ver10/device/wsdl": "device",
  "http://www.onvif.org/ver10/media/wsdl": "media",
  "http://www.onvif.org/ver10/events/wsdl": "events",
  "http://docs.oasis-open.org/wsn/b-2": "events",
  "http://www.onvif.org/ver20/ptz/wsdl": "ptz",
  "http://www.onvif.org/ver20/imaging/wsdl": "imaging",
};

export class OnvifReplay {
  readonly host = "127.0.0.1";
  port = 0;
  /** Requests by action ("device.GetServices", "events.PullMessages", "snapshot", ...). */
  readonly counts = new Map<string, number>();
  /** Non-loopback URLs this camera would have handed out (must stay empty). */
  readonly violations: string[] = [];
  /** SOAP requests refused for credentials. */
  authFailures = 0;
  /** Snapshot requests answered with an authentication challenge (401). */
  snapshotChallenges = 0;
  /** Every PTZ request that passed authentication, in order. */
  readonly ptzCalls: PtzCall[] = [];
  /** WS-Discovery probes answered. */
  probes = 0;
  private discovery: UdpSocket | undefined;
  private readonly endpoint: string;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly subscriptions = new Map<string, Subscription>();
  private nextSubscription = 1;
  private readonly nonces = new Set<string>();
  /** Notifications for the next subscription, when none exists yet (a camera's Initialized state). */
  private pendingInitial: NotificationSpec[] = [];

  constructor(private readonly opts: ReplayOptions = {}) {
    this.endpoint = opts.endpoint ?? `uuid:${randomUUID()}`;
  }

  /**
   * Answers WS-Discovery probes sent to the multicast group on loopback (the test namespace routes 224.0.0.0/4 to
   * `lo`), as a camera on the hall's LAN does, with this replay's device service URL.
   */
  async startDiscovery(): Promise<void> {
    const socket = createSocket({ type: "udp4", reuseAddr: true });
    socket.on("message", (message, from) => {
      const text = message.toString("utf8");
      if (!/<(?:\w+:)?Probe[\s>]/.test(text)) return;
      const relatesTo = /<(?:\w+:)?MessageID[^>]*>([^<]+)</.exec(text)?.[1] ?? "";
      const xml = readFileSync(new URL("Probe.xml", FIXTURES), "utf8")
        .replace("RELATES_TO", relatesTo)
        .replace("uuid:c9790c3a-701b-464d-a189-0060351c8ada", this.endpoint)
        .replace("SERVICE_URI", this.url);
      if (this.checkAddresses(xml)) return;
      this.probes++;
      socket.send(xml, from.port, from.address === "0.0.0.0" ? this.host : from.address);
    });
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(WS_DISCOVERY.port, () => resolve());
    });
    socket.addMembership(WS_DISCOVERY.group, this.host);
    this.discovery = socket;
  }

  /** The device service URL a camera is configured with. */
  get url(): string {
    return `http://${this.host}:${this.port}/onvif/device_service`;
  }

  get snapshotUrl(): string {
    return `http://${this.host}:${this.port}${SNAPSHOT_PATH}`;
  }

  count(action: string): number {
    return this.counts.get(action) ?? 0;
  }

  activeSubscriptions(): number {
    const now = Date.now();
    return [...this.subscriptions.values()].filter((s) => s.expiresAt > now).length;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((error: Error) => {
        if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
        res.end(error.message);
      });
    });
    server.on("connection", (socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.opts.port ?? this.port, this.host, () => resolve());
    });
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  /** The camera loses power: connections reset, subscriptions are forgotten, the port refuses. */
  async stop(): Promise<void> {
    this.discovery?.close();
    this.discovery = undefined;
    const server = this.server;
    this.server = undefined;
    this.dropConnections();
    for (const s of this.subscriptions.values()) s.waiter?.();
    this.subscriptions.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Comes back on the same port. */
  async restart(): Promise<void> {
    await this.start();
  }

  /** A dropped network: every open connection (a held PullMessages too) is reset; subscriptions survive. */
  dropConnections(): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  /** Queues a notification for every live subscription (or for the next one when none exists). */
  notify(spec: NotificationSpec): void {
    const live = [...this.subscriptions.values()].filter((s) => s.expiresAt > Date.now());
    if (live.length === 0) {
      this.pendingInitial.push(spec);
      return;
    }
    for (const s of live) {
      s.queue.push(notificationXml(spec, this.subscriptionUrl(s.id)));
      s.waiter?.();
    }
  }

  private subscriptionUrl(id: string): string {
    return `http://${this.host}:${this.port}/onvif/pullpoint/${id}`;
  }

  private bump(action: string): void {
    this.counts.set(action, this.count(action) + 1);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0]!;
    if (req.method === "GET" && path === SNAPSHOT_PATH) return this.snapshot(req, res);
    if (req.method !== "POST") {
      res.writeHead(405).end();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > 1 << 20) {
        res.writeHead(413).end();
        return;
      }
      chunks.push(chunk);
    }
    const body = Buffer.concat(chunks).toString("utf8");
    const first = firstBodyElement(body);
    if (!first) return this.send(res, 400, this.fixture("Error.xml"));
    const service = NAMESPACES[first.namespace] ?? "device";
    const action = `${service}.${first.name}`;
    this.bump(action);
    if ((this.opts.without ?? []).includes(service)) return this.send(res, 400, this.fixture("Error.xml"));
    if (first.name !== "GetSystemDateAndTime" && this.opts.username !== undefined && !this.wsSecurityOk(body)) {
      this.authFailures++;
      return this.send(res, 400, notAuthorizedFault());
    }
    switch (first.name) {
      case "GetSystemDateAndTime":
        return this.send(res, 200, this.systemDateAndTime());
      case "CreatePullPointSubscription":
        return this.createSubscription(res);
      case "PullMessages":
        return this.pullMessages(path, body, res);
      case "Renew":
        return this.renew(path, res);
      case "GotoPreset":
      case "GotoHomePosition":
      case "ContinuousMove":
      case "Stop":
        if (service === "ptz") this.ptzCalls.push(ptzCall(first.name, body));
        return this.send(res, 200, this.fixture(`ptz.${first.name}.xml`));
      case "Unsubscribe": {
        const id = subscriptionId(path);
        if (id) this.subscriptions.get(id)?.waiter?.();
        if (id) this.subscriptions.delete(id);
        return this.send(res, 200, this.fixture("Unsubscribe.xml"));
      }
      default: {
        const name = [`${service}.${first.name}.xml`, `${first.name}.xml`].find((n) => fixtureExists(n));
        return this.send(res, name ? 200 : 400, this.fixture(name ?? "Error.xml"));
      }
    }
  }

  private createSubscription(res: ServerResponse): void {
    const id = String(this.nextSubscription++);
    const s: Subscription = { id, expiresAt: Date.now() + this.terminationMs(), queue: [] };
    for (const spec of this.pendingInitial.splice(0)) s.queue.push(notificationXml(spec, this.subscriptionUrl(id)));
    this.subscriptions.set(id, s);
    this.send(res, 200, this.fixture("events.CreatePullPointSubscription.xml", { pullPointUrl: `/onvif/pullpoint/${id}` }));
  }

  private live(path: string): Subscription | undefined {
    const id = subscriptionId(path);
    const s = id ? this.subscriptions.get(id) : undefined;
    if (s && s.expiresAt <= Date.now()) {
      this.subscriptions.delete(s.id);
      return undefined;
    }
    return s;
  }

  private async pullMessages(path: string, body: string, res: ServerResponse): Promise<void> {
    const found = this.live(path);
    if (!found) return this.send(res, 400, this.fixture("Error.xml"));
    const s: Subscription = found;
    if (s.queue.length === 0) {
      const requested = isoDurationMs(/<(?:\w+:)?Timeout>([^<]+)</.exec(body)?.[1] ?? "PT1M");
      const hold = Math.min(requested, this.opts.pullHoldMs ?? 1000);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(finish, hold);
        function finish() {
          clearTimeout(timer);
          s.waiter = undefined;
          resolve();
        }
        s.waiter = finish;
        res.on("close", finish);
      });
    }
    if (res.destroyed) return;
    const messages = s.queue.splice(0);
    const template = this.fixture("PullMessages.xml");
    const now = new Date();
    const xml = template
      .replace(/<tev:CurrentTime>[^<]*</, `<tev:CurrentTime>${now.toISOString()}<`)
      .replace(/<tev:TerminationTime>[^<]*</, `<tev:TerminationTime>${new Date(s.expiresAt).toISOString()}<`)
      .replace("</tev:PullMessagesResponse>", `${messages.join("")}\n        </tev:PullMessagesResponse>`);
    this.send(res, 200, xml);
  }

  private renew(path: string, res: ServerResponse): void {
    const s = this.live(path);
    if (!s) return this.send(res, 400, this.fixture("Error.xml"));
    s.expiresAt = Date.now() + this.terminationMs();
    this.send(res, 200, renewResponse(new Date(), new Date(s.expiresAt)));
  }

  private terminationMs(): number {
    return this.opts.terminationMs ?? 5000;
  }

  private systemDateAndTime(): string {
    const recorded = this.fixture("GetSystemDateAndTime.xml");
    const clock = this.opts.clock ?? "now";
    if (clock === "recorded") return recorded;
    const t = new Date(this.cameraNow());
    const set = (xml: string, tag: string, value: number) => xml.replace(new RegExp(`<tt:${tag}>\\d+<`), `<tt:${tag}>${value}<`);
    let xml = recorded;
    xml = set(xml, "Hour", t.getUTCHours());
    xml = set(xml, "Minute", t.getUTCMinutes());
    xml = set(xml, "Second", t.getUTCSeconds());
    xml = set(xml, "Year", t.getUTCFullYear());
    xml = set(xml, "Month", t.getUTCMonth() + 1);
    return set(xml, "Day", t.getUTCDate());
  }

  /** The camera's clock: this machine's, shifted by the configured skew (or the recorded fixture's time). */
  private cameraNow(): number {
    const clock = this.opts.clock ?? "now";
    if (clock === "recorded") return Date.UTC(2014, 11, 24, 19, 14, 37) + process.uptime() * 1000;
    return Date.now() + (clock === "now" ? 0 : clock);
  }

  private wsSecurityOk(body: string): boolean {
    const pick = (tag: string) => new RegExp(`<(?:\\w+:)?${tag}(?:\\s[^>]*)?>([^<]*)<`).exec(body)?.[1];
    const [user, digest, nonce, created] = [pick("Username"), pick("Password"), pick("Nonce"), pick("Created")];
    if (user !== this.opts.username || !digest || !nonce || !created) return false;
    // Cameras refuse a token created more than a few minutes away from their own clock.
    if (Math.abs(Date.parse(created) - this.cameraNow()) > 5 * 60_000) return false;
    const expected = createHash("sha1")
      .update(Buffer.concat([Buffer.from(nonce, "base64"), Buffer.from(created + (this.opts.password ?? ""))]))
      .digest("base64");
    return expected === digest;
  }

  private snapshot(req: IncomingMessage, res: ServerResponse): void {
    this.bump("snapshot");
    if (this.opts.username !== undefined && !this.httpAuthOk(req)) {
      this.snapshotChallenges++;
      const challenge =
        this.opts.snapshotAuth === "basic"
          ? 'Basic realm="replay"'
          : `Digest realm="replay", qop="auth", nonce="${this.newNonce()}", algorithm=MD5`;
      res.writeHead(401, { "www-authenticate": challenge }).end();
      return;
    }
    res.writeHead(200, { "content-type": "image/jpeg", "content-length": SNAPSHOT.length }).end(SNAPSHOT);
  }

  private newNonce(): string {
    const nonce = randomBytes(12).toString("hex");
    this.nonces.add(nonce);
    return nonce;
  }

  private httpAuthOk(req: IncomingMessage): boolean {
    const header = req.headers.authorization ?? "";
    if (this.opts.snapshotAuth === "basic") {
      return header === `Basic ${Buffer.from(`${this.opts.username}:${this.opts.password ?? ""}`).toString("base64")}`;
    }
    if (!header.startsWith("Digest ")) return false;
    const p = Object.fromEntries([...header.slice(7).matchAll(/(\w+)="?([^",]*)"?/g)].map((m) => [m[1], m[2]]));
    if (p.username !== this.opts.username || !p.nonce || !this.nonces.has(p.nonce)) return false;
    const md5 = (s: string) => createHash("md5").update(s).digest("hex");
    const ha1 = md5(`${this.opts.username}:replay:${this.opts.password ?? ""}`);
    const ha2 = md5(`${req.method}:${p.uri}`);
    return p.response === md5(`${ha1}:${p.nonce}:${p.nc}:${p.cnonce}:${p.qop}:${ha2}`);
  }

  private fixture(name: string, extra: Record<string, string> = {}): string {
    const it: Record<string, string | number> = {
      hostname: this.host,
      port: this.port,
      rtspPort: this.opts.rtspPort ?? 554,
      pullPointUrl: "/onvif/pullpoint/0",
      ...extra,
    };
    return fillTemplate(readFileSync(new URL(name, FIXTURES), "utf8"), it, this.terminationMs());
  }

  /** Records every non-loopback address a client would follow in `xml`; true when there is one. */
  private checkAddresses(xml: string): boolean {
    // The addresses a client follows: service XAddrs, media Uris, subscription Addresses.
    for (const m of xml.matchAll(/<(?:[\w-]+:)?(?:XAddrs?|Uri|Address)>\s*([^<]*)/g)) {
      for (const url of m[1]!.trim().split(/\s+/)) {
        if (url === "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous") continue; // WS-Addressing's "no reply address"
        const host = /^[a-z]+:\/\/([^/:]+)/i.exec(url)?.[1];
        if (host !== undefined && host !== "127.0.0.1") this.violations.push(url);
      }
    }
    return this.violations.length > 0;
  }

  private send(res: ServerResponse, status: number, xml: string): void {
    if (this.checkAddresses(xml)) status = 500;
    res.writeHead(status, { "content-type": "application/soap+xml; charset=utf-8" }).end(xml);
  }
}

/** The parameters of a PTZ request, read from its SOAP body. */
function ptzCall(action: string, body: string): PtzCall {
  const text = (tag: string) => new RegExp(`<(?:\\w+:)?${tag}(?:\\s[^>]*)?>([^<]*)<`).exec(body)?.[1];
  const attr = (tag: string, name: string) => {
    const element = new RegExp(`<(?:\\w+:)?${tag}\\s[^>]*>|<(?:\\w+:)?${tag}\\s[^>]*/>`).exec(body)?.[0];
    const value = element && new RegExp(`\\s${name}="([^"]*)"`).exec(element)?.[1];
    return value === undefined ? undefined : Number(value);
  };
  const call: PtzCall = { action };
  const profileToken = text("ProfileToken");
  if (profileToken !== undefined) call.profileToken = profileToken;
  const preset = text("PresetToken");
  if (preset !== undefined) call.preset = preset;
  if (action === "ContinuousMove") {
    const [pan, tilt, zoom] = [attr("PanTilt", "x"), attr("PanTilt", "y"), attr("Zoom", "x")];
    if (pan !== undefined) call.pan = pan;
    if (tilt !== undefined) call.tilt = tilt;
    if (zoom !== undefined) call.zoom = zoom;
    const timeout = text("Timeout");
    if (timeout !== undefined) call.timeout = timeout;
  }
  if (action === "Stop") {
    call.stopPanTilt = text("PanTilt") === "true";
    call.stopZoom = text("Zoom") === "true";
  }
  return call;
}

function fixtureExists(name: string): boolean {
  try {
    readFileSync(new URL(name, FIXTURES));
    return true;
  } catch {
    return false;
  }
}

/** The local name and namespace URI of the first element inside the SOAP Body. */
export function firstBodyElement(xml: string): { name: string; namespace: string } | undefined {
  const m = /<(?:[\w-]+:)?Body\b[^>]*>\s*<(?:([\w-]+):)?([\w-]+)([^>]*)>/.exec(xml);
  if (!m) return undefined;
  const [, prefix, name, attrs] = m;
  const ns = prefix ? new RegExp(`xmlns:${prefix}="([^"]+)"`).exec(xml)?.[1] : /xmlns="([^"]+)"/.exec(attrs ?? "")?.[1];
  return { name: name!, namespace: ns ?? "" };
}

function subscriptionId(path: string): string | undefined {
  return /^\/onvif\/pullpoint\/(\d+)$/.exec(path)?.[1];
}

function isoDurationMs(d: string): number {
  const m = /^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?$/.exec(d.trim());
  if (!m) return 60_000;
  return ((Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0)) * 60 + Number(m[3] ?? 0)) * 1000;
}

/** Fills the doT markup the fixtures use; refuses any expression it does not know rather than guess. */
export function fillTemplate(xml: string, it: Record<string, string | number>, terminationMs: number): string {
  const conditions: Record<string, boolean> = {
    // The replay sends its scripted notifications instead of the mock's random ones.
    "Math.random() < 0.5": false,
    "it.bad": false,
    "!it.one": true,
    "typeof it.count === 'undefined' || it.count > 0": true,
    "typeof it.count === 'undefined' || it.count > 1": true,
  };
  const filled = xml
    .replace(/\{\{\?\s*(.+?)\s*\}\}([\s\S]*?)\{\{\?\}\}/g, (_, cond: string, inner: string) => {
      if (!(cond in conditions)) throw new Error(`replay: unknown template condition ${cond}`);
      return conditions[cond] ? inner : "";
    })
    .replace(/\{\{=\s*(.+?)\s*\}\}/g, (_, expr: string) => {
      if (expr.startsWith("it.")) {
        const value = it[expr.slice(3)];
        if (value === undefined) throw new Error(`replay: no value for ${expr}`);
        return String(value);
      }
      if (expr === "new Date().toISOString()") return new Date().toISOString();
      if (expr === "new Date(Date.now()+5000).toISOString()") return new Date(Date.now() + terminationMs).toISOString();
      throw new Error(`replay: unknown template expression ${expr}`);
    });
  if (filled.includes("{{")) throw new Error("replay: template markup left unfilled");
  return filled;
}

function renewResponse(current: Date, termination: Date): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2">
  <SOAP-ENV:Body>
    <wsnt:RenewResponse>
      <wsnt:TerminationTime>${termination.toISOString()}</wsnt:TerminationTime>
      <wsnt:CurrentTime>${current.toISOString()}</wsnt:CurrentTime>
    </wsnt:RenewResponse>
  </SOAP-ENV:Body>
</SOAP-ENV:Envelope>`;
}

function notAuthorizedFault(): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope" xmlns:ter="http://www.onvif.org/ver10/error">
  <SOAP-ENV:Body>
    <SOAP-ENV:Fault>
      <SOAP-ENV:Code><SOAP-ENV:Value>SOAP-ENV:Sender</SOAP-ENV:Value>
        <SOAP-ENV:Subcode><SOAP-ENV:Value>ter:NotAuthorized</SOAP-ENV:Value></SOAP-ENV:Subcode></SOAP-ENV:Code>
      <SOAP-ENV:Reason><SOAP-ENV:Text xml:lang="en">Sender not Authorized</SOAP-ENV:Text></SOAP-ENV:Reason>
    </SOAP-ENV:Fault>
  </SOAP-ENV:Body>
</SOAP-ENV:Envelope>`;
}
