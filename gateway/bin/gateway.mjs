#!/usr/bin/env node
// Runs the TypeScript CLI through tsx (no build step).
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { GATEWAY_ENV, GATEWAY_NODE_FLAGS } from "./node-flags.mjs";

const require = createRequire(import.meta.url);
const tsx = require.resolve("tsx/cli");
const main = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url));
const result = spawnSync(process.execPath, [...GATEWAY_NODE_FLAGS, tsx, main, ...process.argv.slice(2)], {
  stdio: "inherit",
  env: { ...process.env, ...GATEWAY_ENV },
});
process.exit(result.status ?? 1);
