import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["{firmware-protocols,influxd,gateway,hub,dashboards,system,test-support,scripts}/**/*.test.ts"],
    exclude: ["**/node_modules/**"],
    // Integration tests start real servers; give them room on a 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 90_000,
    pool: "forks",
    maxWorkers: 2,
    reporters: ["default"],
  },
});
