import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Two linked pseudo-terminals from Debian's socat: a serial line with the real serialport bindings at each end. */
export async function startSocatPair(): Promise<{ a: string; b: string; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), "socat-"));
  const a = join(dir, "a");
  const b = join(dir, "b");
  const child = spawn("socat", [`pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: "ignore" });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  for (let i = 0; !(existsSync(a) && existsSync(b)); i++) {
    if (i === 100 || child.exitCode !== null) throw new Error("socat did not create the pseudo-terminals (is Debian's socat installed?)");
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    a,
    b,
    async close() {
      child.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
