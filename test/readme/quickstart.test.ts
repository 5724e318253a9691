import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createTestDatabase, TEST_DB, type TestDatabase } from '../helpers/db.js';

// The README's quickstart, run as written against a real `gatehouse serve`: only BASE and ADMIN,
// which the reader fills in, are substituted.
const root = new URL('../../', import.meta.url).pathname;

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

let child: ChildProcess;
let testDb: TestDatabase | undefined;
let port: number;
let adminKey: string;

beforeAll(async () => {
  port = await freePort();
  const env: Record<string, string> = { ...process.env, GATEHOUSE_PORT: String(port), GATEHOUSE_LOG_LEVEL: 'warn' } as never;
  if (TEST_DB === 'postgres') {
    testDb = await createTestDatabase();
    await testDb.database.close(); // the server migrates and bootstraps on its own
    env.DATABASE_URL = testDb.url!;
  } else {
    env.GATEHOUSE_DATA_DIR = mkdtempSync(join(tmpdir(), 'gatehouse-quickstart-'));
  }
  child = spawn(process.execPath, ['dist/cli.js', 'serve'], { cwd: root, env });
  let out = '';
  adminKey = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no admin key printed: ${out}`)), 30_000);
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /gate_live_[0-9A-Za-z]{49}/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[0]);
      }
    });
    child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${out}`)));
  });
});

afterAll(async () => {
  child?.kill('SIGTERM');
  await new Promise((r) => child?.once('exit', r));
  if (testDb) {
    const { default: pg } = await import('pg');
    const admin = new pg.Client({ connectionString: process.env.GATEHOUSE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test' });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${new URL(testDb.url!).pathname.slice(1)} WITH (FORCE)`);
    await admin.end();
  }
});

test('the README quickstart works as written', () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const block = readme.split('## Five-minute quickstart')[1].split('```bash\n')[1].split('```')[0];
  expect(block).toMatch(/^BASE=http:\/\/localhost:8080$/m);
  expect(block).toMatch(/^ADMIN=gate_live_\.\.\./m);
  const script = block
    .replace(/^BASE=.*$/m, `BASE=http://127.0.0.1:${port}`)
    .replace(/^ADMIN=.*$/m, `ADMIN=${adminKey}`);
  // A newcomer's shell: no BASH_ENV start-up file from the machine running the suite.
  const { BASH_ENV: _ignored, ...env } = process.env;
  const run = spawnSync('bash', ['--noprofile', '--norc', '-euo', 'pipefail', '-c', script], { encoding: 'utf8', timeout: 60_000, env });
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l));
  expect(lines[0]).toMatchObject({ valid: true, code: 'valid', scopes: ['keys:read', 'workspaces:read'] });
  expect(lines[1]).toMatchObject({ name: 'Client One', status: 'active' });
  expect(lines[2]).toMatchObject({ status: 'revoked' });
  expect(lines[3]).toEqual({ valid: false, code: 'revoked' });
  expect(lines[4].data.map((e: { action: string }) => e.action)).toEqual(['key.revoked', 'key.created', 'workspace.created']);
  expect(lines[5]).toMatchObject({ ok: true });
});

test("the README's inbound example works as written", async () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const block = readme.split('### Inbound webhooks: point a provider at Gatehouse')[1].split('```bash\n')[1].split('```')[0];
  const base = `http://127.0.0.1:${port}`;
  const call = async (path: string, body: unknown) => {
    const res = await fetch(base + path, { method: 'POST', headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return (await res.json()) as { id: string };
  };
  const org = await call('/v1/organizations', { name: 'Inbound Agency' });
  const ws = await call(`/v1/organizations/${org.id}/workspaces`, { name: 'Inbound Client' });
  // The shell the quickstart left: BASE, ADMIN, WS and the json helper.
  const prelude = `BASE=${base}\nADMIN=${adminKey}\nWS=${ws.id}\njson() { node -pe "JSON.parse(require('fs').readFileSync(0, 'utf8'))$1"; }\n`;
  const { BASH_ENV: _ignored, ...env } = process.env;
  const run = spawnSync('bash', ['--noprofile', '--norc', '-euo', 'pipefail', '-c', prelude + block], { encoding: 'utf8', timeout: 60_000, env });
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  const lines = run.stdout.trim().split('\n');
  const first = JSON.parse(lines[0]);
  expect(first).toMatchObject({ duplicate: false });
  expect(JSON.parse(lines[1])).toEqual({ id: first.id, duplicate: true });
  expect(JSON.parse(lines[2])).toMatchObject({ error: { code: 'unauthenticated', details: { reason: 'missing_token' } } });
  expect(lines[3]).toMatch(/^token (pending|processed)$/);
});
