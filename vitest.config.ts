import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Component tests (test/web/*.test.tsx) use React's automatic JSX runtime, as the portal's build does.
  esbuild: { jsx: 'automatic' },
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Each file gets its own database, so files run side by side; two at a time fits a 2-core machine.
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    // A fork runs file after file with the modules it has loaded: importing the app again for every
    // file cost a third of the suite. Each file still builds its own app, database and registry.
    isolate: false,
  },
});
