import { fileURLToPath } from "node:url";
import { runVitestInLoopbackNamespace } from "@supervision/test-support";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));

// Camera and discovery tests (`*.netns.ts`, vitest.netns.config.ts) follow addresses devices hand out: they run in
// a network namespace of their own where only loopback exists, in one vitest run started here.
describe("tests in a loopback-only network namespace", () => {
  it("pass (cameras: ONVIF replay, motion, snapshots, live view in a browser)", async () => {
    const { code, output } = await runVitestInLoopbackNamespace([], { cwd: root, timeoutMs: 300_000 });
    if (code !== 0) console.error(output);
    expect(output).toMatch(/Tests\s+\d+ passed/);
    expect(code).toBe(0);
  }, 320_000);
});
