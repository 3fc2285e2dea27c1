// Browser tests: the real server (started per file) driven through Debian's chromium.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    // A debug server hashes passwords slowly: give live updates time, never a fixed sleep.
    expect: { poll: { timeout: 20_000, interval: 50 } },
  },
});
