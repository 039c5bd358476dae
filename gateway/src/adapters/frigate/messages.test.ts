import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { MAX_FRIGATE_MESSAGE_BYTES, parseFrigateMessage } from "./messages.ts";

const parse = (topic: string, payload: string | Buffer) =>
  parseFrigateMessage("frigate", topic, Buffer.isBuffer(payload) ? payload : Buffer.from(payload));
const EVENTS = readFileSync(new URL("./testing/events.jsonl", import.meta.url), "utf8")
  .trim()
  .split("\n");

describe("Frigate messages", () => {
  it("reads motion, availability and the recorded-format events", () => {
    expect(parse("frigate/hall_cam/motion", "ON")).toEqual({ ok: true, value: { kind: "motion", camera: "hall_cam", on: true } });
    expect(parse("frigate/hall_cam/motion", "OFF\n")).toEqual({ ok: true, value: { kind: "motion", camera: "hall_cam", on: false } });
    expect(parse("frigate/available", "offline")).toEqual({ ok: true, value: { kind: "available", state: "offline" } });
    expect(parse("frigate/events", EVENTS[1]!)).toEqual({
      ok: true,
      value: {
        kind: "event",
        type: "update",
        id: "1733130000.123456-k3v9q1",
        camera: "hall_cam",
        label: "person",
        zones: ["w1_counter"],
        startMs: 1733130000123,
        endMs: null,
        frameMs: 1733130003500,
        falsePositive: false,
        hasSnapshot: true,
      },
    });
    expect(parse("frigate/events", EVENTS.at(-1)!)).toMatchObject({ ok: true, value: { type: "end", endMs: 1733130600250 } });
  });

  it("ignores Frigate's other topics and foreign prefixes", () => {
    for (const topic of ["frigate/stats", "frigate/hall_cam/person", "frigate/hall_cam/person/snapshot", "other/events", "frigate"])
      expect(parse(topic, "x")).toEqual({ ok: true, value: undefined });
  });

  it("refuses malformed, oversized, unknown and hostile messages with a reason, never throwing", () => {
    const refused = (topic: string, payload: string | Buffer) => {
      const r = parse(topic, payload);
      return r.ok ? "accepted" : r.error;
    };
    expect(refused("frigate/hall_cam/motion", "on")).toMatch(/is not ON or OFF/);
    expect(refused("frigate/../motion", "ON")).toMatch(/not a Frigate camera name/);
    expect(refused("frigate/available", "maybe")).toMatch(/not online, offline or stopped/);
    expect(refused("frigate/events", "{not json")).toMatch(/not JSON/);
    expect(refused("frigate/events", "[]")).toMatch(/not a JSON object/);
    expect(refused("frigate/events", '{"type":"delete","after":{}}')).toMatch(/is not new, update or end/);
    expect(refused("frigate/events", '{"type":"new"}')).toMatch(/no `after` object/);
    expect(refused("frigate/events", '{"type":"new","after":{"id":"1","camera":"a b","label":"person"}}')).toMatch(/after.camera/);
    expect(refused("frigate/events", '{"type":"new","after":{"id":"1","camera":"c","label":"person","current_zones":"w1"}}')).toMatch(
      /current_zones/,
    );
    expect(refused("frigate/events", '{"type":"new","after":{"id":"1","camera":"c","label":"person","start_time":"yesterday"}}')).toMatch(
      /start_time is not epoch seconds/,
    );
    expect(refused("frigate/events", '{"type":"new","after":{"id":"1","camera":"c","label":"person","start_time":1e300}}')).toMatch(
      /start_time/,
    );
    expect(refused("frigate/events", '{"type":"new","__proto__":{"x":1},"after":{"id":"","camera":"c","label":"person"}}')).toMatch(
      /after.id/,
    );
    expect(refused("frigate/events", Buffer.alloc(MAX_FRIGATE_MESSAGE_BYTES + 1, 0x20))).toMatch(/more than a Frigate message/);
    for (const bytes of [Buffer.from([0xff, 0xfe, 0x00]), Buffer.alloc(0)]) expect(() => parse("frigate/events", bytes)).not.toThrow();
  });
});
