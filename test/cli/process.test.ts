import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { connectDatabase } from '../../src/db/connect.js';
import { operatorEnv } from '../helpers/cli.js';
import { freePort, sleep } from '../helpers/processes.js';
import { ADMIN_PG_URL, createTestDatabase, TEST_DB, type TestDatabase } from '../helpers/db.js';

// The real CLI, as an operator runs it: `node dist/cli.js …` (built by `npm test`'s pretest).
const root = new URL('../../', import.meta.url).pathname;
const CLI = join(root, 'dist/cli.js');
const KEY = /gate_live_[0-9A-Za-z]{49}/;
const keysIn = (text: string) => text.match(new RegExp(KEY.source, 'g')) ?? [];

// Each CLI run opens its database from cold (PGlite takes seconds), so these tests get more time.
const SLOW = 120_000;

const children = new Set<ChildProcess>();
const cleanups: (() => Promise<void>)[] = [];

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error('dist/cli.js is missing: run `npm run build` first (npm test does)');
});

afterAll(async () => {
  for (const child of children) await stop(child, 'SIGKILL');
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
}, SLOW);

/** Our environment without any Gatehouse or database setting of the machine's, plus `extra`. */
const cliEnv = (extra: Record<string, string>): NodeJS.ProcessEnv => ({ ...operatorEnv(), GATEHOUSE_LOG_LEVEL: 'warn', ...extra });

