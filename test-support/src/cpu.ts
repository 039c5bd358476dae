import { readFileSync } from "node:fs";

/** CPU seconds (user + system) a process has used so far, from /proc (Linux; clock ticks of 1/100 s). */
export function processCpuSeconds(pid: number): number {
  // Fields after the command name, which may itself hold spaces and parentheses: utime and stime are the 12th and 13th.
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** CPU seconds of several processes over a piece of work: call once before, then `done()` after. */
export function cpuMeter(pids: Record<string, number | undefined>): { done(): Record<string, number> } {
  const start = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, pid === undefined ? 0 : processCpuSeconds(pid)]));
  return {
    done: () =>
      Object.fromEntries(
        Object.entries(pids).map(([name, pid]) => [name, pid === undefined ? 0 : processCpuSeconds(pid) - (start[name] ?? 0)]),
      ),
  };
}

/** CPU µs per reading of each process, from cpuMeter's seconds over `readings` readings. */
export function microsPerReading(seconds: Record<string, number>, readings: number): Record<string, number> {
  return Object.fromEntries(Object.entries(seconds).map(([name, s]) => [name, Number(((s * 1e6) / readings).toFixed(1))]));
}

/** Extra node flags for a benchmark's child processes, from BENCH_NODE_FLAGS (e.g. "--cpu-prof"). */
export function benchNodeFlags(): string[] {
  return (process.env.BENCH_NODE_FLAGS ?? "").split(" ").filter(Boolean);
}
