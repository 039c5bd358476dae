import { readFileSync } from "node:fs";

/** The Grafana contract files kept in this package (test-support/contracts/grafana; sources and licences there). */
export type GrafanaContractFile = "api-merged.json" | "dashboard.jsonschema.json";

/** Reads and parses one of Grafana's published contract files from the repository's copy. */
export function grafanaContract(file: GrafanaContractFile): unknown {
  return JSON.parse(readFileSync(new URL(`../contracts/grafana/${file}`, import.meta.url), "utf8"));
}
