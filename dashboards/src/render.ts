import { fileURLToPath } from "node:url";
import type { Dashboard } from "./builders.ts";

export const GENERATED_DIR = fileURLToPath(new URL("../generated/", import.meta.url));

/** The committed file form of a dashboard: stable key order, two-space indent, trailing newline. */
export function renderDashboard(dashboard: Dashboard): string {
  return `${JSON.stringify(dashboard, null, 2)}\n`;
}
