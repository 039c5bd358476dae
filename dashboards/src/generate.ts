/** Writes dashboards/generated/<uid>.json. Usage: tsx dashboards/src/generate.ts [--help] */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { allDashboards } from "./dashboards.ts";
import { GENERATED_DIR, renderDashboard } from "./render.ts";

if (process.argv.includes("--help")) {
  console.log(
    "Usage: tsx dashboards/src/generate.ts\nWrites every supervision dashboard to dashboards/generated/<uid>.json; commit the result.",
  );
} else {
  mkdirSync(GENERATED_DIR, { recursive: true });
  for (const dashboard of allDashboards()) {
    const file = join(GENERATED_DIR, `${dashboard.uid}.json`);
    writeFileSync(file, renderDashboard(dashboard));
    console.log(`wrote ${file}`);
  }
}
