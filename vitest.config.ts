import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Database suites create their own database per file; keep two files in flight on 2 cores.
    maxWorkers: 2,
    // Hang guards, not speed limits (speed lives in npm run bench): generous enough for a loaded
    // 2-core machine, where a suite's setup (seed + retrain) can take several times its idle time.
    testTimeout: 180_000,
    hookTimeout: 180_000,
  },
});
