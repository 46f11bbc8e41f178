import { defineConfig } from "vitest/config";

// Unit test files run in parallel. The end-to-end tests live in ONE file (test/e2e.test.ts)
// so they never run concurrently with each other; each sets its own generous timeout.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 20000,
    hookTimeout: 30000,
  },
});
