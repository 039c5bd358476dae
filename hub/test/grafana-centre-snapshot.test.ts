/**
 * A warning row's snapshot on the centre's detail dashboard, on a real influxd with the real supervision rules: an
 * unattended window's warning carries the camera and hash of its evidence (the gateway's snapshot when the last motion
 * ended, then the one the hub's cameras extension takes for the warning, `camera_snapshot` with its `warning_ts`), the
 * warnings table's query returns them on the warning's row, and the row's link is the hub's evidence page for them.
 */
import { allDashboards, UIDS } from "@supervision/dashboards";
import { localTimeToUtc, type Reading } from "@supervision/firmware-protocols";
import { startInfluxd, type TestInfluxd } from "@supervision/test-support";
import { InfluxDB } from "influx";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { snapshotPageLink } from "../src/cameras/index.ts";
import { ns } from "../src/influx/query.ts";
import { ensureDatabase } from "../src/influx/setup.ts";
import type { Registry } from "../src/registry/schema.ts";
import { schemaPoint } from "../src/schema/index.ts";
import { placementOf } from "../src/supervision/day.ts";
import { judge, writeReadings } from "./supervision-fixtures.ts";

const TZ = "Asia/Shanghai";
const DAY = "2026-11-25"; // a Wednesday
const at = (hhmm: string) => localTimeToUtc(DAY, hhmm, TZ);
const AT_MOTION_END = "5e".repeat(32);
const AT_WARNING = "a7".repeat(32);
const HUB = "https://hub.centre.example";

const office = {
  id: "office",
  shifts: [
    { start: "09:00", end: "12:00" },
    { start: "13:30", end: "17:30" },
  ],
  workingDays: ["mon", "tue", "wed", "thu", "fri"] as ("mon" | "tue" | "wed" | "thu" | "fri")[],
  graceMinutes: 5,
  absentAfterMinutes: 60,
  holidays: [] as string[],
  workdays: [] as string[],
  exceptions: [],
};
const registry: Registry = {
  version: 1,
  regions: new Map([["east", { id: "east", name: "East" }]]),
  towns: new Map([["riverside", { id: "riverside", name: "Riverside", region: "east" }]]),
  departments: new Map([["tax", { id: "tax", name: "Tax" }]]),
  sites: new Map([["hall-1", { id: "hall-1", kind: "hall", name: "Hall", town: "riverside", tz: TZ, gateway: "gw-1" }]]),
  windows: new Map([["w2", { id: "w2", site: "hall-1", name: "Window 2", department: "tax", unattendedAfterMinutes: 30 }]]),
  people: new Map([
    ["c2", { id: "c2", name: "Clerk 2", role: "clerk" as const, post: "clerk", site: "hall-1", window: "w2", roster: "office" }],
  ]),
  rosters: new Map([["office", office]]),
  gateways: new Map(),
  devices: new Map<string, unknown>([
    ["term1", { id: "term1", kind: "terminal", site: "hall-1", heartbeatS: 60, scale: "four" }],
    ["cam2", { id: "cam2", kind: "camera", site: "hall-1", window: "w2", cameraId: "cam2", heartbeatS: 300, scale: "four" }],
  ]) as Registry["devices"],
};

let seq = 0;
const signin = (ts: number, direction: "in" | "out"): Reading => ({
  kind: "signin",
  deviceId: "term1",
  seq: ++seq,
  ts,
  rxTs: ts,
  personId: "c2",
  method: "card",
  direction,
});
const motion = (ts: number, state: "start" | "end", sha?: string): Reading => ({
  kind: "motion",
  deviceId: "cam2",
  seq: ++seq,
  ts,
  rxTs: ts,
  cameraId: "cam2",
  state,
  source: "onvif",
  ...(sha ? { snapshotSha256: sha } : {}),
});

let influxd: TestInfluxd;
let influx: InfluxDB;

beforeAll(async () => {
  influxd = await startInfluxd();
  influx = new InfluxDB({ host: "127.0.0.1", port: influxd.port, database: "supervision" });
  await ensureDatabase(influx, "supervision", pino({ level: "silent" }));
  const heartbeats: Reading[] = [];
  for (let t = at("08:50"); t <= at("17:40"); t += 5 * 60_000)
    heartbeats.push({ kind: "heartbeat", deviceId: "cam2", seq: ++seq, ts: t, rxTs: t, intervalS: 300, uptimeS: 1 });
  // Window 2: nobody seen from 10:00 to 10:40 (the gateway kept a snapshot when the motion ended), staffed otherwise.
  await writeReadings(influx, registry, [
    signin(at("08:55"), "in"),
    signin(at("12:01"), "out"),
    signin(at("13:25"), "in"),
    signin(at("17:35"), "out"),
    ...heartbeats,
    motion(at("08:58"), "start"),
    motion(at("10:00"), "end", AT_MOTION_END),
    motion(at("10:40"), "start"),
    motion(at("12:00"), "end"),
    motion(at("13:26"), "start"),
    motion(at("17:33"), "end"),
  ]);
}, 60_000);
afterAll(() => influxd?.close());

