import { readFileSync } from "node:fs";

/** A variable of a running process's environment as it was started with (Linux /proc), or undefined. */
export function environOf(pid: number, name: string): string | undefined {
  const entry = readFileSync(`/proc/${pid}/environ`, "utf8")
    .split("\0")
    .find((e) => e.startsWith(`${name}=`));
  return entry?.slice(name.length + 1);
}
