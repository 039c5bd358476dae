import { COMMAND_SCHEMAS, type GatewayConfig } from "@supervision/firmware-protocols";
import { describe, expect, it } from "vitest";
import { CommandPlanner } from "./commands.ts";

const config: GatewayConfig = {
  v: 1,
  gatewayId: "gw-1",
  version: 3,
  site: { id: "hall-1", name: "Hall 1", kind: "hall", tz: "Asia/Shanghai" },
  devices: [
    { id: "kp-1", kind: "keypad", windowId: "w1", heartbeatS: 60 },
    { id: "term-1", kind: "terminal", heartbeatS: 60 },
  ],
  windows: [{ id: "w1", name: "Window 1", departmentId: "tax" }],
  people: [
    { id: "p-1", name: "Li Ming", post: "Clerk", windowId: "w1" },
    { id: "p-2", name: "Supervisor", post: "Lead" },
  ],
};

const signin = (personId: string, direction: "in" | "out") =>
  ({ kind: "signin", v: 1, deviceId: "term-1", seq: 1, ts: 1, personId, method: "card", direction }) as const;

describe("command planner", () => {
  const planner = new CommandPlanner(config, () => 1_700_000_000_000);

  it("sends the window's keypad a valid display command on sign-in and clerk null on sign-out", () => {
    const [inMsg] = planner.afterEvent(signin("p-1", "in"));
    expect(inMsg?.topic).toBe("sv/v1/dev/kp-1/cmd/display");
    const payload = JSON.parse(inMsg?.payload ?? "");
    expect(COMMAND_SCHEMAS.display.safeParse(payload).success).toBe(true);
    expect(payload.clerk).toEqual({ id: "p-1", name: "Li Ming", post: "Clerk" });
    const [outMsg] = planner.afterEvent(signin("p-1", "out"));
    expect(JSON.parse(outMsg?.payload ?? "").clerk).toBeNull();
  });

  it("sends nothing for people without a window or unknown people", () => {
    expect(planner.afterEvent(signin("p-2", "in"))).toEqual([]);
    expect(planner.afterEvent(signin("nobody", "in"))).toEqual([]);
  });

  it("prompts the window's keypad for a rating when the queue system reports its transaction finished, and only then", () => {
    const queue = (type: "ticket" | "called" | "started" | "finished", windowId?: string) =>
      ({ kind: "queue", v: 1, deviceId: "qs-1", seq: 1, ts: 1, type, ticket: "A023", txnId: "T-A023", windowId, clerkId: "p-1" }) as const;
    const [msg, ...more] = planner.afterEvent(queue("finished", "w1"));
    expect(more).toEqual([]);
    expect(msg?.topic).toBe("sv/v1/dev/kp-1/cmd/prompt");
    const payload = JSON.parse(msg?.payload ?? "");
    expect(COMMAND_SCHEMAS.prompt.safeParse(payload).success).toBe(true);
    expect(payload).toMatchObject({ windowId: "w1", txnId: "T-A023", clerkId: "p-1", timeoutS: 60 });
    expect(planner.afterEvent(queue("started", "w1"))).toEqual([]);
    expect(planner.afterEvent(queue("finished", "w9"))).toEqual([]); // no keypad at that window
  });

  it("answers clock errors with a valid time command and nothing else", () => {
    const [msg] = planner.afterRejection("kp-1", "clock_unset");
    expect(msg?.topic).toBe("sv/v1/dev/kp-1/cmd/time");
    expect(COMMAND_SCHEMAS.time.safeParse(JSON.parse(msg?.payload ?? "")).success).toBe(true);
    expect(planner.afterRejection("kp-1", "malformed_json")).toEqual([]);
  });

  it("forwards valid hub commands and refuses invalid, hostile or misaddressed ones", () => {
    const ok = planner.fromHub({ v: 1, deviceId: "kp-1", name: "config", payload: { v: 1, cmdId: "c1", ts: 1, heartbeatS: 30 } });
    expect(ok).toEqual({ ok: true, message: { topic: "sv/v1/dev/kp-1/cmd/config", payload: expect.stringContaining('"heartbeatS":30') } });
    const bad = planner.fromHub({ v: 1, deviceId: "kp-1", name: "config", payload: { v: 1, cmdId: "c1", ts: 1, heartbeatS: 1 } });
    expect(bad.ok || bad.error.path).toBe("heartbeatS");
    const extra = planner.fromHub({ v: 1, deviceId: "kp-1", name: "time", payload: { v: 1, cmdId: "c", ts: 1, tz: "UTC", __proto__x: 1 } });
    expect(extra.ok || extra.error.code).toBe("unknown_field");
    const elsewhere = planner.fromHub({ v: 1, deviceId: "kp-9", name: "time", payload: { v: 1, cmdId: "c", ts: 1, tz: "UTC" } });
    expect(elsewhere.ok || elsewhere.error.path).toBe("deviceId");
  });
});
