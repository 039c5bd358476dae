import { EventEmitter } from "node:events";
import { allDashboards, DATASOURCE_UID, dashboardMessages, type Panel, UIDS } from "@supervision/dashboards";
import { freePort } from "@supervision/test-support";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import type { HubContext, HubEvents, HubExtension } from "../src/controller/extension.ts";
import { GrafanaClient } from "../src/grafana/client.ts";
import { createGrafanaExtension, GrafanaSettings } from "../src/grafana/index.ts";
import { FOLDER_UID } from "../src/grafana/provision.ts";
import type { Registry } from "../src/registry/schema.ts";
import { type ContractGrafana, startContractGrafana } from "./grafana-contract-server.ts";
import { dayRegistry } from "./grafana-day-fixture.ts";

const TOKEN = "glsa_test_token";
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A registry view holding `registry`, whose `reload` tells the listeners as a hot reload does. */
function registryView(initial: Registry = dayRegistry()) {
  let current = initial;
  const listeners = new Set<(r: Registry) => void>();
  return {
    current: () => current,
    onChange(listener: (r: Registry) => void) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    reload(next: Registry) {
      current = next;
      for (const l of listeners) l(next);
    },
  };
}

/** The extension only uses the logger, the event bus and the registry (for names); the rest of the hub is not needed here. */
function context(registry = registryView()): HubContext & { events: EventEmitter<HubEvents> } {
  const events = new EventEmitter<HubEvents>();
  return { logger: pino({ level: "silent" }), events, registry } as unknown as HubContext & { events: EventEmitter<HubEvents> };
}

async function grafana(port?: number): Promise<ContractGrafana> {
  const server = await startContractGrafana({ port: port ?? (await freePort()), token: TOKEN });
  cleanups.push(() => server.close());
  return server;
}

async function started(url: string, token = TOKEN, ctx = context()): Promise<{ ext: HubExtension; ctx: ReturnType<typeof context> }> {
  const ext = createGrafanaExtension({
    url,
    serviceAccountToken: token,
    retryIntervalMs: 50,
    datasource: { url: "http://influxdb:8086", database: "supervision", user: "grafana", password: "secret" },
  });
  await ext.start(ctx);
  cleanups.push(() => ext.stop());
  return { ext, ctx };
}

