import { readFileSync } from "node:fs";
import type { Reading } from "@supervision/firmware-protocols";
import { INFLUXQL, type Measurement, MEASUREMENT, MEASUREMENTS, measurementsIn, POLICIES, schemaPoint } from "@supervision/hub/schema";
import { describe, expect, it } from "vitest";
import { deadLetterPoint } from "../src/influx/dead-letters.ts";
import { continuousQueries, RETENTION_POLICIES } from "../src/influx/setup.ts";
import { ROLLUPS } from "../src/rollup/gather.ts";
import { gatewayHealthPoint, integrityAlertPoint, readingToPoint, retentionPolicyFor, uplinkBatchPoint } from "../src/ingest/points.ts";
import { rating, testRegistry } from "./ingest-fixtures.ts";

const SCHEMA_MD = readFileSync(new URL("../SCHEMA.md", import.meta.url), "utf8");
const names = Object.keys(MEASUREMENTS) as Measurement[];

/** Each measurement's text in SCHEMA.md (its `### \`name\`` section or its table row) and the policy of the part it is in. */
function documented(): Map<string, { text: string; policy: string | undefined }> {
  const out = new Map<string, { text: string; policy: string | undefined }>();
  let policy: string | undefined;
  let section: { name: string; lines: string[] } | undefined;
  const close = () => {
    if (section) out.set(section.name, { text: section.lines.join("\n"), policy });
    section = undefined;
  };
  for (const line of SCHEMA_MD.split("\n")) {
    if (line.startsWith("## ")) {
      close();
      policy = /policy `(\w+)`/.exec(line)?.[1];
      continue;
    }
    const heading = /^### `(\w+)`/.exec(line);
    if (heading) {
      close();
      section = { name: heading[1]!, lines: [] };
      continue;
    }
    const row = /^\| `(\w+)`/.exec(line);
    if (row && policy) out.set(row[1]!, { text: line, policy });
    else section?.lines.push(line);
  }
  close();
  return out;
}

describe("the schema module and hub/SCHEMA.md", () => {
  const doc = documented();

  it.each(names)("SCHEMA.md documents %s with its policy, every tag and every field", (m) => {
    const entry = doc.get(m);
    expect(entry, `SCHEMA.md has no section or table row for ${m}`).toBeDefined();
    expect(entry!.policy).toBe(MEASUREMENTS[m].policy);
    const missing = [...MEASUREMENTS[m].tags, ...MEASUREMENTS[m].fields].filter((c) => !new RegExp(`\\b${c}\\b`).test(entry!.text));
    expect(missing).toEqual([]);
  });

  it("SCHEMA.md documents no measurement the module lacks", () => {
    expect([...doc.keys()].filter((m) => !(m in MEASUREMENTS))).toEqual([]);
  });

  it("the database has the module's policies, and the continuous queries fill its rollups from its raw series", () => {
    expect(RETENTION_POLICIES.map((rp) => rp.name)).toEqual([...POLICIES]);
    const filled = continuousQueries("supervision").map((cq) => /INTO "supervision"\."(\w+)"\."(\w+)"/.exec(cq.query)!.slice(1));
    expect(filled.map(([policy, m]) => `${policy}.${m}`).sort()).toEqual(
      measurementsIn("rollup")
        .filter((m) => !m.startsWith("province_"))
        .map((m) => `rollup.${m}`)
        .sort(),
    );
    // The province rollups are gathered across servers by `hub rollup` instead (src/rollup/gather.ts).
    expect(ROLLUPS.map((r) => r.into).sort()).toEqual(
      measurementsIn("rollup")
        .filter((m) => m.startsWith("province_"))
        .sort(),
    );
  });
});

