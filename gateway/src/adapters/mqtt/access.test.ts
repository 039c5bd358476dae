import { type GatewayDevice, hashSecret } from "@supervision/firmware-protocols";
import { describe, expect, it } from "vitest";
import { DeviceAccess } from "./access.ts";

const devices: GatewayDevice[] = [
  { id: "kp-1", kind: "keypad", windowId: "w1", secretHash: hashSecret("s1"), heartbeatS: 60 },
  { id: "cam-1", kind: "camera", cameraId: "c1", heartbeatS: 60 },
];
const access = new DeviceAccess(devices);
const reason = (d: { ok: boolean; reason?: string }) => (d.ok ? "allowed" : d.reason);

describe("device access", () => {
  it("authenticates by scrypt secret and refuses unknown ids, missing or wrong secrets, and devices without one", async () => {
    const auth = (id: string | undefined, secret?: string) =>
      access.authenticate(id, secret === undefined ? undefined : Buffer.from(secret));
    expect((await auth("kp-1", "s1")).ok).toBe(true);
    expect((await auth("kp-1", "s1")).ok).toBe(true); // cached path
    expect(reason(await auth("kp-1", "s2"))).toMatch(/wrong password/);
    expect(reason(await auth("ghost", "s1"))).toMatch(/unknown device/);
    expect(reason(await auth(undefined))).toMatch(/no username/);
    expect(reason(await auth("kp-1"))).toMatch(/no password/);
    expect(reason(await auth("cam-1", "x"))).toMatch(/no MQTT secret/);
  });

  it("forgets a cached password when the secret changes", async () => {
    const a = new DeviceAccess(devices);
    expect((await a.authenticate("kp-1", Buffer.from("s1"))).ok).toBe(true);
    a.setDevices([{ ...(devices[0] as GatewayDevice), secretHash: hashSecret("new") }]);
    expect((await a.authenticate("kp-1", Buffer.from("s1"))).ok).toBe(false);
    expect((await a.authenticate("kp-1", Buffer.from("new"))).ok).toBe(true);
  });

  it("allows only own event kinds and status, nothing under another device or the gateway tree", () => {
    expect(access.authorizePublishTopic("kp-1", "sv/v1/dev/kp-1/evt/rating").ok).toBe(true);
    expect(access.authorizePublishTopic("kp-1", "sv/v1/dev/kp-1/status").ok).toBe(true);
    expect(reason(access.authorizePublishTopic("kp-1", "sv/v1/dev/kp-1/evt/signin"))).toMatch(/keypad may not publish signin/);
    expect(reason(access.authorizePublishTopic("kp-1", "sv/v1/dev/kp-2/evt/rating"))).toMatch(/for device "kp-2"/);
    expect(access.authorizePublishTopic("kp-1", "sv/v1/gw/gw-1/config").ok).toBe(false);
    expect(access.authorizePublishTopic("kp-1", "sv/v1/dev/kp-1/cmd/display").ok).toBe(false);
    expect(access.authorizePublishTopic("kp-1", "$SYS/x").ok).toBe(false);
    expect(access.authorizePublishTopic("kp-1", `sv/v1/dev/kp-1/evt/${"x".repeat(10_000)}`).ok).toBe(false);
  });

  it("checks the window and camera a payload names", () => {
    const rating = { kind: "rating", v: 1, deviceId: "kp-1", seq: 1, ts: 1, outcome: "timeout", scale: "five" } as const;
    expect(access.authorizeEvent("kp-1", { ...rating, windowId: "w1" }).ok).toBe(true);
    expect(reason(access.authorizeEvent("kp-1", { ...rating, windowId: "w2" }))).toMatch(/serves window "w1"/);
    const motion = { kind: "motion", v: 1, deviceId: "cam-1", seq: 1, ts: 1, state: "start", source: "vmd" } as const;
    expect(access.authorizeEvent("cam-1", { ...motion, cameraId: "c2" }).ok).toBe(false);
  });

  it("allows subscribing only to own command topics", () => {
    expect(access.authorizeSubscribe("kp-1", "sv/v1/dev/kp-1/cmd/+").ok).toBe(true);
    expect(access.authorizeSubscribe("kp-1", "sv/v1/dev/kp-1/cmd/display").ok).toBe(true);
    expect(access.authorizeSubscribe("kp-1", "sv/v1/dev/cam-1/cmd/+").ok).toBe(false);
    expect(access.authorizeSubscribe("kp-1", "#").ok).toBe(false);
    expect(access.authorizeSubscribe("kp-1", "sv/v1/dev/+/evt/+").ok).toBe(false);
  });
});