async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("grafana provisioning against the API contract", () => {
  it("first provisioning creates the data source, the folder and all the dashboards", async () => {
    const server = await grafana();
    const { ext } = await started(server.url);
    await until(() => ext.status().state === "ready", "ready");

    expect(server.violations).toEqual([]);
    const ds = server.dataSources.get(DATASOURCE_UID);
    expect(ds).toMatchObject({
      type: "influxdb",
      access: "proxy",
      url: "http://influxdb:8086",
      user: "grafana",
      jsonData: { dbName: "supervision", version: "InfluxQL" },
    });
    expect(server.folders.get(FOLDER_UID)?.title).toBe("Supervision");
    expect([...server.dashboards.keys()].sort()).toEqual(Object.values(UIDS).sort());
    for (const stored of server.dashboards.values()) expect(stored.folderUid).toBe(FOLDER_UID);
    expect(ext.status()).toMatchObject({
      state: "ready",
      lastReport: { grafanaVersion: "12.3.3", datasource: "created", folder: "created" },
    });
  });

  it("tables show the registry's names, not ids, and a registry reload provisions the new names", async () => {
    const server = await grafana();
    const registry = registryView();
    const { ext } = await started(server.url, TOKEN, context(registry));
    await until(() => ext.status().state === "ready", "ready");
    // The hall's "who is signed in" table: its window and person columns, as the provisioned dashboard declares them.
    const columns = () => {
      const panel = (server.dashboards.get(UIDS.hall)?.dashboard as { panels?: Panel[] } | undefined)?.panels?.[0];
      const shown: Record<string, { displayName?: string; mappings?: Record<string, string> }> = {};
      for (const o of panel?.fieldConfig.overrides ?? []) {
        const column: { displayName?: string; mappings?: Record<string, string> } = {};
        for (const p of o.properties) {
          if (p.id === "displayName") column.displayName = p.value;
          else if (p.id === "mappings")
            column.mappings = Object.fromEntries(Object.entries(p.value[0]?.options ?? {}).map(([k, v]) => [k, v.text]));
        }
        shown[o.matcher.options] = column;
      }
      return shown;
    };
    expect(columns()).toEqual({
      window: { displayName: "窗口", mappings: { w1: "Window 1", w2: "Window 2" } },
      person: { displayName: "人员", mappings: { c1: "Clerk One", c2: "Clerk Two", s1: "Supervisor One", s2: "Supervisor Two" } },
    });
    const renamed = dayRegistry();
    renamed.people.set("c1", { ...renamed.people.get("c1")!, name: "李娜" });
    registry.reload(renamed);
    await until(() => columns().person?.mappings?.c1 === "李娜", "the new name provisioned");
    expect(server.violations).toEqual([]);
  });

  it("a second run changes nothing: no writes at all", async () => {
    const server = await grafana();
    const first = await started(server.url);
    await until(() => first.ext.status().state === "ready", "first ready");
    const writesBefore = server.writes().length;

    const second = await started(server.url);
    await until(() => second.ext.status().state === "ready", "second ready");
    expect(server.writes().length).toBe(writesBefore);
    expect(second.ext.status()).toMatchObject({ lastReport: { datasource: "unchanged", folder: "unchanged" } });
    expect(server.violations).toEqual([]);
  });

  it("a dashboard someone edited in our folder is put back; the data source is updated when settings change", async () => {
    const server = await grafana();
    const first = await started(server.url);
    await until(() => first.ext.status().state === "ready", "ready");
    const hall = server.dashboards.get(UIDS.hall);
    if (hall) hall.dashboard.title = "Edited by hand";

    const ext = createGrafanaExtension({ url: server.url, serviceAccountToken: TOKEN, datasource: { url: "http://influx2:8086" } });
    await ext.start(context());
    cleanups.push(() => ext.stop());
    await until(() => ext.status().state === "ready", "ready again");
    expect(server.dashboards.get(UIDS.hall)?.dashboard.title).toBe(dashboardMessages().hall.title);
    expect(server.dashboards.get(UIDS.hall)?.version).toBe(2);
    expect(server.dashboards.get(UIDS.centre)?.version).toBe(1);
    expect(server.dataSources.get(DATASOURCE_UID)?.url).toBe("http://influx2:8086");
    expect(server.violations).toEqual([]);
  });

  it("Grafana down at first, then up: provisioned after retry, hub keeps running meanwhile", async () => {
    const port = await freePort();
    const { ext } = await started(`http://127.0.0.1:${port}`);
    await until(() => ext.status().state === "retrying", "retrying");
    expect(String(ext.status().lastError)).toMatch(/unreachable/);

    const server = await grafana(port);
    await until(() => ext.status().state === "ready", "ready after retry");
    expect(server.dashboards.size).toBe(Object.values(UIDS).length);
    expect(server.violations).toEqual([]);
  });

  it("Grafana with a failing database (health 503) is retried without writes until it recovers", async () => {
    const server = await grafana();
    server.setDatabaseFailing(true);
    const { ext } = await started(server.url);
    await until(() => ext.status().state === "retrying", "retrying");
    expect(String(ext.status().lastError)).toMatch(/503/);
    expect(server.writes()).toEqual([]);
    server.setDatabaseFailing(false);
    await until(() => ext.status().state === "ready", "ready after recovery");
    expect(server.dashboards.size).toBe(Object.values(UIDS).length);
  });

  it("a user-made dashboard in another folder is left untouched", async () => {
    const server = await grafana();
    const client = new GrafanaClient(server.url, TOKEN);
    await client.createFolder("mine", "My dashboards");
    const [centre] = allDashboards();
    const copy = { ...centre, uid: "my-centre-copy", title: "My centre copy" };
    await client.saveDashboard(copy, "mine", "user copy");

    const { ext } = await started(server.url);
    await until(() => ext.status().state === "ready", "ready");
    const stored = server.dashboards.get("my-centre-copy");
    expect(stored).toMatchObject({ version: 1, folderUid: "mine" });
    expect(stored?.dashboard).toEqual(copy);
    // The user's copy and each of ours.
    expect(server.writes().filter((w) => w === "POST /api/dashboards/db")).toHaveLength(1 + Object.values(UIDS).length);
    const hits = await client.search({ type: "dash-db", dashboardUIDs: ["my-centre-copy", UIDS.centre] });
    expect(hits.map((h) => [h.uid, h.folderUid]).sort()).toEqual(
      [
        ["my-centre-copy", "mine"],
        [UIDS.centre, FOLDER_UID],
      ].sort(),
    );
    expect(server.violations).toEqual([]);
  });

  it("warnings and cards become annotations, also those raised while Grafana was down", async () => {
    const port = await freePort();
    const { ext, ctx } = await started(`http://127.0.0.1:${port}`);
    ctx.events.emit("warning", {
      ts: 1_700_000_000_000,
      site: "hall-1",
      category: "people",
      subjectKind: "window",
      subject: "w3",
      rule: "unattended",
      severity: "warning",
      active: true,
      message: "window 3 unattended for 12 min",
    });
    await until(() => ext.status().annotationsPending === 1, "queued");

    const server = await grafana(port);
    await until(() => ext.status().state === "ready", "ready");
    ctx.events.emit("card", {
      ts: 1_700_000_060_000,
      site: "hall-1",
      subjectKind: "clerk",
      subject: "c7",
      color: "yellow",
      reasons: ["late twice", "unattended"],
    });
    // The server has both before the extension has read the second answer: wait for its count too.
    await until(() => server.annotations.length === 2 && ext.status().annotationsPosted === 2, "two annotations posted");

    expect(server.annotations[0]).toMatchObject({
      time: 1_700_000_000_000,
      tags: expect.arrayContaining(["supervision", "warning", "site:hall-1"]),
    });
    expect(server.annotations[0]?.text).toContain("window 3 unattended");
    expect(server.annotations[1]).toMatchObject({ time: 1_700_000_060_000, text: "yellow card for clerk c7: late twice; unattended" });
    expect(ext.status()).toMatchObject({ annotationsPosted: 2, annotationsPending: 0 });
    expect(server.violations).toEqual([]);
  });

  it("a bad token gives a clear error in status and writes nothing", async () => {
    const server = await grafana();
    const { ext } = await started(server.url, "glsa_wrong");
    await until(() => ext.status().state === "unauthorized", "unauthorized");
    expect(String(ext.status().lastError)).toMatch(/rejected the service-account token \(401\).*serviceAccountToken/);
    expect(server.dashboards.size).toBe(0);
    expect(server.dataSources.size).toBe(0);
  });

  it("without url or token the extension is disabled and says so", async () => {
    const ext = createGrafanaExtension({});
    await ext.start(context());
    expect(ext.status()).toEqual({ state: "disabled", reason: "grafana url or serviceAccountToken not configured" });
    await ext.stop();
  });
});

