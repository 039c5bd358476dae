import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { grafanaContract } from "@supervision/test-support";
import { Ajv } from "ajv";
import { describe, expect, it } from "vitest";
import { allDashboards, DATASOURCE_UID, GENERATED_DIR, renderDashboard, UIDS } from "./index.ts";

const validate = new Ajv({ allErrors: true, strict: false }).compile(grafanaContract("dashboard.jsonschema.json") as object);

describe("supervision dashboards", () => {
  const dashboards = allDashboards();

  it("are six, with the fixed uids", () => {
    expect(dashboards.map((d) => d.uid)).toEqual(Object.values(UIDS));
  });

  it.each(dashboards.map((d) => [d.uid, d] as const))("%s validates against Grafana's dashboard schema", (_uid, d) => {
    const ok = validate(d);
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
  });

  it("rejects a dashboard with an unknown key or a panel wider than the grid (the validator bites)", () => {
    const [first] = allDashboards();
    expect(validate({ ...first, surprise: 1 })).toBe(false);
    const wide = structuredClone(first);
    if (wide?.panels[0]) wide.panels[0].gridPos.w = 25;
    expect(validate(wide)).toBe(false);
  });

  it("every panel target is raw InfluxQL on the supervision data source", () => {
    for (const d of dashboards) {
      for (const panel of d.panels) {
        expect(panel.targets.length).toBeGreaterThan(0);
        for (const t of panel.targets) {
          expect(t.datasource).toEqual({ type: "influxdb", uid: DATASOURCE_UID });
          expect(t.rawQuery).toBe(true);
          expect(t.query).toMatch(/^SELECT /);
        }
      }
      const ids = d.panels.map((p) => p.id);
      expect(new Set(ids).size).toBe(ids.length);
    }
  });

  it("centre links to the hall and fleet, the hall declares a window variable", () => {
    const centre = dashboards.find((d) => d.uid === UIDS.centre);
    expect(centre?.links.map((l) => l.url)).toContain(`/d/${UIDS.hall}`);
    const hall = dashboards.find((d) => d.uid === UIDS.hall);
    expect(hall?.templating.list.map((v) => v.name)).toEqual(["region", "town", "site", "window"]);
    for (const v of hall?.templating.list ?? []) expect(v.query).toMatch(/^SHOW TAG VALUES FROM /);
  });

  it("the hall links to the hub's live view page, with the dashboard's variables (var-site)", () => {
    const hall = dashboards.find((d) => d.uid === UIDS.hall)!;
    expect(hall.links.find((l) => l.url.endsWith("/live"))).toMatchObject({ url: "http://127.0.0.1:8080/live", title: "实时视频", includeVars: true });
    const elsewhere = allDashboards("en", { hubUrl: "https://hub.centre.example/" }).find((d) => d.uid === UIDS.hall)!;
    expect(elsewhere.links.map((l) => [l.title, l.url])).toContainEqual(["Live video", "https://hub.centre.example/live"]);
  });

  it("committed JSON equals a fresh generation (run `npm run -w @supervision/dashboards generate`)", () => {
    const committed = readdirSync(GENERATED_DIR)
      .filter((f) => f.endsWith(".json"))
      .sort();
    expect(committed).toEqual(dashboards.map((d) => `${d.uid}.json`).sort());
    for (const d of dashboards) {
      expect(readFileSync(join(GENERATED_DIR, `${d.uid}.json`), "utf8")).toBe(renderDashboard(d));
    }
  });
});
