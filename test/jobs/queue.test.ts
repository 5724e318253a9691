import {
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type CompiledQuery,
  type DatabaseConnection,
  type Driver,
  type QueryResult,
} from 'kysely';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Database } from '../../src/db/connect.js';
import type { DB } from '../../src/db/types.js';
import { JOB, jobHandlers } from '../../src/jobs/handlers.js';
import { claimDueJobs, completeJob, enqueue, failJob } from '../../src/jobs/queue.js';
import { createWorker, type JobHandlers, type Worker } from '../../src/jobs/worker.js';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';

// One app (and so one database) for the file: the queue functions run directly against its
// database, the end-to-end jobs through its services.
let t: TestApp;
let database: Database;
const quiet = pino({ level: 'silent' });
const running: Worker[] = [];

beforeAll(async () => {
  t = await createTestApp();
  database = t.db.database;
});
afterAll(async () => {
  for (const w of running) await w.stop();
  await t.close();
});

const db = () => database.db;
let kindCounter = 0;
/** A job kind of its own per test, so no test claims another's jobs. */
const freshKind = (label: string) => `test.${label}.${++kindCounter}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Moves the app's clock past every given time (a grace or expiry), instead of waiting for it. */
const advancePast = (...isoTimes: string[]) => t.clock.advance(Math.max(...isoTimes.map(Date.parse)) + 200 - t.clock.now());

async function waitFor<T>(probe: () => T | Promise<T>, what: string, timeoutMs = 10_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const jobRow = (id: string) => db().selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
const jobsOfKind = (kind: string) => db().selectFrom('jobs').selectAll().where('kind', '=', kind).orderBy('id').execute();

function startWorker<Payloads>(handlers: JobHandlers<Payloads>, opts: { pollMs?: number; concurrency?: number; database?: Database } = {}) {
  const worker = createWorker({
    database: opts.database ?? database,
    log: quiet,
    metrics: t.services.metrics,
    handlers,
    concurrency: opts.concurrency ?? 2,
    pollMs: opts.pollMs ?? 100,
  });
  running.push(worker);
  return worker;
}

async function stopWorker(worker: Worker) {
  await worker.stop();
  running.splice(running.indexOf(worker), 1);
}

/**
 * The same database seen through a Kysely that runs each statement on the real one and then calls
 * `afterQuery`, so a test can act at an exact point of the worker's loop. No transactions.
 */
function observedDatabase(afterQuery: (sqlText: string) => Promise<void>, onNotify: (channel: string, payload: string) => void): Database {
  const connection: DatabaseConnection = {
    async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
      const result = (await database.db.executeQuery(query)) as QueryResult<R>;
      await afterQuery(query.sql);
      return result;
    },
    // eslint-disable-next-line require-yield
    async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
      throw new Error('not used');
    },
  };
  const refuse = async () => {
    throw new Error('the observed database runs no transactions');
  };
  const driver: Driver = {
    init: async () => {},
    acquireConnection: async () => connection,
    beginTransaction: refuse,
    commitTransaction: refuse,
    rollbackTransaction: refuse,
    releaseConnection: async () => {},
    destroy: async () => {},
  };
  const observed = new Kysely<DB>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => driver,
      createIntrospector: (k) => new PostgresIntrospector(k),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
  });
  return {
    ...database,
    db: observed,
    listen: (channel, onMessage) =>
      database.listen(channel, (payload) => {
        onNotify(channel, payload);
        onMessage(payload);
      }),
  };
}

describe('the queue', () => {
  test('enqueue, then claim marks the job running under the claimer', async () => {
    const kind = freshKind('basic');
    expect(await enqueue(db(), { kind, payload: { n: 1, nested: { ok: true } } })).not.toBeNull();
    const [job, ...rest] = await claimDueJobs(db(), 'worker-a', [kind], 10, 60_000);
    expect(rest).toHaveLength(0);
    expect(job).toMatchObject({ kind, payload: { n: 1, nested: { ok: true } }, attempts: 1, max_attempts: 10 });
    const row = await jobRow(job.id);
    expect(row).toMatchObject({ status: 'running', locked_by: 'worker-a', attempts: 1 });
    expect(row.locked_until!.getTime()).toBeGreaterThan(Date.now() + 30_000);
    // Leased: nobody else gets it, nor does the same worker twice.
    expect(await claimDueJobs(db(), 'worker-b', [kind], 10, 60_000)).toEqual([]);
    expect(await claimDueJobs(db(), 'worker-a', [kind], 10, 60_000)).toEqual([]);
    await completeJob(db(), job.id, 'worker-a');
    expect(await jobRow(job.id)).toMatchObject({ status: 'done', locked_by: null, locked_until: null });
    expect((await jobRow(job.id)).finished_at).not.toBeNull();
    expect(await claimDueJobs(db(), 'worker-b', [kind], 10, 60_000)).toEqual([]);
  });

  test('only due jobs of the asked kinds are claimed, oldest run_at first', async () => {
    const kind = freshKind('due');
    const other = freshKind('other');
    await enqueue(db(), { kind, payload: { which: 'later' }, runAt: new Date(Date.now() + 60_000) });
    await enqueue(db(), { kind, payload: { which: 'second' }, runAt: new Date(Date.now() - 1000) });
    await enqueue(db(), { kind, payload: { which: 'first' }, runAt: new Date(Date.now() - 5000) });
    await enqueue(db(), { kind: other, payload: {} });
    const first = await claimDueJobs(db(), 'w', [kind], 1, 60_000);
    expect(first.map((j) => j.payload)).toEqual([{ which: 'first' }]);
    const rest = await claimDueJobs(db(), 'w', [kind], 10, 60_000);
    expect(rest.map((j) => j.payload)).toEqual([{ which: 'second' }]);
    expect(await claimDueJobs(db(), 'w', [], 10, 60_000)).toEqual([]);
    expect(await claimDueJobs(db(), 'w', [kind], 0, 60_000)).toEqual([]);
    expect(await claimDueJobs(db(), 'w', [other], 10, 60_000)).toHaveLength(1);
  });

  test('concurrent claimers never get the same job and together get them all', async () => {
    const kind = freshKind('skiplocked');
    for (let i = 0; i < 50; i++) await enqueue(db(), { kind, payload: { i } });
    const limit = 4;
    const claimer = async (id: string) => {
      const got: { id: string; i: number; by: string }[] = [];
      for (;;) {
        const batch = await claimDueJobs(db(), id, [kind], limit, 60_000);
        expect(batch.length).toBeLessThanOrEqual(limit);
        if (batch.length === 0) return got;
        got.push(...batch.map((j) => ({ id: j.id, i: (j.payload as { i: number }).i, by: id })));
      }
    };
    const results = (await Promise.all(['c1', 'c2', 'c3', 'c4', 'c5', 'c6'].map(claimer))).flat();
    expect(results).toHaveLength(50);
    expect(new Set(results.map((r) => r.id)).size).toBe(50);
    expect(results.map((r) => r.i).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    // The table agrees: each job is leased once, to the claimer that returned it.
    const rows = await jobsOfKind(kind);
    const claimedBy = new Map(results.map((r) => [r.id, r.by]));
    for (const row of rows) {
      expect(row).toMatchObject({ status: 'running', attempts: 1 });
      expect(row.locked_by).toBe(claimedBy.get(row.id));
    }
  });

  test('a job whose lease ran out is claimed again by another worker', async () => {
    const kind = freshKind('lease');
    await enqueue(db(), { kind });
    const [first] = await claimDueJobs(db(), 'dead-worker', [kind], 1, 1);
    expect(first.attempts).toBe(1);
    await sleep(50);
    const [again, ...more] = await claimDueJobs(db(), 'live-worker', [kind], 5, 60_000);
    expect(more).toHaveLength(0);
    expect(again.id).toBe(first.id);
    expect(again.attempts).toBe(2);
    expect(await jobRow(first.id)).toMatchObject({ status: 'running', locked_by: 'live-worker', attempts: 2 });

    // The worker that lost its lease can no longer finish or fail the job.
    await completeJob(db(), first.id, 'dead-worker');
    await failJob(db(), first, 'dead-worker', 'late failure');
    // (Its row still says why the first attempt ended: the lease ran out, not the late failure.)
    expect(await jobRow(first.id)).toMatchObject({ status: 'running', locked_by: 'live-worker', last_error: expect.stringMatching(/lease expired/) });
    await completeJob(db(), first.id, 'live-worker');
    expect(await jobRow(first.id)).toMatchObject({ status: 'done' });
  });

  test('a job whose lease ran out on its last allowed attempt is failed, not run again', async () => {
    const kind = freshKind('exhausted');
    await enqueue(db(), { kind, maxAttempts: 1 });
    const [job] = await claimDueJobs(db(), 'crashed-worker', [kind], 1, 1);
    expect(job.attempts).toBe(1);
    await sleep(50);
    expect(await claimDueJobs(db(), 'other-worker', [kind], 5, 60_000)).toEqual([]);
    const row = await jobRow(job.id);
    expect(row).toMatchObject({ status: 'failed', attempts: 1, locked_by: null });
    expect(row.last_error).toMatch(/lease/);
    expect(row.finished_at).not.toBeNull();
  });

  test('a job completed by another worker id stays as it was', async () => {
    const kind = freshKind('complete');
    await enqueue(db(), { kind });
    const [job] = await claimDueJobs(db(), 'owner', [kind], 1, 60_000);
    await completeJob(db(), job.id, 'intruder');
    expect(await jobRow(job.id)).toMatchObject({ status: 'running', locked_by: 'owner', finished_at: null });
    await completeJob(db(), job.id, 'owner');
    const done = await jobRow(job.id);
    expect(done).toMatchObject({ status: 'done', locked_by: null });
    // Once done, nobody can complete or fail it again.
    await completeJob(db(), job.id, 'intruder');
    await failJob(db(), job, 'owner', 'too late');
    expect(await jobRow(job.id)).toEqual(done);
  });

  test('a failure is recorded with a later run time, and the last allowed attempt fails the job', async () => {
    const kind = freshKind('fail');
    await enqueue(db(), { kind, maxAttempts: 2 });
    const [job] = await claimDueJobs(db(), 'w', [kind], 1, 60_000);
    const failedAt = Date.now();
    await failJob(db(), job, 'w', 'upstream said no');
    const afterFirst = await jobRow(job.id);
    expect(afterFirst).toMatchObject({ status: 'pending', last_error: 'upstream said no', attempts: 1, locked_by: null, locked_until: null, finished_at: null });
    // Backoff: not due again straight away.
    expect(afterFirst.run_at.getTime()).toBeGreaterThan(failedAt + 1000);
    expect(await claimDueJobs(db(), 'w', [kind], 1, 60_000)).toEqual([]);

    // Pretend the backoff has passed.
    await db().updateTable('jobs').set({ run_at: new Date(Date.now() - 1) }).where('id', '=', job.id).execute();
    const [second] = await claimDueJobs(db(), 'w', [kind], 1, 60_000);
    expect(second).toMatchObject({ id: job.id, attempts: 2, max_attempts: 2 });
    await failJob(db(), second, 'w', 'x'.repeat(5000));
    const final = await jobRow(job.id);
    expect(final.status).toBe('failed');
    expect(final.finished_at).not.toBeNull();
    expect(final.last_error).toHaveLength(2000);
    await db().updateTable('jobs').set({ run_at: new Date(Date.now() - 1) }).where('id', '=', job.id).execute();
    expect(await claimDueJobs(db(), 'w', [kind], 1, 60_000)).toEqual([]);
  });

  test('a job allowed one attempt fails on its first error', async () => {
    const kind = freshKind('once');
    await enqueue(db(), { kind, maxAttempts: 1 });
    const [job] = await claimDueJobs(db(), 'w', [kind], 1, 60_000);
    await failJob(db(), job, 'w', 'nope');
    expect(await jobRow(job.id)).toMatchObject({ status: 'failed', last_error: 'nope', attempts: 1 });
  });

  test('a unique key creates the job once', async () => {
    const kind = freshKind('unique');
    const uniqueKey = `${kind}@slot-1`;
    expect(await enqueue(db(), { kind, uniqueKey, payload: { first: true } })).not.toBeNull();
    expect(await enqueue(db(), { kind, uniqueKey, payload: { first: false } })).toBeNull();
    expect(await enqueue(db(), { kind, uniqueKey: `${kind}@slot-2` })).not.toBeNull();
    const rows = await jobsOfKind(kind);
    expect(rows).toHaveLength(2);
    expect(rows[0].payload).toEqual({ first: true });
    // Jobs without a key never collide.
    await enqueue(db(), { kind });
    await enqueue(db(), { kind });
    expect(await jobsOfKind(kind)).toHaveLength(4);
  });

  test('a job enqueued in a transaction that rolls back does not exist', async () => {
    const kind = freshKind('rollback');
    await expect(
      db().transaction().execute(async (trx) => {
        await enqueue(trx, { kind });
        throw new Error('the change that caused it failed');
      }),
    ).rejects.toThrow('the change that caused it failed');
    expect(await jobsOfKind(kind)).toHaveLength(0);
  });
});

describe('the worker', () => {
  test('runs a job promptly when NOTIFY announces it, with polling all but off', async () => {
    const kind = freshKind('notify');
    const calls: unknown[] = [];
    const worker = startWorker({ [kind]: async (payload: unknown) => void calls.push(payload) }, { pollMs: 60_000 });
    await worker.start();
    await sleep(200); // let the first (empty) claim finish: from here only a NOTIFY wakes the worker
    await enqueue(db(), { kind, payload: { hello: 'world' } });
    await waitFor(() => calls.length === 1, 'the notified job to run', 5000);
    expect(calls).toEqual([{ hello: 'world' }]);
    const [row] = await waitFor(async () => {
      const rows = await jobsOfKind(kind);
      return rows[0]?.status === 'done' ? rows : undefined;
    }, 'the job to be marked done');
    expect(row.locked_by).toBeNull();

    // And a second one, right after the first.
    await enqueue(db(), { kind, payload: { again: true } });
    await waitFor(() => calls.length === 2, 'the second notified job to run', 5000);
    await stopWorker(worker);
  });

  test('a NOTIFY that arrives while the worker is claiming is not lost', async () => {
    const kind = freshKind('race');
    const calls: unknown[] = [];
    const notified: string[] = [];
    let armed = true;
    // During the worker's first claim (which finds nothing), a job is added and its NOTIFY delivered.
    const observed = observedDatabase(
      async (text) => {
        if (!armed || !/update jobs set status = 'running'/.test(text)) return;
        armed = false;
        const seen = notified.length;
        await enqueue(db(), { kind, payload: { raced: true } });
        await waitFor(() => notified.length > seen, 'the NOTIFY to reach the worker', 5000);
      },
      (_channel, payload) => notified.push(payload),
    );
    const worker = startWorker({ [kind]: async (payload: unknown) => void calls.push(payload) }, { pollMs: 60_000, database: observed });
    await worker.start();
    await waitFor(() => !armed, 'the first claim');
    await waitFor(() => calls.length === 1, 'the job announced during the claim to run', 5000);
    expect(calls).toEqual([{ raced: true }]);
    await stopWorker(worker);
  });

  test('stop() waits for a job in flight to finish', async () => {
    const kind = freshKind('slow');
    let started = false;
    let finished = false;
    const worker = startWorker({
      [kind]: async () => {
        started = true;
        await sleep(500);
        finished = true;
      },
    });
    await worker.start();
    await enqueue(db(), { kind });
    await waitFor(() => started, 'the slow job to start');
    expect(finished).toBe(false);
    await stopWorker(worker);
    expect(finished).toBe(true);
    const [row] = await jobsOfKind(kind);
    expect(row.status).toBe('done');

    // A stopped worker claims nothing more: its loop has ended (a loop still running would be woken by
    // the NOTIFY or its 100 ms poll, and claim), and the job, due, waits for a live worker.
    await enqueue(db(), { kind });
    await expect(worker.claimedSince()).rejects.toThrow('loop stopped');
    expect((await jobsOfKind(kind))[1].status).toBe('pending');
    const next = startWorker({ [kind]: async () => undefined });
    await next.start();
    await waitFor(async () => (await jobsOfKind(kind))[1].status === 'done', 'a live worker to run it');
    await stopWorker(next);
  });

  test('a handler that throws leaves its job pending with the error, and the worker carries on', async () => {
    const kind = freshKind('throws');
    const okKind = freshKind('fine');
    const ran: string[] = [];
    const worker = startWorker({
      [kind]: async () => {
        ran.push('bad');
        throw new Error('provider returned 500');
      },
      [okKind]: async () => void ran.push('good'),
    });
    await worker.start();
    await enqueue(db(), { kind });
    const row = await waitFor(async () => {
      const [r] = await jobsOfKind(kind);
      return r?.last_error ? r : undefined;
    }, 'the failure to be recorded');
    expect(row).toMatchObject({ status: 'pending', last_error: 'provider returned 500', attempts: 1, locked_by: null });
    expect(row.run_at.getTime()).toBeGreaterThan(Date.now());
    await enqueue(db(), { kind: okKind });
    await waitFor(() => ran.includes('good'), 'the next job to run');
    await stopWorker(worker);
  });

  test('a failed job runs again when its retry is due, not at the next poll', async () => {
    const kind = freshKind('flaky');
    const ranAt: number[] = [];
    // Polling every minute: only the worker's own wake-up at the retry time can run it in time.
    const worker = startWorker({
      [kind]: async () => {
        ranAt.push(Date.now());
        if (ranAt.length === 1) throw new Error('first try fails');
      },
    }, { pollMs: 60_000 });
    await worker.start();
    await enqueue(db(), { kind });
    await waitFor(() => ranAt.length === 2, 'the retry', 8000);
    // The first retry is due 2 s after the failure (retryDelayMs(1)).
    expect(ranAt[1] - ranAt[0]).toBeGreaterThanOrEqual(1900);
    // The handler has returned; its completion is written just after.
    const [row] = await waitFor(async () => ((await jobsOfKind(kind))[0]?.status === 'done' ? jobsOfKind(kind) : undefined), 'the retry to complete');
    expect(row.status).toBe('done');
    await stopWorker(worker);
  });
});

describe('usage flush, end to end', () => {
  test('batched usage reaches the daily buckets and last_used_at', async () => {
    const s = await seedWorkspace(t);
    t.services.usage.drain(); // start from an empty batch

    const started = Date.now();
    for (let i = 0; i < 3; i++) expect((await t.call(s.key, 'GET', `/v1/workspaces/${s.workspace.id}`)).status).toBe(200);
    // A refused key is not usage.
    expect((await t.call(s.key.slice(0, -1) + (s.key.endsWith('0') ? '1' : '0'), 'GET', '/v1/workspaces')).status).toBe(401);

    async function flushAndRun() {
      // As src/runtime.ts does it: drain the recorder, hand the batch to a job.
      const batch = t.services.usage.drain();
      expect(batch.length).toBeGreaterThan(0);
      await enqueue(db(), { kind: JOB.usageFlush, payload: { entries: batch }, maxAttempts: 20 });
      const worker = startWorker(jobHandlers(t.services));
      await worker.start();
      await waitFor(async () => {
        const pending = await db().selectFrom('jobs').select('id').where('kind', '=', JOB.usageFlush).where('status', '!=', 'done').execute();
        return pending.length === 0;
      }, 'the usage flush to finish');
      await stopWorker(worker);
      return batch;
    }

    const batch = await flushAndRun();
    const mine = batch.filter((e) => e.key_id === s.keyId);
    expect(mine.reduce((n, e) => n + e.requests, 0)).toBe(3);
    const today = new Date().toISOString().slice(0, 10);
    const buckets = await db().selectFrom('api_key_usage_daily').selectAll().where('key_id', '=', s.keyId).execute();
    // One bucket per day the requests fell on (two only if the test straddled midnight UTC).
    expect(buckets.map((b) => ({ day: b.day, requests: b.requests }))).toEqual(mine.map((e) => ({ day: e.day, requests: String(e.requests) })));
    expect(buckets.map((b) => b.day)).toContain(today);
    const key = await db().selectFrom('api_keys').select(['last_used_at', 'last_used_ip']).where('id', '=', s.keyId).executeTakeFirstOrThrow();
    expect(key.last_used_ip).toBe('127.0.0.1');
    expect(key.last_used_at!.getTime()).toBeGreaterThanOrEqual(started - 1000);
    expect(key.last_used_at!.getTime()).toBeLessThanOrEqual(Date.now());

    // A second flush adds to the bucket rather than replacing it.
    for (let i = 0; i < 2; i++) await t.call(s.key, 'GET', '/v1/workspaces');
    await flushAndRun();
    const total = await db().selectFrom('api_key_usage_daily').select((eb) => eb.fn.sum<string>('requests').as('n')).where('key_id', '=', s.keyId).executeTakeFirstOrThrow();
    expect(Number(total.n)).toBe(5);
    const after = await db().selectFrom('api_keys').select('last_used_at').where('id', '=', s.keyId).executeTakeFirstOrThrow();
    expect(after.last_used_at!.getTime()).toBeGreaterThanOrEqual(key.last_used_at!.getTime());

    const usage = await t.call(t.adminKey, 'GET', `/v1/api-keys/${s.keyId}/usage?days=2`);
    expect(usage.status).toBe(200);
    expect(usage.body).toMatchObject({ key_id: s.keyId, total_requests: 5, last_used_ip: '127.0.0.1' });
  });

  test('an older batch applied late does not move last_used_at backwards', async () => {
    const s = await seedWorkspace(t);
    const newer = new Date().toISOString();
    const older = new Date(Date.now() - 3600_000).toISOString();
    const day = newer.slice(0, 10);
    await t.services.apiKeys.applyUsageBatch([{ key_id: s.keyId, day, requests: 1, last_used_at: newer, last_used_ip: '10.0.0.2' }]);
    await t.services.apiKeys.applyUsageBatch([{ key_id: s.keyId, day, requests: 4, last_used_at: older, last_used_ip: '10.0.0.1' }]);
    const key = await db().selectFrom('api_keys').select(['last_used_at', 'last_used_ip']).where('id', '=', s.keyId).executeTakeFirstOrThrow();
    expect(key.last_used_at!.toISOString()).toBe(newer);
    expect(key.last_used_ip).toBe('10.0.0.2');
    const [bucket] = await db().selectFrom('api_key_usage_daily').selectAll().where('key_id', '=', s.keyId).execute();
    expect(bucket.requests).toBe('5');
  });
});

describe('key expiry job', () => {
  test('revokes keys whose rotation grace or expiry has passed, and audits each', async () => {
    const s = await seedWorkspace(t);
    const expiring = await t.call(t.adminKey, 'POST', `/v1/workspaces/${s.workspace.id}/api-keys`, {
      name: 'short-lived',
      scopes: ['workspaces:read'],
      expires_at: new Date(t.clock.now() + 1200).toISOString(),
    });
    expect(expiring.status, expiring.raw).toBe(201);
    const untouched = await t.call(t.adminKey, 'POST', `/v1/workspaces/${s.workspace.id}/api-keys`, { name: 'stays', scopes: ['workspaces:read'] });
    const rotated = await t.call(t.adminKey, 'POST', `/v1/api-keys/${s.keyId}/rotate`, { grace_s: 1 });
    expect(rotated.status, rotated.raw).toBe(201);
    expect((await t.call(rotated.body.key, 'GET', `/v1/workspaces/${s.workspace.id}`)).status).toBe(200);

    advancePast(expiring.body.expires_at, rotated.body.previous_key.revoke_at);
    const dueBefore = await db().selectFrom('api_keys').select(['id', 'revoked_at']).where('id', 'in', [s.keyId, expiring.body.id]).execute();
    expect(dueBefore.every((k) => k.revoked_at === null)).toBe(true);

    await enqueue(db(), { kind: JOB.revokeDueKeys, maxAttempts: 1 });
    const worker = startWorker(jobHandlers(t.services));
    await worker.start();
    await waitFor(async () => {
      const open = await db().selectFrom('jobs').select('id').where('kind', '=', JOB.revokeDueKeys).where('status', '!=', 'done').execute();
      return open.length === 0;
    }, 'the revoke-due job to finish');
    await stopWorker(worker);

    const keys = await db().selectFrom('api_keys').selectAll().where('workspace_id', '=', s.workspace.id).execute();
    const byId = new Map(keys.map((k) => [k.id, k]));
    const old = byId.get(s.keyId)!;
    expect(old.revoked_at).not.toBeNull();
    expect(old.revoked_reason).toBe('rotated');
    expect(old.revoked_at!.getTime()).toBe(old.revoke_at!.getTime());
    const expired = byId.get(expiring.body.id)!;
    expect(expired.revoked_reason).toBe('expired');
    expect(expired.revoked_at!.getTime()).toBe(expired.expires_at!.getTime());
    expect(byId.get(rotated.body.id)!.revoked_at).toBeNull();
    expect(byId.get(untouched.body.id)!.revoked_at).toBeNull();

    const audit = await t.call(t.adminKey, 'GET', `/v1/audit?workspace_id=${s.workspace.id}&limit=1000`);
    const revokedEntries = (audit.body.data as any[]).filter((e) => e.action === 'key.revoked');
    expect(revokedEntries).toHaveLength(1);
    expect(revokedEntries[0]).toMatchObject({
      resource: { type: 'api_key', id: s.keyId },
      actor: { type: 'system' },
      after: { reason: 'rotation_grace_elapsed' },
      outcome: 'success',
    });
    const expiredEntries = (audit.body.data as any[]).filter((e) => e.action === 'key.expired');
    expect(expiredEntries).toHaveLength(1);
    expect(expiredEntries[0]).toMatchObject({ resource: { type: 'api_key', id: expiring.body.id }, after: { reason: 'expired' } });

    expect((await t.call(t.adminKey, 'GET', `/v1/api-keys/${s.keyId}`)).body.status).toBe('revoked');
    expect((await t.call(t.adminKey, 'GET', `/v1/api-keys/${expiring.body.id}`)).body.status).toBe('expired');
    expect((await t.call(s.key, 'GET', `/v1/workspaces/${s.workspace.id}`)).status).toBe(401);
    expect((await t.call(rotated.body.key, 'GET', `/v1/workspaces/${s.workspace.id}`)).status).toBe(200);

    // Running it again finds nothing new to do and audits nothing more.
    expect(await t.services.apiKeys.revokeDueKeys()).toBe(0);
    const again = await t.call(t.adminKey, 'GET', `/v1/audit?workspace_id=${s.workspace.id}&action=${encodeURIComponent('key.*')}&limit=1000`);
    expect((again.body.data as any[]).filter((e) => e.action === 'key.revoked' || e.action === 'key.expired')).toHaveLength(2);
    expect((await t.call(t.adminKey, 'GET', '/v1/audit/verify')).body.ok).toBe(true);
  });

  test('two runs at once revoke and audit each key once', async () => {
    const s = await seedWorkspace(t);
    const rotated = await t.call(t.adminKey, 'POST', `/v1/api-keys/${s.keyId}/rotate`, { grace_s: 1 });
    expect(rotated.status).toBe(201);
    advancePast(rotated.body.previous_key.revoke_at);
    // Two workers running overlapping revoke-due jobs (a slow run and the next slot's).
    await Promise.all([t.services.apiKeys.revokeDueKeys(), t.services.apiKeys.revokeDueKeys()]);
    const audit = await t.call(t.adminKey, 'GET', `/v1/audit?workspace_id=${s.workspace.id}&action=key.revoked&limit=1000`);
    expect((audit.body.data as any[]).filter((e) => e.resource.id === s.keyId)).toHaveLength(1);
    const old = await db().selectFrom('api_keys').selectAll().where('id', '=', s.keyId).executeTakeFirstOrThrow();
    expect(old.revoked_reason).toBe('rotated');
  });
});
