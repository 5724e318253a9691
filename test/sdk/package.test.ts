import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { ROOT } from '../helpers/cli.js';

// What `npm run build` makes of sdk/ is what gets published: the compiled module, its types and the README.
test('the built package exports createClient and verifyWebhook, with types, and packs only what it needs', async () => {
  const pkg = JSON.parse(readFileSync(`${ROOT}sdk/package.json`, 'utf8'));
  expect(pkg.name).toBe('@gatehouse/sdk');
  const entry = `${ROOT}sdk/${pkg.exports['.'].import}`;
  expect(existsSync(entry), 'run npm run build first').toBe(true);
  expect(existsSync(`${ROOT}sdk/${pkg.exports['.'].types}`)).toBe(true);
  const sdk = await import(entry);
  for (const name of ['createClient', 'verifyWebhook', 'WebhookVerificationError', 'ApiError', 'unwrap', 'isEvent']) expect(typeof sdk[name], name).toBe('function');
  // The generated types travel with it: a .d.ts that a consumer's compiler reads.
  expect(readFileSync(`${ROOT}sdk/dist/schema.d.ts`, 'utf8')).toMatch(/export interface webhooks \{/);
  const pack = spawnSync('npm', ['pack', '--dry-run', '--json'], { cwd: `${ROOT}sdk`, encoding: 'utf8' });
  expect(pack.status, pack.stderr).toBe(0);
  const files: string[] = JSON.parse(pack.stdout)[0].files.map((f: { path: string }) => f.path);
  expect(files).toEqual(expect.arrayContaining(['dist/index.js', 'dist/index.d.ts', 'README.md', 'package.json']));
  expect(files.filter((f) => f.startsWith('src/') || f.includes('test'))).toEqual([]);
});
