/**
 * The halls of `npm run bench -- scale`: one hall's working minutes as its gateway sends them (system/bench/hall-sim.ts:
 * the real buffer, presence tracker, seal priority and sealing timer on a virtual clock), made for a few template
 * halls and then given to each simulated gateway under its own ids, chain and key. Simulating every hall through the
 * gateway's buffer takes about a second of CPU per hall and ten minutes, too much for 1,000 halls; re-signing a
 * template's batches is what a gateway's uplink does anyway (the same readings JSON, the envelope it would choose:
 * v2 rows where layout 1 carries every reading, else v1), so the hub verifies exactly what it would in production.
 *
 * A hall: `windows` windows, each with a keypad, a camera and a clerk, and two sign-in terminals (the first takes
 * the punches): 2 × 49 + 2 = 100 devices by default, every device with a 30-second heartbeat. Its other readings
 * are the demo hall's working day (firmware-protocols' generateDay: Poisson transactions at 6 an hour per window,
 * 85 % rated, clerks signing in around 09:00 and leaving the window now and then, motion at the windows' cameras).
 */
import type { KeyObject } from "node:crypto";
import { randomBytes } from "node:crypto";
import { GENESIS_HASH, generateGatewayKeys, readingRowsJson, signSerializedBatch } from "@supervision/firmware-protocols";
import { demoHallScenario, generateDay, type Scenario } from "@supervision/firmware-protocols/sim";
import { simulateHall } from "./hall-sim.ts";

/** Stands for a hall's id prefix in a template's readings; each gateway's batches carry its own instead. */
export const TEMPLATE_PREFIX = "tmpl";
export const HEARTBEAT_S = 30;
export const SUMMARY_S = 600;
/** How long a template's gateway runs before the span it is measured over. */
const WARM_MS = 60_000;

const pad = (n: number, width: number) => String(n).padStart(width, "0");

/** The id prefix of hall `g` (0-based): h0000, h0001, ... */
export function hallPrefix(g: number): string {
  return `h${pad(g, 4)}`;
}

/** Ids of one hall's parts, from its prefix. */
export function hallIds(prefix: string, windows: number) {
  const w = Array.from({ length: windows }, (_, i) => pad(i + 1, 2));
  return {
    site: prefix,
    gateway: `gw-${prefix}`,
    windows: w.map((n) => `${prefix}-w${n}`),
    clerks: w.map((n) => `${prefix}-c${n}`),
    keypads: w.map((n) => `${prefix}-kp${n}`),
    cameras: w.map((n) => `${prefix}-cam${n}`),
    terminals: [`${prefix}-term1`, `${prefix}-term2`],
  };
}

/** Every device id of a hall, in the order the hall simulator numbers them (its heartbeats' phases). */
export function hallDevices(prefix: string, windows: number): string[] {
  const ids = hallIds(prefix, windows);
  return [...ids.keypads, ...ids.cameras, ...ids.terminals];
}

/** The hall as a simulator scenario (the demo hall's behaviour and shifts, `windows` windows). */
export function hallScenario(prefix: string, windows: number): Scenario {
  const ids = hallIds(prefix, windows);
  const departments = demoHallScenario.departments;
  return {
    ...demoHallScenario,
    site: { ...demoHallScenario.site, id: ids.site },
    gatewayId: ids.gateway,
    windows: ids.windows.map((id, i) => ({ id, name: `${i + 1}号窗口`, departmentId: departments[i % departments.length]!.id })),
    people: ids.clerks.map((id, i) => ({ id, name: `clerk ${i + 1}`, role: "clerk" as const, post: "受理员", windowId: ids.windows[i] })),
    devices: [
      ...ids.windows.flatMap((windowId, i) => [
        { id: ids.keypads[i]!, kind: "keypad" as const, windowId, secret: "-", heartbeatS: HEARTBEAT_S },
        { id: ids.cameras[i]!, kind: "camera" as const, windowId, cameraId: ids.cameras[i]!, secret: "-", heartbeatS: HEARTBEAT_S },
      ]),
      ...ids.terminals.map((id) => ({ id, kind: "terminal" as const, secret: "-", heartbeatS: HEARTBEAT_S })),
    ],
    items: [],
    approvalSystems: [],
  };
}

