import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { grafanaContract } from "@supervision/test-support";
import { Ajv } from "ajv";
import { describe, expect, it } from "vitest";
import {
  allDashboards,
  dashboardMessages,
  DATASOURCE_UID,
  GENERATED_DIR,
  KIOSK,
  KIOSK_ROWS,
  type Panel,
  renderDashboard,
  UIDS,
} from "./index.ts";

const validate = new Ajv({ allErrors: true, strict: false }).compile(grafanaContract("dashboard.jsonschema.json") as object);

describe("supervision dashboards", () => {
  const dashboards = allDashboards();

  it("are eight, with the fixed uids", () => {
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

  it("every panel target is raw InfluxQL on the data source chosen (a region's), the province's on the central one", () => {
    for (const d of dashboards) {
      const source = d.uid === UIDS.province ? { type: "influxdb", uid: DATASOURCE_UID } : { type: "influxdb", uid: "${datasource}" };
      if (d.uid !== UIDS.province)
        expect(d.templating.list[0]).toMatchObject({
          type: "datasource",
          name: "datasource",
          label: "数据源（地区）",
          query: "influxdb",
          regex: "/^Supervision InfluxDB/",
          current: { value: DATASOURCE_UID },
        });
      else expect(d.templating.list.map((v) => v.type)).toEqual(["query"]);
      for (const v of d.templating.list) if (v.type === "query") expect(v.datasource).toEqual(source);
      for (const panel of d.panels) {
        expect(panel.targets.length).toBeGreaterThan(0);
        expect(panel.datasource).toEqual(source);
        for (const t of panel.targets) {
          expect(t.datasource).toEqual(source);
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
    expect(hall?.templating.list.map((v) => v.name)).toEqual(["datasource", "region", "town", "site", "window"]);
    for (const v of hall?.templating.list ?? []) if (v.type === "query") expect(v.query).toMatch(/^SHOW TAG VALUES FROM /);
  });

  /** Problems of a grid layout: panels outside the 24 columns, below `rows`, or covering one another. */
  function layoutProblems(panels: readonly Panel[], rows: number): string[] {
    const problems: string[] = [];
    for (const p of panels) {
      const { x, y, w, h } = p.gridPos;
      if (x < 0 || w <= 0 || x + w > 24) problems.push(`${p.title}: columns ${x}..${x + w}`);
      if (y < 0 || h <= 0 || y + h > rows) problems.push(`${p.title}: rows ${y}..${y + h}`);
    }
    for (const [i, a] of panels.entries())
      for (const b of panels.slice(i + 1)) {
        const [p, q] = [a.gridPos, b.gridPos];
        if (p.x < q.x + q.w && q.x < p.x + p.w && p.y < q.y + q.h && q.y < p.y + p.h) problems.push(`${a.title} overlaps ${b.title}`);
      }
    return problems;
  }

  describe("the centre board on a 1920×1080 kiosk", () => {
    const m = dashboardMessages();
    const board = dashboards.find((d) => d.uid === UIDS.centre)!;
    const detail = dashboards.find((d) => d.uid === UIDS.centreDetail)!;

    it("is 28 grid rows at most (30 px each, 8 px apart, under 16 px of padding: 1080 px)", () => {
      expect(KIOSK_ROWS).toBe(28);
      const bottom = Math.max(...board.panels.map((p) => p.gridPos.y + p.gridPos.h));
      expect(bottom * KIOSK.rowPx + (bottom - 1) * KIOSK.marginPx + KIOSK.paddingPx).toBeLessThanOrEqual(1080);
      expect(layoutProblems(board.panels, KIOSK_ROWS)).toEqual([]);
      // The check bites: the old board (60 rows), a panel moved onto another, a panel past the 24th column.
      const [first, second] = board.panels;
      expect(layoutProblems([{ ...first!, gridPos: { ...first!.gridPos, y: 50, h: 10 } }], KIOSK_ROWS)).toHaveLength(1);
      expect(layoutProblems([first!, { ...second!, gridPos: { ...first!.gridPos } }], KIOSK_ROWS)).toHaveLength(1);
      expect(layoutProblems([{ ...first!, gridPos: { ...first!.gridPos, x: 22 } }], KIOSK_ROWS)).toHaveLength(1);
    });

    it("keeps every at-a-glance number and state block, and no list", () => {
      const t = m.centre;
      const b = m.bigScreen;
      expect(board.panels.map((p) => p.title)).toEqual([
        t.atPost.title,
        t.unattended.title,
        t.ratings.title,
        t.satisfaction.title,
        t.lateAbsent.title,
        t.integrity.title,
        b.departments.title,
        b.offlineCount.title,
        b.openCards.title,
        t.warningsWaiting.title,
        b.toVerifyCount.title,
        b.notSignedInCount.title,
        t.satisfactionByHall.title,
        t.itemsByDepartment.title,
      ]);
    });

    it("has each list it moved on the detail dashboard, one panel link from its count", () => {
      const t = m.centre;
      const b = m.bigScreen;
      // Each list on the detail dashboard, and the board's panel that counts its rows.
      const moved = [
        [t.warnings.title, t.warningsWaiting.title],
        [t.cards.title, b.openCards.title],
        [b.toVerify.title, b.toVerifyCount.title],
        [b.notSignedIn.title, b.notSignedInCount.title],
        [b.offline.title, b.offlineCount.title],
        [t.itemsNearLimit.title, t.itemsByDepartment.title],
      ];
      expect(detail.panels.map((p) => [p.title, p.type])).toEqual(moved.map(([list]) => [list, "table"]));
      expect(detail.title).toBe("监察中心明细");
      for (const [list, count] of moved) {
        expect(board.panels.map((p) => p.title)).not.toContain(list);
        const counter = board.panels.find((p) => p.title === count);
        expect(
          counter?.links?.map((l) => [l.title, l.url]),
          count,
        ).toEqual([[m.links.detail, "/d/sv-centre-detail?${__url_time_range}&${__all_variables}"]]);
      }
      // Dashboard links both ways, with the time range and the place variables.
      expect(board.links.find((l) => l.url === `/d/${UIDS.centreDetail}`)).toMatchObject({
        title: "监察中心明细",
        includeVars: true,
        keepTime: true,
      });
      expect(detail.links.find((l) => l.url === `/d/${UIDS.centre}`)).toMatchObject({
        title: m.links.centre,
        includeVars: true,
        keepTime: true,
      });
      expect(detail.templating.list.map((v) => v.name)).toEqual(board.templating.list.map((v) => v.name));
      expect(detail.time).toEqual(board.time);
    });
  });

  it("the hall links to the hub's live view page, with the dashboard's variables (var-site)", () => {
    const hall = dashboards.find((d) => d.uid === UIDS.hall)!;
    expect(hall.links.find((l) => l.url.endsWith("/live"))).toMatchObject({
      url: "http://127.0.0.1:8080/live",
      title: "实时视频",
      includeVars: true,
    });
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