const detail = allDashboards("en", { hubUrl: `${HUB}/` }).find((d) => d.uid === UIDS.centreDetail)!;
const warningsPanel = detail.panels.find((p) => p.title === "Warnings today and their handling")!;

/** The warnings table's rows as Grafana asks for them over the scripted day (every place), keyed by column. */
async function warningRows(): Promise<Record<string, unknown>[]> {
  const query = warningsPanel.targets[0]!.query.replaceAll("$timeFilter", `time >= ${at("00:00")}ms AND time < ${at("23:59")}ms`).replace(
    /\$(region|town|site)\b/g,
    ".*",
  );
  const answer = await influxd.query(query, "supervision");
  expect(answer.results[0]?.error).toBeUndefined();
  return (answer.results[0]?.series ?? []).flatMap((s) =>
    s.values.map((v) => ({ ...s.tags, ...Object.fromEntries(s.columns.map((c, i) => [c, v[i]])) })),
  );
}

/** The warnings table's snapshot link with a row's fields put in, as Grafana does for `${__data.fields.NAME}`. */
function linkOf(row: Record<string, unknown>): string {
  const override = warningsPanel.fieldConfig.overrides.find((o) => o.matcher.options === "snapshot_sha256");
  const links = override?.properties.find((p) => p.id === "links")?.value;
  expect(Array.isArray(links) && links).toHaveLength(1);
  const url = (links as { url: string }[])[0]!.url;
  return url.replace(/\$\{__data\.fields\.([a-z_0-9]+)\}/g, (_, field: string) => String(row[field]));
}

describe("a warning row's snapshot on the centre's detail dashboard", () => {
  it("links the unattended window's warning to its evidence: the motion end's snapshot, then the hub's for the warning", async () => {
    await judge({ influx, registry, now: at("18:00") });
    // Two warnings today: the window's, and its camera silent since its last heartbeat at 17:40 (no snapshot: its
    // snapshot columns are empty, so its row has nothing to click).
    const rows = await warningRows();
    expect(rows.map((r) => [r.rule, r.subject, r.snapshot_device, r.snapshot_sha256]).sort()).toEqual([
      ["offline", "cam2", null, null],
      ["unattended", "w2", "cam2", AT_MOTION_END],
    ]);
    const first = rows.find((r) => r.rule === "unattended");
    expect(first).toMatchObject({ time: at("10:00"), subject_kind: "window", handling: "open" });
    expect(linkOf(first!)).toBe(`${HUB}${snapshotPageLink("cam2", AT_MOTION_END)}`);

    // The hub's cameras extension takes a snapshot for the warning and records it as its `record` does; the next
    // rules run writes it on the warning, whose row now links it.
    const site = registry.sites.get("hall-1")!;
    await influx.writePoints(
      [
        schemaPoint(
          "camera_snapshot",
          ns(at("10:31")),
          { ...placementOf(registry, site), window: "w2", device: "cam2", reason: "unattended" },
          { sha256: AT_WARNING, warning_ts: at("10:00") },
        ),
      ],
      { retentionPolicy: "raw", precision: "n" },
    );
    await judge({ influx, registry, now: at("18:00") });
    const again = (await warningRows()).find((r) => r.rule === "unattended");
    expect(again).toMatchObject({ time: at("10:00"), subject: "w2", snapshot_device: "cam2", snapshot_sha256: AT_WARNING });
    expect(linkOf(again!)).toBe(`${HUB}/cameras/snapshot?device=cam2&sha256=${AT_WARNING}`);
  });

  it("shows the snapshot's columns under the catalogue's headers, the link in the dashboard's language", () => {
    const zh = allDashboards()
      .find((d) => d.uid === UIDS.centreDetail)!
      .panels.find((p) => p.title === "今日预警及处置")!;
    const shown = Object.fromEntries(
      zh.fieldConfig.overrides
        .filter((o) => o.matcher.options.startsWith("snapshot_"))
        .map((o) => [o.matcher.options, o.properties.map((p) => (p.id === "links" ? p.value.map((l) => l.title) : p.value))]),
    );
    expect(shown).toEqual({
      snapshot_device: ["截图摄像机"],
      snapshot_sha256: ["现场截图", ["查看现场截图"]],
    });
    // Grafana's default hub address unless told (the hub's http.host and http.port defaults).
    const url = (
      zh.fieldConfig.overrides.find((o) => o.matcher.options === "snapshot_sha256")!.properties[1]!.value as { url: string }[]
    )[0]!.url;
    expect(url).toBe(
      "http://127.0.0.1:8080/cameras/snapshot?device=${__data.fields.snapshot_device}&sha256=${__data.fields.snapshot_sha256}",
    );
  });
});
