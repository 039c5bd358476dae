/**
 * A stand-in Grafana for contract tests: checks every request strictly against Grafana's published HTTP API
 * (api-merged.json; dashboards against dashboard.jsonschema.json), answers like the real server (the README's
 * notes on where they differ) and keeps state. Violations are recorded and answered 400.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { Ajv, type ValidateFunction } from "ajv";
import addFormats from "ajv-formats";
import { grafanaContract } from "@supervision/test-support";

interface SwaggerParameter {
  name: string;
  in: "path" | "query" | "body" | "header" | "formData";
  required?: boolean;
  schema?: { $ref?: string };
}
type SwaggerOperation = { parameters?: SwaggerParameter[] };
interface Swagger {
  basePath: string;
  paths: Record<string, Record<string, SwaggerOperation>>;
  definitions: Record<string, unknown>;
}

const spec = grafanaContract("api-merged.json") as Swagger;

/** Strict request checking: an object schema with declared properties accepts no others. */
function strictify(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(strictify);
  if (node === null || typeof node !== "object") return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node))
    out[key] =
      key === "properties" ? Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, strictify(v)])) : strictify(value);
  if (out.properties !== undefined && out.additionalProperties === undefined) out.additionalProperties = false;
  return out;
}

const ajv = new Ajv({ allErrors: true, strict: false });
addFormats.default(ajv);
for (const format of ["int64", "int32", "uint64", "double", "float"]) ajv.addFormat(format, true);
const definitions = strictify(spec.definitions);
const bodyValidators = new Map<string, ValidateFunction>();
function bodyValidator(ref: string): ValidateFunction {
  let validate = bodyValidators.get(ref);
  if (validate === undefined) {
    validate = ajv.compile({ $ref: ref, definitions });
    bodyValidators.set(ref, validate);
  }
  return validate;
}
const dashboardAjv = new Ajv({ allErrors: true, strict: false });
addFormats.default(dashboardAjv);
const dashboardValidator = dashboardAjv.compile(grafanaContract("dashboard.jsonschema.json") as object);

interface Route {
  method: string;
  template: string;
  pattern: RegExp;
  params: string[];
  operation: SwaggerOperation;
}
const routes: Route[] = Object.entries(spec.paths).flatMap(([template, operations]) =>
  Object.entries(operations)
    .filter(([method]) => method !== "parameters")
    .map(([method, operation]) => {
      const params: string[] = [];
      const source = template.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\\?\{([^}]+)\\?\}/g, (_m, name: string) => {
        params.push(name);
        return "([^/]+)";
      });
      return { method: method.toUpperCase(), template, pattern: new RegExp(`^${spec.basePath}${source}$`), params, operation };
    }),
);

/** Finds the spec operation; literal paths win over templated ones (e.g. /folders/id/{id} vs /folders/{uid}). */
function match(method: string, path: string): { route: Route; values: Record<string, string> } | undefined {
  const candidates = routes.filter((r) => r.method === method && r.pattern.test(path)).sort((a, b) => a.params.length - b.params.length);
  const route = candidates[0];
  if (route === undefined) return undefined;
  const groups = route.pattern.exec(path)?.slice(1) ?? [];
  return { route, values: Object.fromEntries(route.params.map((name, i) => [name, decodeURIComponent(groups[i] ?? "")])) };
}

interface StoredDashboard {
  id: number;
  version: number;
  folderUid: string;
  dashboard: Record<string, unknown>;
}

