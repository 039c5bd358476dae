import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DEMO_SCENARIOS, type Scenario } from "@supervision/firmware-protocols/sim";
import { stringify } from "yaml";
import { RegistryFile } from "../registry/schema.ts";

/** The gateways `hub up` runs: the demo hall's and the demo construction site's. */
export const DEMO_GATEWAYS = (["hall", "site"] as const).map((kind) => ({
  kind,
  gatewayId: DEMO_SCENARIOS[kind].gatewayId,
  /** The gateway's password at the hub broker: a lab secret, in clear, for the demo only. */
  secret: `demo-secret-${DEMO_SCENARIOS[kind].gatewayId}`,
}));

/** The registry for a simulated site: the same ids, people and device secrets the simulators use. */
export function registryFromScenario(scenario: Scenario, gateway: { secret: string; publicKeyPem: string }): RegistryFile {
  const rosterId = `${scenario.site.id}-roster`;
  // Parsed, so a scenario the registry would refuse fails here with the registry's own message.
  return RegistryFile.parse({
    regions: [scenario.region],
    towns: [{ ...scenario.town, region: scenario.region.id }],
    departments: scenario.departments,
    sites: [{ id: scenario.site.id, kind: scenario.site.kind, name: scenario.site.name, town: scenario.town.id, tz: scenario.site.tz, gateway: scenario.gatewayId }],
    windows: scenario.windows.map((w) => ({ id: w.id, site: scenario.site.id, name: w.name, department: w.departmentId, unattendedAfterMinutes: 30 })),
    rosters: [
      {
        id: rosterId,
        shifts: scenario.roster.shifts,
        workingDays: scenario.roster.workingDays,
        graceMinutes: scenario.roster.graceMinutes,
        absentAfterMinutes: 60,
        holidays: [],
        workdays: [],
        exceptions: [],
      },
    ],
    people: scenario.people.map((p) => ({
      id: p.id,
      name: p.name,
      role: p.role,
      post: p.post,
      ...(p.photoUrl ? { photoUrl: p.photoUrl } : {}),
      site: scenario.site.id,
      ...(p.windowId ? { window: p.windowId } : {}),
      roster: rosterId,
    })),
    gateways: [{ id: scenario.gatewayId, site: scenario.site.id, secret: gateway.secret, publicKey: gateway.publicKeyPem }],
    devices: scenario.devices.map((d) => ({
      id: d.id,
      kind: d.kind,
      site: scenario.site.id,
      ...(d.windowId ? { window: d.windowId } : {}),
      ...(d.cameraId ? { cameraId: d.cameraId } : {}),
      secret: d.secret,
      heartbeatS: d.heartbeatS,
      scale: "four",
    })),
  });
}

/** Writes one registry file per demo site; regions and towns shared by both are written once. */
export function writeDemoRegistry(dir: string, gateways: { kind: "hall" | "site"; secret: string; publicKeyPem: string }[]): void {
  mkdirSync(dir, { recursive: true });
  const seen = new Set<string>();
  for (const g of gateways) {
    const file = registryFromScenario(DEMO_SCENARIOS[g.kind], g);
    file.regions = file.regions?.filter((r) => !seen.has(`region:${r.id}`));
    file.towns = file.towns?.filter((t) => !seen.has(`town:${t.id}`));
    for (const r of file.regions ?? []) seen.add(`region:${r.id}`);
    for (const t of file.towns ?? []) seen.add(`town:${t.id}`);
    writeFileSync(join(dir, `demo-${g.kind}.yaml`), `# Written by \`hub up\` from the simulators' demo scenarios; edits are overwritten.\n${stringify(file)}`);
  }
}
