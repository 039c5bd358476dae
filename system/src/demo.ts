import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { hashSecret } from "@supervision/firmware-protocols";
import { DEMO_SCENARIOS, type Scenario } from "@supervision/firmware-protocols/sim";
import { registryFromScenario } from "@supervision/hub";
import { stringify } from "yaml";

/** The gateways `npm start` runs: the demo hall's and the demo construction site's. */
export const DEMO_GATEWAYS = (["hall", "site"] as const).map((kind) => ({ kind, gatewayId: DEMO_SCENARIOS[kind].gatewayId }));

/** Writes a file only its owner may read (mode 0600), creating its folder (0700). */
export function writePrivateFile(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, content, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/**
 * The demo's passwords (each gateway's at the hub broker, each simulated device's at its gateway): random, generated
 * on the first `npm start` into `<data-dir>/secrets/demo-secrets.json` (mode 0600) and kept, so none of them is
 * written in the source.
 */
export interface DemoSecrets {
  gateways: Record<string, string>;
  devices: Record<string, string>;
}

export function demoSecrets(dataDir: string): DemoSecrets {
  const file = join(dataDir, "secrets", "demo-secrets.json");
  const secrets: DemoSecrets = existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as DemoSecrets) : { gateways: {}, devices: {} };
  let changed = !existsSync(file);
  const fill = (map: Record<string, string>, id: string) => {
    if (typeof map[id] === "string" && map[id].length >= 16) return;
    map[id] = randomBytes(24).toString("base64url");
    changed = true;
  };
  for (const kind of ["hall", "site"] as const) {
    fill(secrets.gateways, DEMO_SCENARIOS[kind].gatewayId);
    for (const device of DEMO_SCENARIOS[kind].devices) fill(secrets.devices, device.id);
  }
  if (changed) writePrivateFile(file, `${JSON.stringify(secrets, null, 2)}\n`);
  return secrets;
}

/**
 * A demo scenario whose devices use the generated secrets (what the simulators play, with `--scenario`); `holidays`
 * are public holidays of its items' office calendar.
 */
export function demoScenario(kind: "hall" | "site", secrets: DemoSecrets, holidays: string[] = []): Scenario {
  const scenario = DEMO_SCENARIOS[kind];
  return {
    ...scenario,
    devices: scenario.devices.map((d) => ({ ...d, secret: secrets.devices[d.id]! })),
    ...(scenario.itemCalendar
      ? { itemCalendar: { ...scenario.itemCalendar, holidays: [...scenario.itemCalendar.holidays, ...holidays] } }
      : {}),
  };
}

/**
 * The demo's public holiday: the Wednesday of the week two weeks before go-live (YYYY-MM-DD), inside the weeks of
 * applications the approval systems report, so some limits run across it as across the weekends.
 */
export function demoHoliday(goLiveDate: string): string {
  const noon = Date.parse(`${goLiveDate}T12:00:00Z`) - 14 * 86_400_000;
  const weekday = new Date(noon).getUTCDay(); // 0 Sunday .. 6 Saturday
  return new Date(noon + (3 - (weekday === 0 ? 7 : weekday)) * 86_400_000).toISOString().slice(0, 10);
}

/** The approval systems' API tokens: the hub's token file gains one per system (role operator), kept across starts. */
export function demoApprovalTokens(hubTokensFile: string, systems: readonly string[]): Record<string, string> {
  const file = JSON.parse(readFileSync(hubTokensFile, "utf8")) as { tokens: { name: string; role: string; token: string }[] };
  let changed = false;
  for (const id of systems)
    if (!file.tokens.some((t) => t.name === id)) {
      file.tokens.push({ name: id, role: "operator", token: `hubtk_${randomBytes(32).toString("base64url")}` });
      changed = true;
    }
  if (changed) writePrivateFile(hubTokensFile, `${JSON.stringify(file, null, 2)}\n`);
  return Object.fromEntries(systems.map((id) => [id, file.tokens.find((t) => t.name === id)!.token]));
}

/** Writes one registry file per demo site (secrets only as scrypt hashes); regions and towns shared by both are written once. */
export function writeDemoRegistry(
  dir: string,
  gateways: { kind: "hall" | "site"; scenario: Scenario; secret: string; publicKeyPem: string }[],
  /** The demo's ONVIF cameras (device id → ONVIF URL) and the gateways' HTTP APIs the hub reaches (live view). */
  extras: { onvif?: Record<string, string>; api?: Record<string, { url: string; tokenFile: string }> } = {},
): void {
  mkdirSync(dir, { recursive: true });
  const seen = new Set<string>();
  for (const g of gateways) {
    const file = registryFromScenario(g.scenario, g, { hash: hashSecret });
    for (const d of file.devices ?? []) {
      const url = extras.onvif?.[d.id];
      if (url) Object.assign(d, { onvif: { url } });
    }
    for (const gw of file.gateways ?? []) {
      const api = extras.api?.[gw.id];
      if (api) gw.api = { url: api.url, token: { file: api.tokenFile } };
    }
    file.regions = file.regions?.filter((r) => !seen.has(`region:${r.id}`));
    file.towns = file.towns?.filter((t) => !seen.has(`town:${t.id}`));
    for (const r of file.regions ?? []) seen.add(`region:${r.id}`);
    for (const t of file.towns ?? []) seen.add(`town:${t.id}`);
    writeFileSync(
      join(dir, `demo-${g.kind}.yaml`),
      `# Written by \`npm start\` from the simulators' demo scenarios; edits are overwritten.\n${stringify(file)}`,
    );
  }
}
