import { readFileSync } from "node:fs";

/** The Grafana contract files kept in this package (test-support/contracts/grafana; sources and licences there). */
export type GrafanaContractFile = "api-merged.json" | "dashboard.jsonschema.json";

/**
 * Reads and parses one of Grafana's published contract files from the repository's copy. In the dashboard schema,
 * a field override's matcher `options` and property `value` are "any" in Grafana's CUE kind (`options?: _`,
 * `value?: _`), which its JSON Schema generator wrote as "object": a by-name matcher's options are a string and a
 * display name is a string in every Grafana. Those two are read as "any", as the kind says.
 */
export function grafanaContract(file: GrafanaContractFile): unknown {
  const contract = JSON.parse(readFileSync(new URL(`../contracts/grafana/${file}`, import.meta.url), "utf8")) as {
    definitions?: Record<string, { properties?: Record<string, unknown> }>;
  };
  if (file === "dashboard.jsonschema.json") {
    const anything = { description: "any value (CUE `_` in Grafana's dashboard kind)" };
    const matcher = contract.definitions?.MatcherConfig?.properties;
    const property = contract.definitions?.DynamicConfigValue?.properties;
    if (matcher) matcher.options = anything;
    if (property) property.value = anything;
  }
  return contract;
}
