import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';
import { CLI, ROOT } from '../helpers/cli.js';
import { TEST_DB } from '../helpers/db.js';
import { eventually, startReceiver, type Receiver, type Responder } from '../helpers/webhooks.js';

// Real `gatehouse worker` processes (node dist/cli.js worker) sharing the test app's PostgreSQL
// database; the test app itself runs no delivery worker, so every delivery is made by a child.
// PGlite is one process's database, so this file runs on PostgreSQL only (as test/cli does).
const SLOW = 180_000;
// The workers must open the endpoint secrets the API sealed: the same master key on both sides.
const MASTER_KEYS = `v1:${randomBytes(32).toString('base64')}`;

interface Child {
  name: string;
  proc: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}
const children = new Set<Child>();
const dataDirs: string[] = [];

/** Our environment without the machine's Gatehouse or database settings, plus `extra` (as test/cli). */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(GATEHOUSE_|DATABASE_URL$|REDIS_URL$|PGAPPNAME$)/.test(k)) env[k] = v;
  return { ...env, GATEHOUSE_LOG_LEVEL: 'warn', ...extra };
}

/**
 * `gatehouse worker` on the test database. PGAPPNAME names its connections in pg_stat_activity,
 * which is how the test sees that its delivery loop is running.
 */
function startWorker(url: string, name: string): Child {
  const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-worker-'));
  dataDirs.push(dataDir);
  const proc = spawn(process.execPath, [CLI, 'worker'], {
    cwd: ROOT,
    env: cleanEnv({
      DATABASE_URL: url,
      GATEHOUSE_MASTER_KEYS: MASTER_KEYS,
      GATEHOUSE_ALLOW_PRIVATE_TARGETS: 'true',
      GATEHOUSE_DATA_DIR: dataDir,
      GATEHOUSE_WEBHOOK_RETRY_SCHEDULE: '0.05,0.1,0.1',
      PGAPPNAME: name,
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const child = { name, proc, exited, output: () => out };
  children.add(child);
  void exited.then(() => children.delete(child));
  return child;
}

async function kill(child: Child, signal: NodeJS.Signals) {
  if (child.proc.exitCode === null && child.proc.signalCode === null) child.proc.kill(signal);
  const timer = setTimeout(() => child.proc.kill('SIGKILL'), 30_000);
  const result = await child.exited;
  clearTimeout(timer);
  return result;
}

afterAll(async () => {
  await Promise.all([...children].map((c) => kill(c, 'SIGKILL')));
  for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
}, SLOW);

describe.runIf(TEST_DB === 'postgres')('webhook delivery workers in separate processes', () => {
  let t: TestApp;
  let rx: Receiver;
  let ws: { id: string };
  let plan: Responder = () => undefined;

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error('dist/cli.js is missing: run `npm run build` first (npm test does)');
    t = await createTestApp({ GATEHOUSE_MASTER_KEYS: MASTER_KEYS });
    ({ workspace: ws } = await seedWorkspace(t));
    rx = await startReceiver((req, n) => plan(req, n));
  });
  afterAll(async () => {
    await Promise.all([...children].map((c) => kill(c, 'SIGKILL')));
    await rx?.close();
    await t?.close();
  }, SLOW);

  const db = () => t.db.database.db;
  const statusCounts = async (endpointIds: string[]) => {
    const r = await sql<{ status: string; n: number }>`
      select status, count(*)::int as n from webhook_deliveries where endpoint_id = any(${endpointIds}::text[]) group by 1`.execute(db());
    return Object.fromEntries(r.rows.map((x) => [x.status, x.n])) as Record<string, number>;
  };
  /** Resolves once the worker's delivery loop has polled the queue (seen in pg_stat_activity). */
  const ready = (child: Child) =>
    eventually(async () => {
      if (child.proc.exitCode !== null) throw new Error(`${child.name} exited: ${child.output()}`);
      const r = await sql<{ n: number }>`
        select count(*)::int as n from pg_stat_activity
        where datname = current_database() and application_name = ${child.name} and query like '%from webhook_deliveries%'`.execute(db());
      return r.rows[0].n > 0;
    }, 60_000, 100);
  async function endpoint(path: string, events: string[], extra: Record<string, unknown> = {}) {
    const res = await t.call(t.adminKey, 'POST', `/v1/workspaces/${ws.id}/webhooks`, { url: `${rx.url}${path}`, events, ...extra });
    expect(res.status, res.raw).toBe(201);
    return res.body.id as string;
  }
  async function send(type: string, payload: unknown) {
    const res = await t.call(t.adminKey, 'POST', `/v1/workspaces/${ws.id}/events`, { type, payload });
    expect(res.status, res.raw).toBe(202);
    return res.body as { event_id: string; deliveries: number };
  }

  test('two workers share 2,000 deliveries: each received exactly once, all succeeded, both did some', async () => {
    plan = () => ({ delayMs: 5 });
    const paths = ['/w-a', '/w-b', '/w-c', '/w-d'];
    const endpointIds: string[] = [];
    for (const p of paths) endpointIds.push(await endpoint(p, ['lead.created'], { max_in_flight: 16 }));
    const w1 = startWorker(t.db.url!, 'gh-test-worker-1');
    const w2 = startWorker(t.db.url!, 'gh-test-worker-2');
    // Both are polling before the first event, so both are woken by every NOTIFY.
    await Promise.all([ready(w1), ready(w2)]);

    const eventIds: string[] = [];
    for (let i = 0; i < 500; i += 50) {
      const batch = await Promise.all(Array.from({ length: 50 }, (_, j) => send('lead.created', { i: i + j })));
      for (const b of batch) {
        expect(b.deliveries).toBe(4);
        eventIds.push(b.event_id);
      }
    }
    await eventually(async () => (await statusCounts(endpointIds)).succeeded === 2000, 120_000, 250);
    expect(await statusCounts(endpointIds)).toEqual({ succeeded: 2000 });

    const seen = new Map<string, number>();
    for (const r of rx.received) {
      const k = `${r.url} ${r.headers['webhook-id']}`;
      seen.set(k, (seen.get(k) ?? 0) + 1);
    }
    const expected = paths.flatMap((p) => eventIds.map((id) => `${p} ${id}`));
    expect(seen.size).toBe(2000);
    expect(new Set(seen.keys())).toEqual(new Set(expected));
    expect([...seen].filter(([, n]) => n > 1), 'received more than once').toEqual([]);

    // Every attempt row names its worker as host:pid:…; both children's pids must be there.
    const byWorker = await sql<{ pid: string; n: number }>`
      select split_part(worker_id, ':', 2) as pid, count(*)::int as n
      from webhook_attempts where endpoint_id = any(${endpointIds}::text[]) group by 1`.execute(db());
    const counts = new Map(byWorker.rows.map((r) => [Number(r.pid), r.n]));
    console.log(`2,000 deliveries split between the workers: ${[w1, w2].map((w) => `${w.name} ${counts.get(w.proc.pid!) ?? 0}`).join(', ')}`);
    expect(new Set(counts.keys())).toEqual(new Set([w1.proc.pid, w2.proc.pid]));
    expect(counts.get(w1.proc.pid!)! + counts.get(w2.proc.pid!)!).toBe(2000);
    expect(counts.get(w1.proc.pid!)).toBeGreaterThan(0);
    expect(counts.get(w2.proc.pid!)).toBeGreaterThan(0);

    // They drain and exit 0 on SIGTERM.
    const [s1, s2] = await Promise.all([kill(w1, 'SIGTERM'), kill(w2, 'SIGTERM')]);
    expect(s1, w1.output()).toEqual({ code: 0, signal: null });
    expect(s2, w2.output()).toEqual({ code: 0, signal: null });
  }, SLOW);

  test('kill -9 of a worker mid-delivery loses nothing: after its leases end, another worker delivers everything', async () => {
    let slowAnswers = true;
    plan = (req) => (req.url === '/k-slow' && slowAnswers ? { delayMs: 3000 } : undefined);
    const epId = await endpoint('/k-slow', ['meeting.booked'], { max_in_flight: 4 });
    const sent: string[] = [];
    for (let i = 0; i < 8; i++) sent.push((await send('meeting.booked', { i })).event_id);
    const inFlightHits = () => rx.received.filter((r) => r.url === '/k-slow');

    const w1 = startWorker(t.db.url!, 'gh-test-worker-3');
    // Four requests open at the receiver (its max_in_flight), none answered yet (answers take 3 s).
    await eventually(async () => inFlightHits().length >= 4, 60_000, 20);
    const held = await sql<{ id: string; event_id: string; locked_by: string; lease_s: number }>`
      select d.id, d.event_id, d.locked_by, extract(epoch from d.locked_until - now())::float8 as lease_s
      from webhook_deliveries d where endpoint_id = ${epId} and status = 'delivering'`.execute(db());
    expect(held.rows).toHaveLength(4);
    // Each lease is the endpoint's timeout (30 s by default) plus a 30 s margin, not the longest
    // timeout any endpoint may have: a dead worker's deliveries come back within a minute.
    for (const row of held.rows) {
      expect(row.lease_s).toBeGreaterThan(50);
      expect(row.lease_s).toBeLessThanOrEqual(60);
    }
    expect(held.rows.every((r) => r.locked_by.split(':')[1] === String(w1.proc.pid))).toBe(true);
    expect(await kill(w1, 'SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });

    // Nothing was recorded for the interrupted attempts; the deliveries are still leased to the
    // dead worker. Its leases would end by themselves after the endpoint's timeout plus 30 s;
    // the test ends them at once rather than wait.
    expect(await statusCounts([epId])).toEqual({ delivering: 4, pending: 4 });
    const logged = await sql<{ n: number }>`select count(*)::int as n from webhook_attempts where endpoint_id = ${epId}`.execute(db());
    expect(logged.rows[0].n).toBe(0);
    await sql`update webhook_deliveries set locked_until = now() - interval '1 second' where endpoint_id = ${epId} and status = 'delivering'`.execute(db());

    slowAnswers = false;
    const w2 = startWorker(t.db.url!, 'gh-test-worker-4');
    await eventually(async () => (await statusCounts([epId])).succeeded === 8, 60_000, 250);
    expect(await statusCounts([epId])).toEqual({ succeeded: 8 });

    const receivedIds = new Set(inFlightHits().map((r) => String(r.headers['webhook-id'])));
    expect(receivedIds).toEqual(new Set(sent));
    // The interrupted ones were sent again with the same webhook-id; the interrupted attempt counts.
    for (const row of held.rows) {
      expect(inFlightHits().filter((r) => r.headers['webhook-id'] === row.event_id).length).toBeGreaterThanOrEqual(2);
      const d = (await t.call(t.adminKey, 'GET', `/v1/deliveries/${row.id}`)).body;
      expect(d).toMatchObject({ status: 'succeeded', attempts: 2 });
      expect(d.attempt_log).toHaveLength(1);
      expect(d.attempt_log[0]).toMatchObject({ attempt: 2, outcome: 'succeeded' });
      expect(d.attempt_log[0].worker_id.split(':')[1]).toBe(String(w2.proc.pid));
    }
    expect(await kill(w2, 'SIGTERM'), w2.output()).toEqual({ code: 0, signal: null });
  }, SLOW);
});