/** Where a database lives, as environment: an empty PGlite folder, or an empty PostgreSQL database. */
async function freshTarget(): Promise<{ env: Record<string, string>; url?: string; dataDir?: string }> {
  if (TEST_DB === 'pglite') {
    const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-cli-'));
    cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
    return { env: { GATEHOUSE_DATA_DIR: dataDir }, dataDir };
  }
  // Not createTestDatabase(): that one is migrated already, and the CLI must be seen migrating.
  const name = `gatehouse_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_PG_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(ADMIN_PG_URL);
  url.pathname = `/${name}`;
  cleanups.push(() => dropDatabase(name));
  return { env: { DATABASE_URL: url.toString() }, url: url.toString() };
}

async function dropDatabase(name: string) {
  const admin = new pg.Client({ connectionString: ADMIN_PG_URL });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
}

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a one-shot command to the end. */
function runCli(args: string[], extra: Record<string, string>, timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: root, env: cliEnv(extra) });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`gatehouse ${args.join(' ')} did not finish in ${timeoutMs} ms: ${stdout} ${stderr}`));
    }, timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      // 'exit' can come before the pipes drain; 'close' waits for them.
      child.on('close', () => resolve({ code, signal, stdout, stderr }));
    });
  });
}

interface Server {
  child: ChildProcess;
  port: number;
  base: string;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `gatehouse serve` (or `worker`, with its ops port) on a free port; resolves once /healthz answers. */
async function serve(extra: Record<string, string>, args: string[] = [], verb: 'serve' | 'worker' = 'serve'): Promise<Server> {
  const port = await freePort();
  const portVar = verb === 'serve' ? 'GATEHOUSE_PORT' : 'GATEHOUSE_WORKER_PORT';
  const child = spawn(process.execPath, [CLI, verb, ...args], { cwd: root, env: cliEnv({ ...extra, [portVar]: String(port) }) });
  children.add(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    }),
  );
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  let dead = false;
  void exited.then(() => (dead = true));
  for (;;) {
    if (dead) throw new Error(`serve exited before answering: ${out} ${err}`);
    if (Date.now() > deadline) throw new Error(`serve did not answer /healthz in 60 s: ${out} ${err}`);
    try {
      const res = await fetch(`${base}/healthz`);
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  return { child, port, base, stdout: () => out, stderr: () => err, exited };
}

async function stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM') {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await gone;
  clearTimeout(timer);
}

async function api(base: string, key: string | null, method: string, path: string, body?: unknown) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** Opens the target's database in this process (the server must be stopped when it is PGlite). */
async function openTarget(target: { url?: string; dataDir?: string }) {
  const log = pino({ level: 'silent' });
  return connectDatabase(target.url ? { kind: 'postgres', url: target.url } : { kind: 'pglite', dataDir: target.dataDir! }, log);
}

// ---------------------------------------------------------------------------------------------

describe('invalid configuration', () => {
  test('GATEHOUSE_PORT=abc: serve exits 2 with a message naming GATEHOUSE_PORT, and starts nothing', async () => {
    const target = await freshTarget();
    const run = await runCli(['serve'], { ...target.env, GATEHOUSE_PORT: 'abc' });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('GATEHOUSE_PORT');
    expect(run.stdout).not.toMatch(KEY);
  }, SLOW);

  test('every bad variable is named in the one message, for any command', async () => {
    const run = await runCli(['migrate'], { GATEHOUSE_PORT: 'abc', DATABASE_URL: 'mysql://x', REDIS_URL: 'http://x', GATEHOUSE_ALLOW_PRIVATE_TARGETS: 'maybe' });
    expect(run.code).toBe(2);
    for (const name of ['GATEHOUSE_PORT', 'DATABASE_URL', 'REDIS_URL', 'GATEHOUSE_ALLOW_PRIVATE_TARGETS']) expect(run.stderr).toContain(name);
    // A configuration error is a message for a person, not a crash.
    expect(run.stderr).not.toMatch(/\bat .+\.js:\d+/);
  }, SLOW);
});

describe(`one process on ${TEST_DB}`, () => {
  let target: Awaited<ReturnType<typeof freshTarget>>;
  let bootstrapKey: string;
  let scriptKey: string;

  beforeAll(async () => {
    target = await freshTarget();
  }, SLOW);

  test('migrate --dry-run lists 001_foundation and applies nothing; migrate applies it; then nothing is pending', async () => {
    const dry = await runCli(['migrate', '--dry-run'], target.env);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('would apply 001_foundation');
    const again = await runCli(['migrate', '--dry-run'], target.env);
    expect(again.stdout, 'a dry run must not have applied anything').toContain('would apply 001_foundation');

    const real = await runCli(['migrate'], target.env);
    expect(real.code, real.stderr).toBe(0);
    const after = await runCli(['migrate', '--dry-run'], target.env);
    expect(after.code).toBe(0);
    expect(after.stdout).toContain('nothing to apply');
    expect(after.stdout).not.toContain('001_foundation');
  }, SLOW);

  test('serve prints a platform admin key once on first start; it works; SIGTERM drains an in-flight request and exits 0', async () => {
    const server = await serve(target.env);
    const keys = keysIn(server.stdout());
    expect(keys).toHaveLength(1);
    bootstrapKey = keys[0]!;
    expect(server.stderr()).not.toContain(bootstrapKey);

    expect((await api(server.base, null, 'GET', '/healthz')).status).toBe(200);
    const orgs = await api(server.base, bootstrapKey, 'GET', '/v1/organizations');
    expect(orgs.status).toBe(200);
    expect(orgs.body).toEqual({ data: [], next_cursor: null });
    expect((await api(server.base, null, 'GET', '/v1/organizations')).status).toBe(401);

    // A request whose body is still arriving when SIGTERM comes: the server has its headers, so it
    // must finish it, and only then exit.
    const payload = JSON.stringify({ name: 'created while draining', plan: 'starter' });
    const req = httpRequest({
      host: '127.0.0.1',
      port: server.port,
      method: 'POST',
      path: '/v1/organizations',
      headers: { authorization: `Bearer ${bootstrapKey}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
    });
    const inFlight = new Promise<{ status: number; body: string }>((resolve, reject) => {
      req.on('response', (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      });
      req.on('error', reject);
    });
    inFlight.catch(() => {}); // awaited below; this only stops an early failure counting as unhandled
    req.write(payload.slice(0, 10)); // headers and the first bytes; the rest after SIGTERM
    await sleep(500); // the server has read the headers by now
    server.child.kill('SIGTERM');
    await sleep(500); // it is draining: closed to new connections, waiting for ours
    expect(server.child.exitCode, 'the server exited with a request in flight').toBeNull();
    // While draining, a new request is refused (connection refused, or a 503), never served.
    const late = await fetch(`${server.base}/healthz`).then((r) => r.status, () => 'refused');
    expect(['refused', 503]).toContain(late);
    req.end(payload.slice(10));
    const done = await inFlight;
    expect(done.status, done.body).toBe(201);
    expect(JSON.parse(done.body)).toMatchObject({ name: 'created while draining' });
    expect(await server.exited).toEqual({ code: 0, signal: null });
  }, SLOW);

  test('admin create-key prints a new platform admin key (the server is stopped)', async () => {
    const run = await runCli(['admin', 'create-key', '--name', 'x'], target.env);
    expect(run.code, run.stderr).toBe(0);
    const keys = keysIn(run.stdout);
    expect(keys).toHaveLength(1);
    scriptKey = keys[0]!;
    expect(scriptKey).not.toBe(bootstrapKey);
  }, SLOW);

  test('a restart on the same database prints no new key; the old and the created keys both work; the drained request was kept', async () => {
    const server = await serve(target.env);
    try {
      expect(server.stdout()).not.toMatch(KEY);
      const orgs = await api(server.base, bootstrapKey, 'GET', '/v1/organizations');
      expect(orgs.status).toBe(200);
      expect(orgs.body.data.map((o: { name: string }) => o.name)).toEqual(['created while draining']);
      expect((await api(server.base, scriptKey, 'GET', '/v1/organizations')).status).toBe(200);
      expect((await api(server.base, null, 'POST', '/v1/keys/verify', { key: scriptKey })).body).toMatchObject({ valid: true, workspace_id: null });
    } finally {
      await stop(server.child);
    }
    expect(await server.exited).toEqual({ code: 0, signal: null });
  }, SLOW);

  test('audit verify prints `ok N entries` and exits 0', async () => {
    const run = await runCli(['audit', 'verify'], target.env);
    expect(run.code, run.stderr).toBe(0);
    const m = /^ok (\d+) entries$/m.exec(run.stdout);
    expect(m, run.stdout).not.toBeNull();
    // bootstrap key, organization, created key at least.
    expect(Number(m![1])).toBeGreaterThanOrEqual(3);
  }, SLOW);

  test('after an entry is altered behind the trigger, audit verify exits 1 naming it', async () => {
    const database = await openTarget(target);
    let seq: string;
    let id: string;
    try {
      const row = await sql<{ seq: string; id: string }>`select seq::text as seq, id from audit_log order by seq limit 1 offset 1`.execute(database.db);
      ({ seq, id } = row.rows[0]);
      // The append-only trigger refuses the UPDATE; an attacker with the database owner's rights can
      // switch it off, which is exactly what the hash chain is there to catch.
      await database.exec(`
        ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only;
        UPDATE audit_log SET action = 'tampered.action' WHERE seq = ${Number(seq)};
        ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only;`);
    } finally {
      await database.close();
    }
    const run = await runCli(['audit', 'verify'], target.env);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(`seq=${seq}`);
    expect(run.stdout).toContain(id);
    expect(run.stdout).not.toMatch(/^ok /m);
  }, SLOW);
});

