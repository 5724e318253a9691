#!/usr/bin/env node
// `npx gatehouse …` runs the compiled CLI. A fresh clone has no dist/ until `npm start` or
// `npm test` builds it, so build once here rather than fail with a missing-module error.
import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
if (!existsSync(new URL('../dist/cli.js', import.meta.url))) {
  process.stderr.write('gatehouse: building (first run)…\n');
  execSync('npm run build --silent', { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
}
await import('../dist/cli.js');
