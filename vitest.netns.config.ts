import { defineConfig } from "vitest/config";

// Tests that must run in a loopback-only network namespace (cameras, discovery). npm test starts them through
// gateway/test/netns.test.ts with unshare --net; they refuse to run anywhere else.
export default defineConfig({
  test: {
    include: ["{gateway,hub,system,test-support}/**/*.netns.ts"],
    exclude: ["**/node_modules/**"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    maxWorkers: 1,
    reporters: ["default"],
  },
});
