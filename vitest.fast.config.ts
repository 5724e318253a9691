import { configDefaults, defineConfig, mergeConfig } from 'vitest/config';
import base from './vitest.config.js';

// `npm run test:fast`, the edit loop: PGlite only, no build, and none of the files that drive a
// browser, spawn `gatehouse` processes (they run dist/), inject faults or measure at volume.
// `npm test` runs everything, on both databases.
export default mergeConfig(base, defineConfig({
  test: {
    exclude: [
      ...configDefaults.exclude,
      'test/portal/**', // chromium
      'test/chaos/**',
      'test/deploy/**',
      'test/cli/**',
      'test/readme/**', // the quickstart runs `gatehouse serve`
      'test/db/online-upgrade.test.ts',
      'test/system/degradation.test.ts',
      'test/system/retention.test.ts', // 100k rows pruned under load
      'test/webhooks/workers.test.ts',
      'test/sdk/package.test.ts', // imports the built sdk/dist
    ],
  },
}));
