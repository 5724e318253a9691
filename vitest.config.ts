import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Each file gets its own database, so files run side by side; two at a time fits a 2-core machine.
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
});