describe("the ingest writes only what the schema declares", () => {
  const { registry } = testRegistry();
  const T = 1_763_800_000_123;
  const readings: Reading[] = [
    rating(1, T),
    {
      kind: "signin",
      v: 1,
      deviceId: "term1",
      seq: 2,
      ts: T,
      rxTs: T,
      personId: "p1",
      method: "card",
      direction: "in",
      location: { lat: 1, lon: 2, accuracyM: 3 },
    } as Reading,
    { kind: "motion", v: 1, deviceId: "cam1", seq: 3, ts: T, rxTs: T, cameraId: "cam1", state: "start", source: "onvif" } as Reading,
    {
      kind: "heartbeat",
      v: 1,
      deviceId: "kp1",
      seq: 4,
      ts: T,
      rxTs: T,
      intervalS: 60,
      uptimeS: 1,
      rssi: -50,
      pending: 0,
      fw: "1.0",
    } as Reading,
  ];
  const points = [
    ...readings.map((r) => readingToPoint(r, registry)),
    uplinkBatchPoint({ gatewayId: "gw1", epoch: "e", seq: 1, prevHash: "", createdAt: T, readings: 4 }, "h"),
    integrityAlertPoint({ gatewayId: "gw1", kind: "gap", epoch: "e", seq: 1, detail: "d", atMs: T, discriminator: 1 }),
    deadLetterPoint(
      {
        policy: "raw",
        line: "rating,site=s1 rated=1i 1",
        reason: "field_type_conflict",
        detail: "conflict",
        context: { source: "batch", gatewayId: "gw1", epoch: "e", seq: 1, createdAt: T },
      },
      T,
    ),
    gatewayHealthPoint(
      {
        gatewayId: "gw1",
        ts: T,
        state: "online",
        configVersion: 1,
        buffer: { depth: 1, bytes: 2, capacityBytes: 3, deadLetters: 0, oldestTs: T - 1000 },
        devices: { online: 1, total: 2 },
        uplink: { inFlight: 0, rttMs: 5, drainRatePerS: 10 },
        alarms: ["x"],
      } as Parameters<typeof gatewayHealthPoint>[0],
      registry,
      T,
    ),
  ];

  it.each(points.map((p) => [(p as { measurement: string }).measurement ?? "error", p] as const))("%s", (_m, p) => {
    expect(p).not.toHaveProperty("error");
    const point = p as { measurement: Measurement; tags: Record<string, string>; fields: Record<string, unknown> };
    const schema = MEASUREMENTS[point.measurement];
    expect(schema, `${point.measurement} is not in the schema module`).toBeDefined();
    expect(Object.keys(point.tags).filter((t) => !(schema.tags as readonly string[]).includes(t))).toEqual([]);
    expect(Object.keys(point.fields).filter((f) => !(schema.fields as readonly string[]).includes(f))).toEqual([]);
    expect(retentionPolicyFor(point.measurement)).toBe(schema.policy);
  });
});

describe("names from the schema", () => {
  it("quotes a measurement with its policy, alone, and its columns for InfluxQL", () => {
    expect(INFLUXQL.signin.FROM).toBe('"raw"."signin"');
    expect(INFLUXQL.heartbeat.FROM).toBe('"health"."heartbeat"');
    expect(INFLUXQL.rating_1h.FROM).toBe('"rollup"."rating_1h"');
    expect(INFLUXQL.motion.NAME).toBe('"motion"');
    expect(INFLUXQL.signin.person).toBe('"person"');
    expect(MEASUREMENT.score_daily).toBe("score_daily");
  });

  it("a point leaves out unknown (empty or undefined) tags and undefined fields, as InfluxDB refuses empty tag values", () => {
    expect(
      schemaPoint(
        "card",
        "1000000",
        { region: "", town: "t1", site: "s1", subject: undefined, color: "red" },
        { level: 2, reasons: undefined },
      ),
    ).toEqual({
      measurement: "card",
      timestamp: "1000000",
      tags: { town: "t1", site: "s1", color: "red" },
      fields: { level: 2 },
    });
  });
});