/** The hall's registry entries (hub/src/registry/schema.ts), for the hub's slice checks. */
export function hallRegistry(g: number, windows: number, publicKey: string) {
  const prefix = hallPrefix(g);
  const ids = hallIds(prefix, windows);
  const scenario = hallScenario(prefix, windows);
  return {
    site: { id: ids.site, kind: "hall" as const, name: `Hall ${g}`, town: "t1", tz: scenario.site.tz, gateway: ids.gateway },
    gateway: { id: ids.gateway, site: ids.site, publicKey },
    windows: scenario.windows.map((w) => ({ id: w.id, site: ids.site, name: w.name, department: "tax", unattendedAfterMinutes: 30 })),
    people: ids.clerks.map((id, i) => ({
      id,
      name: `clerk ${i + 1}`,
      role: "clerk" as const,
      post: "",
      site: ids.site,
      window: ids.windows[i],
      roster: "day",
    })),
    devices: [
      ...ids.windows.flatMap((window, i) => [
        { id: ids.keypads[i]!, kind: "keypad" as const, site: ids.site, window, heartbeatS: HEARTBEAT_S, scale: "four" as const },
        {
          id: ids.cameras[i]!,
          kind: "camera" as const,
          site: ids.site,
          window,
          cameraId: ids.cameras[i]!,
          heartbeatS: HEARTBEAT_S,
          scale: "four" as const,
        },
      ]),
      ...ids.terminals.map((id) => ({ id, kind: "terminal" as const, site: ids.site, heartbeatS: HEARTBEAT_S, scale: "four" as const })),
    ],
  };
}

/** One batch of a template hall: when it was sealed (virtual time), its readings as comma-separated JSON, each reading's wait. */
export interface TemplateBatch {
  sealedAt: number;
  readingsJson: string;
  /** Per reading: sealedAt − its device time (ms): the part of device → queryable spent before the batch left. */
  waits: number[];
  kinds: Record<string, number>;
}

/**
 * A template hall's batches over `minutes` from `t0` (device and gateway time; a summary boundary): heartbeats of every
 * device (phases as hall-sim spreads them) plus the working day's other readings of `date` with `seed`.
 */
export async function templateHall(opts: {
  mode: "every heartbeat" | "summaries";
  seed: number;
  date: string;
  t0: number;
  minutes: number;
  windows: number;
}): Promise<TemplateBatch[]> {
  const scenario = hallScenario(TEMPLATE_PREFIX, opts.windows);
  const others = generateDay(scenario, { date: opts.date, seed: opts.seed }).filter((e) => e.kind !== "heartbeat");
  const devices = hallDevices(TEMPLATE_PREFIX, opts.windows);
  const keys = generateGatewayKeys();
  // The gateway runs a minute before the span, so its devices are online when it starts (their first heartbeats'
  // online reports fall before it, as they fell hours before in a hall that opened in the morning); the span keeps
  // the batches sealed in [t0, t0 + minutes): the summaries of the period that ends at t0, not those at its end.
  const hall = await simulateHall({
    mode: opts.mode,
    gatewayId: scenario.gatewayId,
    privateKeyPem: keys.privateKeyPem,
    t0: opts.t0 - WARM_MS,
    devices: devices.length,
    intervalS: HEARTBEAT_S,
    minutes: opts.minutes + WARM_MS / 60_000,
    summaryS: SUMMARY_S,
    outages: 0,
    deviceId: (d) => devices[d]!,
    others,
  });
  const end = opts.t0 + opts.minutes * 60_000;
  return hall.batches
    .filter((b) => b.sealedAt >= opts.t0 && b.sealedAt < end)
    .map((b) => {
      const body = b.wire.subarray(0, b.wire.lastIndexOf(0x0a)).toString("utf8");
      const readings = (JSON.parse(body) as { readings: { ts: number; kind: string }[] }).readings;
      const kinds: Record<string, number> = {};
      for (const r of readings) kinds[r.kind] = (kinds[r.kind] ?? 0) + 1;
      return {
        sealedAt: b.sealedAt,
        readingsJson: JSON.stringify(readings).slice(1, -1),
        waits: readings.map((r) => b.sealedAt - r.ts),
        kinds,
      };
    });
}

/** A batch as one simulated gateway sends it: the wire, and the virtual time its uplink sealed it. */
export interface GatewayBatch {
  wire: Buffer;
  seq: number;
  sealedAt: number;
  template: TemplateBatch;
}

/**
 * `batches` of a template as gateway `gatewayId` of hall `prefix` seals them: its ids in the readings, its own chain
 * (a new epoch from seq 1), signed with its key as its uplink signs (v2 rows when layout 1 carries every reading).
 */
export function signAsGateway(batches: TemplateBatch[], prefix: string, gatewayId: string, key: KeyObject): GatewayBatch[] {
  const epoch = randomBytes(8).toString("hex");
  let prevHash = GENESIS_HASH;
  return batches.map((template, i) => {
    const json = Buffer.from(template.readingsJson.replaceAll(`"${TEMPLATE_PREFIX}-`, `"${prefix}-`), "utf8");
    const header = { gatewayId, epoch, seq: i + 1, prevHash, createdAt: template.sealedAt };
    const rows = readingRowsJson(json);
    const sealed = rows
      ? signSerializedBatch({ v: 2, ...header, layout: 1 }, rows, key)
      : signSerializedBatch({ v: 1, ...header }, json, key);
    prevHash = sealed.hash;
    return { wire: sealed.wire, seq: i + 1, sealedAt: template.sealedAt, template };
  });
}
