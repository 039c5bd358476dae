#!/usr/bin/env node
// Runs the TypeScript CLI through tsx, so `npx hub ...` works without a build step.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const tsx = join(dirname(require.resolve("tsx/package.json")), "dist/cli.mjs");
const main = join(dirname(fileURLToPath(import.meta.url)), "../src/cli/main.ts");
const child = spawn(process.execPath, [tsx, main, ...process.argv.slice(2)], { stdio: "inherit" });
// The child gets Ctrl-C from the terminal itself; forward SIGTERM so service managers stop it too.
process.on("SIGTERM", () => child.kill("SIGTERM"));
process.on("SIGINT", () => {});
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
