import type { Scenario } from "@supervision/firmware-protocols/sim";
import { RegistryFile } from "./schema.ts";

/**
 * The registry for a simulated site: the same ids, people and device secrets the simulators use. With `hash`
 * (e.g. `hashSecret`), the gateway's and devices' secrets are written only as their hashes (`secretHash`).
 */
export function registryFromScenario(
  scenario: Scenario,
  gateway: { secret: string; publicKeyPem: string },
  options: { hash?: (secret: string) => string } = {},
): RegistryFile {
  const secret = (value: string) => (options.hash ? { secretHash: options.hash(value) } : { secret: value });
  const rosterId = `${scenario.site.id}-roster`;
  // The approval items' working days: an office calendar of its own (the hall itself may open at weekends).
  const calendarId = `${scenario.site.id}-office`;
  // Parsed, so a scenario the registry would refuse fails here with the registry's own message.
  return RegistryFile.parse({
    regions: [scenario.region],
    towns: [{ ...scenario.town, region: scenario.region.id }],
    departments: scenario.departments,
    sites: [
      {
        id: scenario.site.id,
        kind: scenario.site.kind,
        name: scenario.site.name,
        town: scenario.town.id,
        tz: scenario.site.tz,
        gateway: scenario.gatewayId,
        ...(scenario.site.lat !== undefined && scenario.site.lon !== undefined
          ? { location: { lat: scenario.site.lat, lon: scenario.site.lon, radiusM: scenario.site.radiusM ?? 300 } }
          : {}),
        ...(scenario.site.contacts ? { contacts: scenario.site.contacts } : {}),
      },
    ],
    windows: scenario.windows.map((w) => ({
      id: w.id,
      site: scenario.site.id,
      name: w.name,
      department: w.departmentId,
      unattendedAfterMinutes: 30,
    })),
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
      ...(scenario.items?.length
        ? [
            {
              id: calendarId,
              shifts: scenario.roster.shifts,
              workingDays: scenario.itemCalendar?.workingDays ?? ["mon", "tue", "wed", "thu", "fri"],
              holidays: scenario.itemCalendar?.holidays ?? [],
            },
          ]
        : []),
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
      ...(p.pin ? { pin: p.pin } : {}),
    })),
    gateways: [{ id: scenario.gatewayId, site: scenario.site.id, ...secret(gateway.secret), publicKey: gateway.publicKeyPem }],
    devices: scenario.devices.map((d) => ({
      id: d.id,
      kind: d.kind,
      site: scenario.site.id,
      ...(d.windowId ? { window: d.windowId } : {}),
      ...(d.cameraId ? { cameraId: d.cameraId } : {}),
      ...secret(d.secret),
      ...(d.adms ? { adms: { serialNumber: d.adms.serial } } : {}),
      heartbeatS: d.heartbeatS,
      scale: "four",
    })),
    ...(scenario.items?.length
      ? {
          items: scenario.items.map((i) => ({
            code: i.code,
            name: i.name,
            department: i.departmentId,
            site: scenario.site.id,
            calendar: calendarId,
            legalLimit: { days: i.legalDays, unit: i.unit ?? "working" },
            promisedLimit: { days: i.promisedDays, unit: i.unit ?? "working" },
            handler: i.handler,
            head: i.head,
          })),
        }
      : {}),
    ...(scenario.approvalSystems?.length
      ? { approvalSystems: scenario.approvalSystems.map((a) => ({ id: a.id, name: a.name, department: a.departmentId })) }
      : {}),
  });
}
