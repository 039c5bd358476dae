import type { GatewayConfig, GatewayDevice } from "@supervision/firmware-protocols";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import type { DeviceAdapter, DeviceLink } from "./adapter.ts";
import { RunningLinks } from "./running-links.ts";
import { MemorySink } from "./testing/memory-sink.ts";

const config = (version: number, devices: GatewayDevice[]): GatewayConfig => ({
  v: 1,
  gatewayId: "gw-1",
  version,
  site: { id: "hall-1", name: "Hall 1", kind: "hall", tz: "UTC" },
  devices,
  windows: [],
  people: [],
});
const keypad = (id: string, port?: string): GatewayDevice => ({
  id,
  kind: "keypad",
  heartbeatS: 60,
  ...(port ? { serial: { port, address: 1 } } : {}),
});

/** A link over fake adapters that record what happens to them (unit test of the restart logic; no devices). */
function recordingLink(
  name: string,
  opts: { essential?: boolean; failStart?: boolean; devices: (c: GatewayConfig | undefined) => GatewayDevice[] },
) {
  const log: string[] = [];
  let started = 0;
  const link: DeviceLink<{ greeting: string }> = {
    name,
    section: name,
    settings: z.strictObject({ greeting: z.string().default("hi") }).prefault({}),
    essential: opts.essential,
    slice: (c) => opts.devices(c).map((d) => [d.id, d.serial]),
    create: ({ config: c, settings }) => {
      const devices = opts.devices(c).map((d) => d.id);
      if (devices.length === 0) return undefined;
      const instance = ++started;
      const adapter: DeviceAdapter = {
        name,
        async start() {
          log.push(`start ${instance} ${devices.join(",")} ${settings.greeting}`);
          if (opts.failStart) throw new Error(`${name} port busy`);
        },
        async stop() {
          log.push(`stop ${instance}`);
        },
        handles: (id) => devices.includes(id),
        send: async () => undefined,
        online: () => devices,
        configure: (next) => log.push(`configure ${instance} v${next.version}`),
      };
      return adapter;
    },
  };
  return { link, log };
}

const options = (links: DeviceLink[], settings: object = {}) => ({
  links,
  settings,
  sink: new MemorySink(),
  signals: { status: () => undefined, connected: () => undefined },
  logger: pino({ level: "silent" }),
});

describe("running device links", () => {
  it("restarts only the links whose slice of a new config changed, and configures the others", async () => {
    const serial = recordingLink("serial", { devices: (c) => (c?.devices ?? []).filter((d) => d.serial) });
    const mqtt = recordingLink("mqtt", { devices: (c) => (c?.devices ?? []).filter((d) => !d.serial) });
    const links = new RunningLinks(options([mqtt.link, serial.link], { mqtt: { greeting: "hello" }, serial: { greeting: "ni hao" } }));
    await links.start(config(1, [keypad("kp-1"), keypad("kp-2", "/dev/ttyS0")]));
    expect(mqtt.log).toEqual(["start 1 kp-1 hello"]);
    expect(serial.log).toEqual(["start 1 kp-2 ni hao"]);

    // Only the MQTT side changed: the serial adapter keeps running and is handed the config.
    links.apply(config(2, [keypad("kp-1"), keypad("kp-3"), keypad("kp-2", "/dev/ttyS0")]));
    await links.stop();
    expect(mqtt.log).toEqual(["start 1 kp-1 hello", "stop 1", "start 2 kp-1,kp-3 hello", "stop 2"]);
    expect(serial.log).toEqual(["start 1 kp-2 ni hao", "configure 1 v2", "stop 1"]);
  });

  it("starts a link when a config first gives it devices, and stops it when none are left", async () => {
    const serial = recordingLink("serial", { devices: (c) => (c?.devices ?? []).filter((d) => d.serial) });
    const links = new RunningLinks(options([serial.link]));
    await links.start(undefined);
    expect(links.health()).toEqual({});
    links.apply(config(1, [keypad("kp-2", "/dev/ttyS0")]));
    await links.settled();
    expect(links.health()).toEqual({ serial: { ok: true } });
    links.apply(config(2, [keypad("kp-2", "/dev/ttyS1")]));
    await links.settled();
    links.apply(config(3, []));
    await links.settled();
    expect(links.health()).toEqual({});
    expect(serial.log).toEqual(["start 1 kp-2 hi", "stop 1", "start 2 kp-2 hi", "stop 2"]);
    // Configs in quick succession: the adapter that serves is built from the newest.
    links.apply(config(4, [keypad("kp-2", "/dev/ttyS0")]));
    links.apply(config(5, [keypad("kp-3", "/dev/ttyS0")]));
    links.apply(config(6, [keypad("kp-3", "/dev/ttyS0")]));
    await links.settled();
    expect(links.serving("kp-3")?.name).toBe("serial");
    expect(links.serving("kp-2")).toBeUndefined();
    await links.stop();
  });

  it("serves each device through the first link that handles it, and reports what every link hears", async () => {
    const a = recordingLink("a", { devices: () => [keypad("kp-1"), keypad("kp-2")] });
    const b = recordingLink("b", { devices: () => [keypad("kp-2"), keypad("kp-3")] });
    const links = new RunningLinks(options([a.link, b.link]));
    await links.start(config(1, []));
    expect(links.serving("kp-2")?.name).toBe("a");
    expect(links.serving("kp-3")?.name).toBe("b");
    expect(links.serving("kp-9")).toBeUndefined();
    expect(links.online()).toEqual(["kp-1", "kp-2", "kp-2", "kp-3"]);
    expect(links.health()).toEqual({ a: { ok: true }, b: { ok: true } });
    await links.stop();
  });

  it("keeps going when a link fails to start, shows why, and refuses to start without an essential link", async () => {
    const ok = recordingLink("mqtt", { essential: true, devices: () => [keypad("kp-1")] });
    const broken = recordingLink("serial", { failStart: true, devices: () => [keypad("kp-2")] });
    const links = new RunningLinks(options([ok.link, broken.link]));
    await links.start(config(1, []));
    expect(links.health()).toEqual({ mqtt: { ok: true }, serial: { ok: false, problem: "serial port busy" } });
    expect(links.essentialHealthy()).toBe(true);
    await links.stop();

    const essential = recordingLink("mqtt", { essential: true, failStart: true, devices: () => [keypad("kp-1")] });
    const other = recordingLink("serial", { devices: () => [keypad("kp-2")] });
    const failing = new RunningLinks(options([other.link, essential.link]));
    await expect(failing.start(config(1, []))).rejects.toThrow("mqtt port busy");
    expect(other.log).toEqual(["start 1 kp-2 hi", "stop 1"]);
  });
});
