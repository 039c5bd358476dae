import type { GatewayDevice } from "@supervision/firmware-protocols";
import { describe, expect, it } from "vitest";
import { AvailabilityTracker } from "./availability.ts";

const keypad: GatewayDevice = { id: "kp-1", kind: "keypad", windowId: "w1", heartbeatS: 10 };
const terminal: GatewayDevice = { id: "term-1", kind: "terminal", heartbeatS: 60 };

function setup() {
  let t = 1_000_000;
  const tracker = new AvailabilityTracker(() => t);
  tracker.setDevices([keypad, terminal]);
  return { tracker, advance: (ms: number) => (t += ms), online: (id: string) => tracker.list().find((d) => d.deviceId === id)?.online };
}

describe("availability", () => {
  it("is offline until seen, online on connect, offline after 2.5 heartbeat intervals of silence", () => {
    const { tracker, advance, online } = setup();
    expect(online("kp-1")).toBe(false);
    tracker.connected("kp-1", true);
    expect(online("kp-1")).toBe(true);
    advance(25_000);
    expect(online("kp-1")).toBe(true);
    advance(1);
    expect(online("kp-1")).toBe(false);
    tracker.event("kp-1", 30);
    advance(70_000);
    expect(online("kp-1")).toBe(true);
    expect(tracker.counts()).toEqual({ online: 1, total: 2 });
  });

  it("goes offline on a last will and back online with the next sign of life", () => {
    const { tracker, online } = setup();
    tracker.status("term-1", { v: 1, deviceId: "term-1", state: "online" });
    expect(online("term-1")).toBe(true);
    tracker.status("term-1", { v: 1, deviceId: "term-1", state: "offline" });
    expect(online("term-1")).toBe(false);
    tracker.event("term-1");
    expect(online("term-1")).toBe(true);
  });

  it("follows config changes and ignores unknown devices", () => {
    const { tracker, online } = setup();
    tracker.connected("kp-1", true);
    tracker.event("ghost");
    tracker.setDevices([keypad]);
    expect(tracker.list().map((d) => d.deviceId)).toEqual(["kp-1"]);
    expect(online("kp-1")).toBe(true);
  });
});