// Several processes on one database: only PostgreSQL can be shared (PGlite is single-process).
describe.runIf(TEST_DB === 'postgres')('two processes sharing one PostgreSQL database', () => {
  let testDb: TestDatabase;
  let p1: Server;
  let p2: Server;
  let admin: string;
  let workspaceId: string;

  beforeAll(async () => {
    testDb = await createTestDatabase();
    await testDb.database.close(); // the servers open their own connections
    cleanups.push(() => dropDatabase(new URL(testDb.url!).pathname.slice(1)));
    // The receivers are on loopback: private targets allowed (a workspace's test mode does not reach them).
    const env = { DATABASE_URL: testDb.url!, GATEHOUSE_ALLOW_PRIVATE_TARGETS: 'true' };
    p1 = await serve(env);
    p2 = await serve(env, ['--no-worker']);
    const printed = [...keysIn(p1.stdout()), ...keysIn(p2.stdout())];
    expect(printed, 'exactly one of the two prints the bootstrap key').toHaveLength(1);
    admin = printed[0]!;
    const org = await api(p1.base, admin, 'POST', '/v1/organizations', { name: 'shared' });
    const ws = await api(p1.base, admin, 'POST', `/v1/organizations/${org.body.id}/workspaces`, { name: 'shared ws' });
    workspaceId = ws.body.id;
  }, SLOW);

  afterAll(async () => {
    await Promise.all([p1 && stop(p1.child), p2 && stop(p2.child)]);
  }, SLOW);

  /** Issues a key through process 1 and makes sure process 2 has it cached as valid. */
  async function warmKey(name: string) {
    const created = await api(p1.base, admin, 'POST', `/v1/workspaces/${workspaceId}/api-keys`, { name, scopes: ['workspaces:read'] });
    expect(created.status).toBe(201);
    for (let i = 0; i < 3; i++) expect((await api(p2.base, created.body.key, 'GET', `/v1/workspaces/${workspaceId}`)).status).toBe(200);
    return created.body as { id: string; key: string };
  }

  /** Polls process 2 every 50 ms until it refuses `key`; returns the ms since `since` (or throws). */
  async function msUntilRefused(key: string, since: number) {
    for (;;) {
      const res = await api(p2.base, key, 'GET', `/v1/workspaces/${workspaceId}`);
      const elapsed = Date.now() - since;
      if (res.status === 401) return elapsed;
      expect(res.status).toBe(200);
      if (elapsed > 5000) throw new Error(`process 2 still accepted the key ${elapsed} ms later`);
      await sleep(50);
    }
  }

  test('a key revoked through process 1 is refused by process 2 within 1000 ms', async () => {
    const key = await warmKey('revoke me');
    const revoked = await api(p1.base, admin, 'DELETE', `/v1/api-keys/${key.id}`);
    const at = Date.now();
    expect(revoked.status).toBe(200);
    expect(revoked.body.status).toBe('revoked');
    const delay = await msUntilRefused(key.key, at);
    console.log(`cross-process revocation seen by process 2 after ${delay} ms`);
    expect(delay).toBeLessThanOrEqual(1000);
    expect((await api(p2.base, null, 'POST', '/v1/keys/verify', { key: key.key })).body).toEqual({ valid: false, code: 'revoked' });
  }, SLOW);

  test('a rotation with grace_s 0 through process 1 is seen by process 2 within 1000 ms; the new key works there', async () => {
    const key = await warmKey('rotate me');
    const rotated = await api(p1.base, admin, 'POST', `/v1/api-keys/${key.id}/rotate`, { grace_s: 0 });
    const at = Date.now();
    expect(rotated.status).toBe(201);
    const delay = await msUntilRefused(key.key, at);
    console.log(`cross-process rotation (grace_s 0) seen by process 2 after ${delay} ms`);
    expect(delay).toBeLessThanOrEqual(1000);
    expect((await api(p2.base, rotated.body.key, 'GET', `/v1/workspaces/${workspaceId}`)).status).toBe(200);
  }, SLOW);

  test('a worker-only process answers /healthz, /readyz and /metrics on GATEHOUSE_WORKER_PORT, with its delivery counters; SIGTERM exits 0', async () => {
    // Process 1 runs a worker too: stop it (its clean exit is checked below) so only the
    // worker-only process can make the delivery this test counts.
    await stop(p1.child);
    const w = await serve({ DATABASE_URL: testDb.url!, GATEHOUSE_ALLOW_PRIVATE_TARGETS: 'true' }, [], 'worker');
    const received: string[] = [];
    const rx = createHttpServer((req, res) => {
      req.on('data', () => undefined).on('end', () => {
        received.push(String(req.headers['webhook-id']));
        res.end('ok');
      });
    }).listen(0, '127.0.0.1');
    await new Promise((r) => rx.once('listening', r));
    try {
      expect((await (await fetch(`${w.base}/readyz`)).json())).toEqual({ status: 'ready', database: 'postgres' });
      expect((await fetch(`${w.base}/v1/workspaces`)).status, 'no API on the ops port').toBe(404);
      const url = `http://127.0.0.1:${(rx.address() as { port: number }).port}/hook`;
      expect((await api(p2.base, admin, 'POST', `/v1/workspaces/${workspaceId}/webhooks`, { url, events: ['lead.created'] })).status).toBe(201);
      expect((await api(p2.base, admin, 'POST', `/v1/workspaces/${workspaceId}/events`, { type: 'lead.created', payload: { n: 1 } })).status).toBe(202);
      const deadline = Date.now() + 20_000;
      let metrics = '';
      while (!/gatehouse_webhook_deliveries_total\{outcome="succeeded"\} [1-9]/.test(metrics)) {
        if (Date.now() > deadline) throw new Error(`no succeeded delivery counted by a worker: ${metrics.slice(0, 500)}`);
        await sleep(200);
        metrics = await (await fetch(`${w.base}/metrics`)).text();
      }
      expect(received.length).toBeGreaterThanOrEqual(1);
    } finally {
      rx.close();
      await stop(w.child);
    }
    expect(await w.exited).toEqual({ code: 0, signal: null });
  }, SLOW);

  test('both processes stop cleanly on SIGTERM', async () => {
    await Promise.all([stop(p1.child), stop(p2.child)]);
    expect(await p1.exited).toEqual({ code: 0, signal: null });
    expect(await p2.exited).toEqual({ code: 0, signal: null });
  }, SLOW);
});