export interface ContractGrafana {
  url: string;
  port: number;
  /** Requests that broke the contract; tests expect none. */
  violations: string[];
  /** Every request as "METHOD /path". */
  requests: string[];
  writes(): string[];
  /** Makes /api/health answer 503 {database:"failing"}, as Grafana does when its own database fails. */
  setDatabaseFailing(failing: boolean): void;
  dataSources: Map<string, Record<string, unknown>>;
  folders: Map<string, { id: number; uid: string; title: string }>;
  dashboards: Map<string, StoredDashboard>;
  annotations: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

export async function startContractGrafana(options: { port: number; token: string }): Promise<ContractGrafana> {
  let nextId = 1;
  let databaseFailing = false;
  const state: Omit<ContractGrafana, "url" | "port" | "close" | "writes" | "setDatabaseFailing"> = {
    violations: [],
    requests: [],
    dataSources: new Map(),
    folders: new Map(),
    dashboards: new Map(),
    annotations: [],
  };

  function check(method: string, url: URL, body: unknown): { error?: string; route?: Route; values: Record<string, string> } {
    if (method === "GET" && url.pathname === "/api/health") return { values: {} }; // not in the spec (README note 4)
    const found = match(method, url.pathname);
    if (found === undefined) return { error: `${method} ${url.pathname} is not in Grafana's API`, values: {} };
    const parameters = found.route.operation.parameters ?? [];
    const known = new Set(parameters.filter((p) => p.in === "query").map((p) => p.name));
    for (const key of url.searchParams.keys())
      if (!known.has(key)) return { error: `unknown query parameter ${key} on ${found.route.template}`, values: {} };
    for (const p of parameters) {
      if (p.in === "query" && p.required && !url.searchParams.has(p.name)) return { error: `missing query ${p.name}`, values: {} };
      if (p.in === "path" && !found.values[p.name]) return { error: `missing path parameter ${p.name}`, values: {} };
    }
    const bodyParam = parameters.find((p) => p.in === "body");
    if (bodyParam === undefined && body !== undefined) return { error: `${found.route.template} takes no body`, values: {} };
    if (bodyParam?.schema?.$ref !== undefined) {
      if (body === undefined && bodyParam.required) return { error: "missing body", values: {} };
      const validate = bodyValidator(bodyParam.schema.$ref);
      if (body !== undefined && !validate(body))
        return { error: `${method} ${found.route.template} body: ${ajv.errorsText(validate.errors)}`, values: {} };
    }
    if (found.route.template === "/dashboards/db") {
      const dashboard = (body as { dashboard?: unknown }).dashboard;
      if (!dashboardValidator(dashboard)) return { error: `dashboard: ${dashboardAjv.errorsText(dashboardValidator.errors)}`, values: {} };
    }
    return { route: found.route, values: found.values };
  }

  function answer(
    method: string,
    template: string | undefined,
    values: Record<string, string>,
    url: URL,
    body: Record<string, unknown>,
  ): [number, unknown] {
    switch (`${method} ${template ?? url.pathname}`) {
      case "GET /api/health":
        return databaseFailing
          ? [503, { database: "failing", version: "12.3.3", commit: "contract" }]
          : [200, { database: "ok", version: "12.3.3", commit: "contract" }];
      case "GET /datasources/uid/{uid}": {
        const ds = state.dataSources.get(values.uid ?? "");
        return ds ? [200, ds] : [404, { message: "Data source not found" }];
      }
      case "POST /datasources": {
        const uid = String(body.uid ?? `ds${nextId}`);
        if (state.dataSources.has(uid)) return [409, { message: "data source with the same uid already exists" }];
        const { secureJsonData: _secret, ...readable } = body;
        const ds = { ...readable, uid, id: nextId++, version: 1, secureJsonFields: { password: true } };
        state.dataSources.set(uid, ds);
        return [200, { datasource: ds, id: ds.id, message: "Datasource added", name: body.name }];
      }
      case "PUT /datasources/uid/{uid}": {
        const old = state.dataSources.get(values.uid ?? "");
        if (!old) return [404, { message: "Data source not found" }];
        const { secureJsonData: _secret, ...readable } = body;
        const ds = { ...readable, uid: old.uid, id: old.id, version: Number(old.version) + 1, secureJsonFields: { password: true } };
        state.dataSources.set(String(old.uid), ds);
        return [200, { datasource: ds, id: ds.id, message: "Datasource updated", name: body.name }];
      }
      case "GET /folders/{folder_uid}": {
        const folder = state.folders.get(values.folder_uid ?? "");
        return folder
          ? [200, { ...folder, url: `/dashboards/f/${folder.uid}/` }]
          : [404, { message: "folder not found", status: "not-found" }];
      }
      case "POST /folders": {
        const uid = String(body.uid);
        if (state.folders.has(uid)) return [409, { message: "a folder with the same uid already exists" }];
        const folder = { id: nextId++, uid, title: String(body.title) };
        state.folders.set(uid, folder);
        return [200, folder];
      }
      case "GET /dashboards/uid/{uid}": {
        const stored = state.dashboards.get(values.uid ?? "");
        if (!stored) return [404, { message: "Dashboard not found" }];
        return [
          200,
          {
            dashboard: { ...stored.dashboard, id: stored.id, version: stored.version },
            meta: { folderUid: stored.folderUid, version: stored.version, slug: "x" },
          },
        ];
      }
      case "POST /dashboards/db": {
        const dashboard = body.dashboard as Record<string, unknown>;
        const uid = String(dashboard.uid);
        const old = state.dashboards.get(uid);
        if (old && body.overwrite !== true)
          return [412, { message: "The dashboard has been changed by someone else", status: "version-mismatch" }];
        const folderUid = String(body.folderUid ?? "");
        if (folderUid !== "" && !state.folders.has(folderUid)) return [400, { message: "folder not found" }];
        const stored = { id: old?.id ?? nextId++, version: (old?.version ?? 0) + 1, folderUid, dashboard: structuredClone(dashboard) };
        state.dashboards.set(uid, stored);
        return [200, { status: "success", slug: uid, version: stored.version, id: stored.id, uid, url: `/d/${uid}/${uid}` }];
      }
      case "GET /search": {
        const wanted = url.searchParams.getAll("dashboardUIDs");
        const hits = [...state.dashboards.entries()]
          .filter(([uid]) => wanted.length === 0 || wanted.includes(uid))
          .map(([uid, d]) => ({ id: d.id, uid, title: d.dashboard.title, type: "dash-db", folderUid: d.folderUid }));
        return [200, hits];
      }
      case "POST /annotations": {
        const id = nextId++;
        state.annotations.push({ ...body, id });
        return [200, { id, message: "Annotation added" }];
      }
      default:
        return [501, { message: `contract server does not implement ${method} ${template}` }];
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? "GET";
    const url = new URL(req.url ?? "/", "http://grafana.test");
    state.requests.push(`${method} ${url.pathname}`);
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const send = (status: number, payload: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(payload));
    };
    if (req.headers.authorization !== `Bearer ${options.token}`) return send(401, { message: "Unauthorized" });
    let body: unknown;
    if (chunks.length > 0) {
      if (req.headers["content-type"] !== "application/json")
        return violation(send, `${method} ${url.pathname}: body without content-type application/json`);
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        return violation(send, `${method} ${url.pathname}: body is not JSON`);
      }
    }
    const checked = check(method, url, body);
    if (checked.error !== undefined) return violation(send, checked.error);
    const [status, payload] = answer(method, checked.route?.template, checked.values, url, (body ?? {}) as Record<string, unknown>);
    send(status, payload);
  }

  function violation(send: (status: number, payload: unknown) => void, message: string): void {
    state.violations.push(message);
    send(400, { message });
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      state.violations.push(`server error: ${String(error)}`);
      res.writeHead(500).end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, "127.0.0.1", resolve);
  });
  return {
    ...state,
    url: `http://127.0.0.1:${options.port}`,
    port: options.port,
    setDatabaseFailing: (failing: boolean) => {
      databaseFailing = failing;
    },
    writes: () => state.requests.filter((r) => !r.startsWith("GET ")),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
