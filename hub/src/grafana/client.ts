/** A small typed client for the Grafana HTTP API endpoints the hub needs (Bearer service-account token). */

export class GrafanaHttpError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly body: string,
  ) {
    super(`Grafana ${method} ${path} answered ${status}: ${body.slice(0, 200)}`);
    this.name = "GrafanaHttpError";
  }
}

/** Grafana could not be reached at all (refused, DNS, timeout). */
export class GrafanaUnreachableError extends Error {
  constructor(url: string, cause: unknown) {
    super(`Grafana at ${url} is unreachable: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = "GrafanaUnreachableError";
  }
}

export interface Health {
  database: "ok" | "failing";
  version?: string;
  commit?: string;
}

export interface DataSourceBody {
  uid: string;
  name: string;
  type: "influxdb";
  access: "proxy";
  url: string;
  user: string;
  database?: string;
  jsonData: { dbName: string; httpMode: "GET" | "POST"; version: "InfluxQL" };
  secureJsonData?: { password: string };
  isDefault?: boolean;
}

export interface DataSource extends Omit<DataSourceBody, "secureJsonData"> {
  id: number;
  version?: number;
}

export interface Folder {
  uid: string;
  title: string;
  id?: number;
}

export interface DashboardWithMeta {
  dashboard: Record<string, unknown> & { uid: string; version?: number };
  meta: { folderUid?: string; version?: number };
}

export interface SaveDashboardResult {
  status: string;
  uid: string;
  version: number;
  id: number;
  url: string;
}

export interface SearchHit {
  uid: string;
  title: string;
  type: string;
  folderUid?: string;
}

export interface Annotation {
  text: string;
  tags: string[];
  time: number;
  dashboardUID?: string;
}

export class GrafanaClient {
  private readonly base: string;

  constructor(
    url: string,
    private readonly token: string,
    private readonly timeoutMs = 10_000,
  ) {
    this.base = url.replace(/\/+$/, "");
  }

  /** `GET /api/health`: 503 when Grafana's database fails. */
  health(): Promise<Health> {
    return this.request<Health>("GET", "/api/health");
  }

  getDataSource(uid: string): Promise<DataSource | undefined> {
    return this.orUndefined(this.request<DataSource>("GET", `/api/datasources/uid/${encodeURIComponent(uid)}`));
  }

  createDataSource(body: DataSourceBody): Promise<unknown> {
    return this.request("POST", "/api/datasources", body);
  }

  updateDataSource(uid: string, body: DataSourceBody & { version?: number }): Promise<unknown> {
    return this.request("PUT", `/api/datasources/uid/${encodeURIComponent(uid)}`, body);
  }

  getFolder(uid: string): Promise<Folder | undefined> {
    return this.orUndefined(this.request<Folder>("GET", `/api/folders/${encodeURIComponent(uid)}`));
  }

  createFolder(uid: string, title: string): Promise<Folder> {
    return this.request<Folder>("POST", "/api/folders", { uid, title });
  }

  getDashboard(uid: string): Promise<DashboardWithMeta | undefined> {
    return this.orUndefined(this.request<DashboardWithMeta>("GET", `/api/dashboards/uid/${encodeURIComponent(uid)}`));
  }

  /** `POST /api/dashboards/db` with overwrite: creates or replaces the dashboard with this uid. */
  saveDashboard(dashboard: object, folderUid: string, message: string): Promise<SaveDashboardResult> {
    return this.request<SaveDashboardResult>("POST", "/api/dashboards/db", { dashboard, folderUid, overwrite: true, message });
  }

  search(params: { query?: string; type?: "dash-db" | "dash-folder"; dashboardUIDs?: string[] }): Promise<SearchHit[]> {
    const q = new URLSearchParams();
    if (params.query !== undefined) q.set("query", params.query);
    if (params.type !== undefined) q.set("type", params.type);
    for (const uid of params.dashboardUIDs ?? []) q.append("dashboardUIDs", uid);
    return this.request<SearchHit[]>("GET", `/api/search?${q}`);
  }

  createAnnotation(annotation: Annotation): Promise<{ id: number; message: string }> {
    return this.request("POST", "/api/annotations", annotation);
  }

  private async orUndefined<T>(pending: Promise<T>): Promise<T | undefined> {
    try {
      return await pending;
    } catch (error) {
      if (error instanceof GrafanaHttpError && error.status === 404) return undefined;
      throw error;
    }
  }

  private async request<T>(method: "GET" | "POST" | "PUT", path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          accept: "application/json",
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw new GrafanaUnreachableError(this.base, error);
    }
    const text = await response.text();
    if (!response.ok) throw new GrafanaHttpError(method, path.split("?")[0] ?? path, response.status, text);
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new GrafanaHttpError(method, path, response.status, `not JSON: ${text}`);
    }
  }
}