describe("grafana settings and hostile answers", () => {
  it("rejects malformed, unknown and oversized settings with a zod error", () => {
    expect(GrafanaSettings.safeParse({ url: "not a url" }).success).toBe(false);
    expect(GrafanaSettings.safeParse({ surprise: true }).success).toBe(false);
    expect(GrafanaSettings.safeParse({ folderTitle: "x".repeat(201) }).success).toBe(false);
    expect(GrafanaSettings.safeParse({ retryIntervalMs: -1 }).success).toBe(false);
    expect(GrafanaSettings.parse({}).datasource.database).toBe("supervision");
  });

  it("the contract server refuses requests outside the spec (its checks bite)", async () => {
    const server = await grafana();
    const post = (path: string, body: unknown) =>
      fetch(`${server.url}${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    expect((await post("/api/folders", { uid: "f", title: "t", colour: "red" })).status).toBe(400);
    expect((await post("/api/annotations", { tags: ["x"] })).status).toBe(400);
    expect((await post("/api/dashboards/db", { dashboard: { title: "no schemaVersion" }, overwrite: true })).status).toBe(400);
    expect((await post("/api/no-such-endpoint", {})).status).toBe(400);
    expect(server.violations).toHaveLength(4);
  });

  it("a Grafana answering garbage or 500 leaves the extension retrying, not crashed", async () => {
    const { createServer } = await import("node:http");
    const port = await freePort();
    let calls = 0;
    const liar = createServer((_req, res) => {
      calls++;
      if (calls % 2 === 0) res.writeHead(500).end("boom");
      else res.writeHead(200, { "content-type": "application/json" }).end("{not json");
    });
    await new Promise<void>((resolve) => liar.listen(port, "127.0.0.1", resolve));
    cleanups.push(() => new Promise<void>((resolve) => liar.close(() => resolve())));
    const { ext } = await started(`http://127.0.0.1:${port}`);
    // The second answer may still be on its way when the server has counted it: wait for the retry state too.
    await until(() => calls >= 2 && ext.status().state === "retrying", "two attempts, then retrying");
    expect(ext.status().state).toBe("retrying");
    expect(String(ext.status().lastError)).toMatch(/not JSON|500/);
  });
});
