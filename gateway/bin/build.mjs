#!/usr/bin/env node
// Bundles the gateway into gateway/dist/gateway.mjs for edge boxes: one file, no TypeScript loader at run time
// (tsx costs about 30 MB of resident memory). Native modules stay external and load from node_modules.
import { build } from "esbuild";

await build({
  entryPoints: [new URL("../src/cli/main.ts", import.meta.url).pathname],
  outfile: new URL("../dist/gateway.mjs", import.meta.url).pathname,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  external: ["better-sqlite3", "serialport", "@serialport/*"],
  banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
  logLevel: "warning",
});
console.log("built gateway/dist/gateway.mjs");
