import type { EventEmitter } from "node:events";
import type { InfluxDB } from "influx";
import type { Logger } from "pino";
import type { LineWriter } from "../influx/line-writer.ts";
import type { InfluxRegions } from "../influx/regions.ts";
import type { Registry as MetricsRegistry } from "prom-client";
import type { Registry } from "../registry/schema.ts";
import type { Access, Identity } from "../http/auth.ts";

/**
 * The hub is a controller that starts extensions (ingest, supervision rules, Grafana provisioning, ...), the
 * way zigbee2mqtt starts its extensions. Each gets this context and nothing else, so extensions stay
 * independent of each other and of how the hub was started.
 */
export interface HubContext {
  logger: Logger;
  /** The `supervision` database, ready (database, retention policies and continuous queries exist). */
  influx: InfluxDB;
  /** Line protocol straight to the same database: the ingest's write path (queries go through `influx`). */
  writeLines: LineWriter;
  database: string;
  /**
   * InfluxDB by region (`influx.regions`): which database holds a site's points. Absent, or with no region listed,
   * every site's points are in `influx` (the central database) as before.
   */
  regions?: InfluxRegions;
  registry: RegistryView;
  metrics: MetricsRegistry;
  http: HttpRoutes;
  events: EventEmitter<HubEvents>;
  /** The hub's clock; tests and the day simulator may replace it. */
  now(): number;
  /** Where the extension may keep files (var/hub/...). */
  dataDir: string;
  /** The hub's audit key (hub/src/audit): digests of the batch manifests and of the hub's own trail. */
  auditKey?: Buffer;
}

export interface RegistryView {
  current(): Registry;
  /** Called after every successful reload. Returns a function that unsubscribes. */
  onChange(listener: (registry: Registry) => void): () => void;
}

/** Events extensions publish for each other. */
export interface HubEvents {
  /** A supervision warning raised or cleared (rules → notifications, Grafana annotations). */
  warning: [WarningEvent];
  /** A window's, clerk's or supervisor's card changed colour. */
  card: [CardEvent];
  /** Readings just stored in InfluxDB by this hub copy. */
  stored: [{ gatewayId: string; count: number }];
  /** A gateway's status report, as this hub copy received it (the config publisher re-sends an outdated config). */
  gatewayStatus: [{ gatewayId: string; state: "online" | "offline"; configVersion?: number }];
}

export interface WarningEvent {
  ts: number;
  site: string;
  category: "people" | "equipment" | "items";
  /** `item`: an application of an approval item (subject: its application number). */
  subjectKind: "window" | "clerk" | "supervisor" | "device" | "gateway" | "item";
  subject: string;
  rule: string;
  severity: "warning" | "escalation";
  active: boolean;
  message: string;
  /** People responsible to notify besides the channels' own targets (the site's registry contacts). */
  contacts?: { name: string; phone: string }[];
  /** People an escalation goes to besides `contacts` (an approval item's department head). */
  escalationContacts?: { name: string; phone: string }[];
}

export interface CardEvent {
  ts: number;
  site: string;
  subjectKind: "window" | "clerk" | "supervisor" | "item";
  subject: string;
  color: "green" | "yellow" | "red";
  reasons: string[];
}

export interface HttpRequest {
  params: Record<string, string>;
  query: URLSearchParams;
  /** Parsed JSON body (POST), undefined when there is none. */
  body: unknown;
  /** Who called: set on every route that needs a role (what a write records as who did it); absent on PUBLIC ones. */
  identity?: Identity;
}

export interface HttpResponse {
  status: number;
  /** JSON, a string with `contentType`, a Buffer sent as it is (with `contentType`), or a Readable streamed until it ends or the client leaves (then destroyed). */
  body: unknown;
  /** Defaults to application/json. */
  contentType?: string;
}

export interface HttpRoutes {
  /**
   * Registers a handler; `path` may hold `:name` parameters, e.g. `/api/dissatisfaction/:id/verify`. `access` is
   * `requireRole("viewer" | "operator" | "administrator")` or `PUBLIC` (from `@supervision/hub`); without it a GET
   * needs a viewer token and a POST an administrator one. Anonymous or unknown tokens get 401, a lower role 403.
   */
  add(method: "GET" | "POST", path: string, handler: (req: HttpRequest) => Promise<HttpResponse>, access?: Access): void;
}

export interface HubExtension {
  readonly name: string;
  start(ctx: HubContext): Promise<void>;
  stop(): Promise<void>;
  /** A JSON summary for `hub status` and /healthz. */
  status(): Record<string, unknown>;
}
