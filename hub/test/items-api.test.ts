/**
 * The approval systems' API on a real hub HTTP server (with its token check) and a real influxd: authenticated,
 * idempotent by system, application number and step, every accepted event in the hub's hash-chained trail (book
 * item_event) that the audit checks back; the same events through the API and through the hall's gateway count once.
 */
import { EventEmitter } from "node:events";
import { freePort, startInfluxd, type TestInfluxd } from "@supervision/test-support";
import { InfluxDB } from "influx";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HubEvents } from "../src/controller/extension.ts";
import { ApiTokens, newApiToken } from "../src/http/auth.ts";
import { HubHttpServer } from "../src/http/server.ts";
import { ensureDatabase } from "../src/influx/setup.ts";
import { buildCases } from "../src/items/cases.ts";
import { queryItemEvents } from "../src/items/read.ts";
import { checkTrails } from "../src/audit/trail.ts";
import { createSupervisionExtension, SupervisionSettings } from "../src/supervision/index.ts";
import { at, itemReading, itemsRegistry } from "./items-fixtures.ts";
import { rulesContext, writeReadings } from "./supervision-fixtures.ts";

describe("approval systems' item API", () => {
  let influxd: TestInfluxd;
  let influx: InfluxDB;
  let server: HubHttpServer;
  let url: string;
  const { registry } = itemsRegistry();
  const NOW = at("2026-04-20", "10:00");
  const token = { system: newApiToken(), viewer: newApiToken(), operator: newApiToken() };
  const extension = createSupervisionExtension(SupervisionSettings.parse({ intervalMs: 3_600_000 }));

  beforeAll(async () => {
    influxd = await startInfluxd();
    influx = new InfluxDB({ host: "127.0.0.1", port: influxd.port, database: "supervision" });
    await ensureDatabase(influx, "supervision", pino({ level: "silent" }));
    const tokens = new ApiTokens([
      { name: "market-sys", role: "operator", token: token.system },
      { name: "wall", role: "viewer", token: token.viewer },
      { name: "duty", role: "operator", token: token.operator },
    ]);
    server = new HubHttpServer(pino({ level: "silent" }), { tokens: { current: () => tokens } });
    const ctx = rulesContext({ influx, registry, now: NOW, events: new EventEmitter<HubEvents>() });
    await extension.start({ ...ctx, http: server });
    url = `http://127.0.0.1:${await server.listen(await freePort(), "127.0.0.1")}/api/items/events`;
  });
  afterAll(async () => {
    await extension.stop();
    await server.close();
    await influxd.close();
  });

  /** `bearer` "" sends no Authorization header. */
  const post = async (body: unknown, bearer = token.system) => {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const accepted = {
    type: "accepted",
    applicationNo: "XK2026-0100",
    itemCode: "XK-001",
    ts: at("2026-04-14", "09:10"),
    applicantType: "company",
  };
  const count = async (measurement: string) =>
    Number((await influx.query<{ n: number }>(`SELECT count("seq") AS n FROM "raw"."${measurement}"`))[0]?.n ?? 0);

  it("refuses callers that are not an approval system: no token, a viewer, an operator of the centre", async () => {
    expect((await post(accepted, "")).status).toBe(401);
    expect((await post(accepted, token.viewer)).status).toBe(403);
    const centre = await post(accepted, token.operator);
    expect(centre).toMatchObject({ status: 403, body: { code: "not_an_approval_system" } });
    expect(String(centre.body.error)).toContain("approvalSystems");
    expect(await count("item_event")).toBe(0);
  });

  it("records an event once: the same event sent twice changes nothing, other content for the same step is a conflict", async () => {
    const first = await post(accepted);
    expect(first).toMatchObject({ status: 201, body: { status: "recorded" } });
    expect(await post(accepted)).toMatchObject({ status: 200, body: { status: "duplicate", seq: first.body.seq } });
    expect(await post({ ...accepted, ts: accepted.ts + 60_000 })).toMatchObject({ status: 409, body: { code: "conflict" } });
    const step = {
      type: "step",
      applicationNo: "XK2026-0100",
      itemCode: "XK-001",
      ts: at("2026-04-15", "11:00"),
      step: "审核",
      handler: "张办",
      result: "pass",
    };
    expect(await post(step)).toMatchObject({ status: 201, body: { status: "recorded" } });
    expect(await post(step)).toMatchObject({ status: 200, body: { status: "duplicate" } });
    expect(await post({ ...step, handler: "别人" })).toMatchObject({ status: 409, body: { code: "conflict" } });
    expect(
      await post({
        type: "completed",
        applicationNo: "XK2026-0100",
        itemCode: "XK-001",
        ts: at("2026-04-16", "15:00"),
        outcome: "approved",
      }),
    ).toMatchObject({
      status: 201,
    });
    expect(await count("item_event")).toBe(3);
    const trail = await influx.query<{ n: number }>(`SELECT count("seq") AS n FROM "raw"."hub_trail" WHERE "book" = 'item_event'`);
    expect(trail[0]?.n).toBe(3);
  });

  it("says what is wrong with malformed, hostile and misplaced events, and stores none of them", async () => {
    const cases: [unknown, number, string][] = [
      ["[1,2]", 400, "malformed_json"],
      [{ ...accepted, deviceId: "qs-1" }, 400, "unknown_field"],
      [{ ...accepted, seq: 5 }, 400, "unknown_field"],
      [{ ...accepted, applicationNo: "XK2026-0101", applicantType: undefined }, 400, "missing_field"],
      [{ ...accepted, applicationNo: "XK2026-0101", extra: 1 }, 400, "unknown_field"],
      [{ ...accepted, applicationNo: "../../etc/passwd" }, 400, "invalid_field"],
      [{ ...accepted, applicationNo: "XK2026-0101", ts: NOW + 3_600_000 }, 400, "future_timestamp"],
      [{ ...accepted, applicationNo: "XK2026-0101", ts: 5 }, 400, "clock_unset"],
      [{ ...accepted, applicationNo: "XK2026-0101", itemCode: "NOPE-1" }, 422, "unknown_item"],
      [{ ...accepted, applicationNo: "XK2026-0101", itemCode: "SB-002" }, 403, "other_department"],
      [{ ...accepted, applicationNo: "XK2026-0101", reason: "x".repeat(100_000) }, 413, ""],
    ];
    for (const [body, status, code] of cases) {
      const answer = await post(body);
      expect(answer.status, JSON.stringify(body).slice(0, 80)).toBe(status);
      if (code) expect(answer.body.code).toBe(code);
    }
    expect(await count("item_event")).toBe(3);
  });

  it("counts an application reported by the hall's gateway and by the department's system once, replays included", async () => {
    const hall = [
      itemReading("accepted", "XK2026-0100", at("2026-04-14", "09:05"), { windowId: "w1", applicantType: "company" }),
      itemReading("completed", "XK2026-0100", at("2026-04-16", "15:00")),
    ];
    await writeReadings(influx, registry, hall);
    await writeReadings(influx, registry, hall); // the gateway's batch replayed
    const { cases } = buildCases(registry, await queryItemEvents(influx, { from: at("2026-04-01", "00:00"), to: NOW }), NOW);
    expect(cases.map((c) => [c.application, c.state, c.acceptedAt])).toEqual([["XK2026-0100", "completed", at("2026-04-14", "09:05")]]);
    expect(await count("item_event")).toBe(5);
  });

  it("keeps the events in the hub's trail, which the audit checks back and finds an altered event in", async () => {
    const book = async () => (await checkTrails(influx, "supervision", undefined)).find((t) => t.book === "item_event");
    expect(await book()).toEqual({ book: "item_event", entries: 3, problems: [] });
    await influx.query(`DELETE FROM "item_event" WHERE "device" = 'market-sys' AND "type" = 'completed'`);
    const problems = (await book())!.problems;
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/item_event .* was deleted/);
  });
});
