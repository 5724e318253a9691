import pino from 'pino';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { systemActor } from '../../src/http/actor.js';
import { enqueue } from '../../src/jobs/queue.js';
import { createWorker, type JobHandler, type Worker } from '../../src/jobs/worker.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { eventually } from '../helpers/webhooks.js';

// A running job keeps its lease by heartbeat, however long its handler takes; a lease lost all the
// same (a stalled worker) aborts the handler and nothing it returns is recorded.
const LEASE_MS = 1000;
let t: TestApp;
const quiet = pino({ level: 'silent' });
const workers: Worker[] = [];
let kinds = 0;

beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  for (const w of workers) await w.stop();
  await t?.close();
});

async function startWorker(handlers: Record<string, JobHandler>) {
  const worker = createWorker({ database: t.db.database, log: quiet, metrics: t.services.metrics, handlers, concurrency: 2, pollMs: 50, leaseMs: LEASE_MS });
  workers.push(worker);
  await worker.start();
  return worker;
}
const jobRow = (id: string) => t.db.database.db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

test('a handler running three times its lease completes once, its result kept, with no second run meanwhile from a second worker polling', async () => {
  const kind = `test.long.${++kinds}`;
  let running = 0;
  let mostAtOnce = 0;
  let runs = 0;
  const handlers: Record<string, JobHandler> = {
    [kind]: async () => {
      runs++;
      mostAtOnce = Math.max(mostAtOnce, ++running);
      // The work itself: three leases long.
      await new Promise((r) => setTimeout(r, 3 * LEASE_MS));
      running--;
      return { tokens: 42 };
    },
  };
  await startWorker(handlers);
  await startWorker(handlers);
  const id = (await enqueue(t.db.database.db, { kind, maxAttempts: 1 }))!;
  const done = await eventually(async () => {
    const row = await jobRow(id);
    return row.status !== 'running' && row.status !== 'pending' ? row : null;
  }, 20_000);
  expect(done).toMatchObject({ status: 'done', attempts: 1, last_error: null });
  expect(done.result).toEqual({ tokens: 42 });
  expect(runs).toBe(1);
  expect(mostAtOnce).toBe(1);
}, 30_000);

test('a lease lost while the handler runs aborts it, and what it returns afterwards is not recorded', async () => {
  const kind = `test.lost.${++kinds}`;
  let started!: () => void;
  const running = new Promise<void>((r) => (started = r));
  let sawAbort = false;
  const worker = await startWorker({
    [kind]: async (_payload, _job, signal) => {
      started();
      await new Promise<void>((resolve) => signal!.addEventListener('abort', () => resolve(), { once: true }));
      sawAbort = true;
      return { stale: true };
    },
  });
  const id = (await enqueue(t.db.database.db, { kind }))!;
  await running;
  // Another worker took the job over (as after this one stalled past its lease).
  await t.db.database.db.updateTable('jobs').set({ locked_by: 'another-worker' }).where('id', '=', id).execute();
  await eventually(async () => sawAbort, 10_000);
  // stop() returns once the aborted run has ended: whatever it was going to write is written by then.
  await worker.stop();
  workers.splice(workers.indexOf(worker), 1);
  expect(await jobRow(id)).toMatchObject({ status: 'running', locked_by: 'another-worker', result: null, finished_at: null });
});

test('generate-tokens stops before its next batch once its lease is lost', async () => {
  const actor = { ...systemActor(), id: 'job:test' };
  const run = t.services.emailbison.generateTokens(actor, [{ workspace_id: 'ws_none', provider_workspace_id: '1' }], { instance: 'none', batchSize: 1, delayMs: 0, signal: AbortSignal.abort() });
  await expect(run).rejects.toMatchObject({ name: 'AbortError' });
});
