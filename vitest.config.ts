import { defineConfig } from "vitest/config";

// Prints one plain closing line ("N passed, N failed, N skipped") that any CI can read.
const summary = {
  onTestRunEnd(testModules: ReadonlyArray<any>, unhandledErrors: ReadonlyArray<unknown>) {
    const n = { passed: 0, failed: 0, skipped: 0 };
    for (const m of testModules)
      for (const t of m.children.allTests()) {
        const s = t.result().state;
        if (s === "passed") n.passed++;
        else if (s === "failed") n.failed++;
        else n.skipped++;
      }
    n.failed += unhandledErrors.length;
    console.log(`\n${n.passed} passed, ${n.failed} failed, ${n.skipped} skipped`);
  },
};

// Unit test files run in parallel. The end-to-end tests live in ONE file (test/e2e.test.ts)
// so they never run concurrently with each other; each sets its own generous timeout.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 20000,
    hookTimeout: 30000,
    reporters: ["default", summary],
  },
});
