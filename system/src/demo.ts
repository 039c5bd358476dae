import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DEMO_SCENARIOS } from "@supervision/firmware-protocols/sim";
import { registryFromScenario } from "@supervision/hub";
import { stringify } from "yaml";

/** The gateways `npm start` runs: the demo hall's and the demo construction site's. */
export const DEMO_GATEWAYS = (["hall", "site"] as const).map((kind) => ({
  kind,
  gatewayId: DEMO_SCENARIOS[kind].gatewayId,
  /** The gateway's password at the hub broker: a lab secret, in clear, for the demo only. */
  secret: `demo-secret-${DEMO_SCENARIOS[kind].gatewayId}`,
}));

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
    writeFileSync(
      join(dir, `demo-${g.kind}.yaml`),
      `# Written by \`npm start\` from the simulators' demo scenarios; edits are overwritten.\n${stringify(file)}`,
    );
  }
}
