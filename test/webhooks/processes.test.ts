import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';
import { CLI, ROOT } from '../helpers/cli.js';
import { TEST_DB } from '../helpers/db.js';
import { eventually, startReceiver, type Receiver } from '../helpers/webhooks.js';

// Real `gatehouse worker` processes sharing one PostgreSQL database (PGlite is one process's).
const masterKeys = `v1:${randomBytes(32).toString('base64')}`;
const children = new Set<ChildProcess>();

function startWorker(url: string): ChildProcess {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(GATEHOUSE_|DATABASE_URL$|REDIS_URL$)/.test(k)) env[k] = v;
  const child = spawn(process.execPath, [CLI, 'worker'], {
    cwd: ROOT,
    env: {
      ...env,
      DATABASE_URL: url,
      GATEHOUSE_MASTER_KEYS: masterKeys,
      GATEHOUSE_ALLOW_PRIVATE_TARGETS: 'true',
      GATEHOUSE_DATA_DIR: mkdtempSync(join(tmpdir(), 'gatehouse-worker-')),
      GATEHOUSE_LOG_LEVEL: 'warn',
      GATEHOUSE_WEBHOOK_RETRY_SCHEDULE: '0.1,0.1,0.1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.resume();
  child.stderr!.resume();
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

describe.runIf(TEST_DB === 'postgres')('webhook workers in separate processes', () => {
  let t: TestApp;
  let rx: Receiver;
  let ws: { id: string };

  beforeAll(async () => {
    t = await createTestApp({ GATEHOUSE_MASTER_KEYS: masterKeys });
    ({ workspace: ws } = await seedWorkspace(t));
    rx = await startReceiver();
  });
  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    await rx?.close();
    await t?.close();
  });

  const count = async (status: string) => {
    const r = await sql<{ n: number }>`select count(*)::int as n from webhook_deliveries where workspace_id = ${ws.id} and status = ${status}`.execute(t.db.database.db);
    return r.rows[0].n;
  };

  test('two workers share 2,000 deliveries: every one delivered exactly once, both did some', async () => {
    const paths = ['/a', '/b', '/c', '/d'];
    for (const p of paths) {
      const res = await t.call(t.adminKey, 'POST', `/v1/workspaces/${ws.id}/webhooks`, { url: `${rx.url}${p}`, events: ['lead.created'], max_in_flight: 16 });
      expect(res.status, res.raw).toBe(201);
    }
    for (let i = 0; i < 500; i += 50) {
      await Promise.all(Array.from({ length: 50 }, (_, j) => t.call(t.adminKey, 'POST', `/v1/workspaces/${ws.id}/events`, { type: 'lead.created', payload: { i: i + j } })));
    }
    startWorker(t.db.url!);
    startWorker(t.db.url!);
    await eventually(async () => (await count('succeeded')) === 2000, 120_000, 250);
    const seen = new Map<string, number>();
    for (const r of rx.received) {
      const k = `${r.url} ${r.headers['webhook-id']}`;
      seen.set(k, (seen.get(k) ?? 0) + 1);
    }
    expect(seen.size).toBe(2000);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    const workers = await sql<{ worker_id: string; n: number }>`
      select worker_id, count(*)::int as n from webhook_attempts where workspace_id = ${ws.id} group by 1`.execute(t.db.database.db);
    expect(workers.rows).toHaveLength(2);
    expect(workers.rows.every((w) => w.n > 0)).toBe(true);
    for (const c of children) c.kill('SIGTERM');
  }, 180_000);

  test('kill -9 of a worker mid-delivery loses nothing: another finishes its deliveries', async () => {
    const before = rx.received.length;
    rx.respondWith(() => ({ delayMs: 1500 }));
    const ep = await t.call(t.adminKey, 'POST', `/v1/workspaces/${ws.id}/webhooks`, { url: `${rx.url}/slow`, events: ['meeting.booked'], max_in_flight: 4 });
    const sent = await Promise.all(Array.from({ length: 8 }, (_, i) => t.call(t.adminKey, 'POST', `/v1/workspaces/${ws.id}/events`, { type: 'meeting.booked', payload: { i } })));
    const first = startWorker(t.db.url!);
    await eventually(async () => rx.received.length > before, 30_000);
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    // Its leases would end on their own after the endpoint's timeout plus 30 s; ended here at once.
    await sql`update webhook_deliveries set locked_until = now() - interval '1 second' where status = 'delivering'`.execute(t.db.database.db);
    rx.respondWith(() => undefined);
    startWorker(t.db.url!);
    const epId = ep.body.id as string;
    await eventually(async () => {
      const r = await sql<{ n: number }>`select count(*)::int as n from webhook_deliveries where endpoint_id = ${epId} and status = 'succeeded'`.execute(t.db.database.db);
      return r.rows[0].n === 8;
    }, 60_000, 250);
    const received = new Set(rx.received.filter((r) => r.url === '/slow').map((r) => r.headers['webhook-id']));
    expect(received).toEqual(new Set(sent.map((s) => s.body.event_id)));
  }, 120_000);
});
