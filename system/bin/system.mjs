#!/usr/bin/env node
// Runs the TypeScript CLI through tsx's loader (no build step). `supervision up` runs the hub in this process, so
// it gets the hub's node flags (hub/bin/node-flags.mjs); gateways and simulators are children with their own.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { HUB_NODE_FLAGS } from "@supervision/hub/node-flags";

const require = createRequire(import.meta.url);
const tsx = pathToFileURL(join(dirname(require.resolve("tsx/package.json")), "dist/loader.mjs")).href;
const main = join(dirname(fileURLToPath(import.meta.url)), "../src/cli.ts");
const child = spawn(process.execPath, [...HUB_NODE_FLAGS, "--import", tsx, main, ...process.argv.slice(2)], { stdio: "inherit" });
// The child gets Ctrl-C from the terminal itself; forward SIGTERM so service managers stop it too.
process.on("SIGTERM", () => child.kill("SIGTERM"));
process.on("SIGINT", () => {});
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
