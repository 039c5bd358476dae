import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve as resolvePath } from "node:path";
import { freePort } from "@supervision/test-support";
import { describe, expect, it } from "vitest";

const MAIN = resolvePath("hub/src/cli/main.ts");
const hub = (args: string[], cwd?: string) =>
  new Promise<{ code: number; out: string; err: string }>((resolve) =>
    execFile(process.execPath, ["--import", "tsx", MAIN, ...args], { cwd }, (error, out, err) =>
      resolve({ code: error ? Number(error.code) : 0, out, err }),
    ),
  );

/**
 * Each `hub` command spawns node with tsx, which takes 1-2 s on an idle machine and tens of seconds on a loaded shared
 * one (11-35 s each at a load of 30 on 2 cores): the test waits for the processes, so it gets room, not a sleep.
 */
const CLI = { timeout: 300_000 };

describe("supervision commands", () => {
  it.each(["verify", "dismiss", "entry", "warnings", "warning", "report"])("hub %s --help explains the command", CLI, async (name) => {
    const result = await hub([name, "--help"]);
    expect(result).toMatchObject({ code: 0, out: expect.stringContaining(`Usage: hub ${name}`) });
    // A terminal's 80 columns.
    expect(result.out.split("\n").filter((line) => line.length > 80)).toEqual([]);
  });

  it("hub report beside npm start reads the demo's settings (its InfluxDB and registry) and says so", CLI, async () => {
    // A folder where npm start has run: its hub settings in var/demo/hub/hub.yaml (inside the repository, under the
    // git-ignored var/, so the hub's node_modules resolve).
    mkdirSync("var", { recursive: true });
    const dir = mkdtempSync(join(resolvePath("var"), "report-demo-"));
    try {
      mkdirSync(join(dir, "var/demo/hub"), { recursive: true });
      const registry = join(dir, "var/demo/registry-of-the-demo");
      writeFileSync(join(dir, "var/demo/hub/hub.yaml"), `registry:\n  dir: ${registry}\ndataDir: ${join(dir, "var/demo/hub")}\n`);
      const result = await hub(["report", "--month", "2026-11"], dir);
      expect(result.err).toContain(
        "hub report: reading the demo's settings var/demo/hub/hub.yaml (npm start); --settings FILE for another hub",
      );
      // It went on with the demo's registry (missing here), not the example's.
      expect(result.err).toContain("registry-of-the-demo");
      expect(result.code).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("name a bad option, a missing argument or an absent hub, and say what to do", CLI, async () => {
    expect(await hub(["verify", "kp1:1", "--colour", "red"])).toMatchObject({
      code: 2,
      err: expect.stringMatching(/--colour[\s\S]*Usage: hub verify/),
    });
    expect(await hub(["entry", "--person", "c1", "--window", "w1", "--rule", "thanks"])).toMatchObject({
      code: 2,
      err: expect.stringMatching(/one of --person or --window/),
    });
    expect(await hub(["warning", "escalate", "hall-1:offline:gw-1:1"])).toMatchObject({
      code: 2,
      err: expect.stringMatching(/give a step \(acknowledge, handle, close or show\)/),
    });
    expect(await hub(["report", "--month", "2026-13"])).toMatchObject({ code: 2, err: expect.stringMatching(/--month YYYY-MM/) });
    const port = await freePort();
    expect(
      await hub(["dismiss", "kp1:1", "--token", "hubtk_some-token-of-an-absent-hub", "--url", `http://127.0.0.1:${port}`]),
    ).toMatchObject({
      code: 1,
      err: expect.stringMatching(/no hub answers[\s\S]*hub start/),
    });
  });
});
