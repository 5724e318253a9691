import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { cliTarget, ROOT } from '../helpers/cli.js';
import { startGatehouse, type GatehouseProcess } from '../helpers/processes.js';

// What the container image does (deploy/Dockerfile): the built code beside production dependencies
// only. The portal is bundled by Vite, so none of its libraries may be needed at run time.
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-prod-'));
let target: Awaited<ReturnType<typeof cliTarget>> | undefined;
let gatehouse: GatehouseProcess | undefined;
afterAll(async () => {
  await gatehouse?.kill('SIGKILL');
  await target?.drop();
  rmSync(dir, { recursive: true, force: true });
});

test('after a build, `npm ci --omit=dev` runs `gatehouse serve`: API, portal and compression', async () => {
  expect(existsSync(join(ROOT, 'dist/cli.js')) && existsSync(join(ROOT, 'dist/web/index.html')), 'run npm run build first').toBe(true);
  for (const path of ['package.json', 'package-lock.json', 'bin', 'dist']) cpSync(join(ROOT, path), join(dir, path), { recursive: true });
  execFileSync('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: dir, stdio: 'pipe', timeout: 240_000 });
  expect(existsSync(join(dir, 'node_modules/fastify'))).toBe(true);
  for (const portalOnly of ['react', 'react-dom', '@mantine/core', 'recharts', '@tanstack/react-query', 'openapi-fetch']) {
    expect(existsSync(join(dir, 'node_modules', portalOnly)), `${portalOnly} is installed without dev dependencies`).toBe(false);
  }

  target = await cliTarget();
  gatehouse = await startGatehouse('all', target.env, undefined, dir);
  await gatehouse.ready(120_000);
  const adminKey = /gate_live_[0-9A-Za-z]{49}/.exec(gatehouse.output())?.[0];
  expect(adminKey, gatehouse.output()).toBeDefined();

  const orgs = await fetch(`${gatehouse.url}/v1/organizations`, { headers: { authorization: `Bearer ${adminKey}` } });
  expect(orgs.status).toBe(200);
  const page = await fetch(`${gatehouse.url}/`, { headers: { accept: 'text/html' } });
  expect(page.status).toBe(200);
  const html = await page.text();
  const script = /<script[^>]+src="([^"]+\.js)"/.exec(html)?.[1];
  expect(script, html).toBeDefined();
  // fetch decodes what it asked for; the header still says how it travelled.
  const asset = await fetch(`${gatehouse.url}${script}`, { headers: { 'accept-encoding': 'gzip' } });
  expect(asset.status).toBe(200);
  expect(asset.headers.get('content-encoding')).toBe('gzip');
  expect((await asset.text()).length).toBeGreaterThan(10_000);

  expect(await gatehouse.kill('SIGTERM')).toEqual({ code: 0, signal: null });
}, 400_000);
