import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";

export interface ManagedChild {
  readonly name: string;
  readonly process: ChildProcess;
  /** Resolves with the exit code (or signal name) once the child ended. */
  readonly exited: Promise<number | string>;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Runs one TypeScript entry point of this repository (a gateway, the simulators) as its own process, the way it
 * is deployed, with every output line prefixed by its name so the user can tell who said what.
 */
export function startChild(
  name: string,
  entry: string,
  args: string[],
  output: (line: string) => void,
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; nodeFlags?: string[] } = {},
): ManagedChild {
  const child = spawn(process.execPath, [...(opts.nodeFlags ?? []), "--import", "tsx", entry, ...args], {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on("line", (line) => output(`[${name}] ${line}`));
  }
  const exited = new Promise<number | string>((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown")));
  return {
    name,
    process: child,
    exited,
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
