import { sql } from 'kysely';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';
import { eventually, startDeliveryWorker, startReceiver, type Receiver } from '../helpers/webhooks.js';

// A delivery's slot is freed when the receiver answers and its attempt is recorded in the
// background (src/modules/webhooks/deliver.ts). Stopping the worker must still leave every answered
// delivery recorded: nothing the receiver got may stay leased and be sent again.
let t: TestApp;
let rx: Receiver;
beforeAll(async () => {
  t = await createTestApp();
  rx = await startReceiver();
});
afterAll(async () => {
  await rx?.close();
  await t?.close();
});

test('stop() returns only once every answered attempt is recorded', async () => {
  const { workspace } = await seedWorkspace(t);
  const created = await t.call(t.adminKey, 'POST', `/v1/workspaces/${workspace.id}/webhooks`, { url: `${rx.url}/drain`, events: ['lead.created'], max_in_flight: 50 });
  expect(created.status, created.raw).toBe(201);
  const events = Array.from({ length: 40 }, (_, i) => ({ type: 'lead.created', payload: { i } }));
  for (const e of events) expect((await t.call(t.adminKey, 'POST', `/v1/workspaces/${workspace.id}/events`, e)).status).toBe(202);

  const worker = await startDeliveryWorker(t, { concurrency: 40, workspaceMaxInFlight: 40 });
  await eventually(async () => rx.received.filter((r) => r.url === '/drain').length === events.length, 10_000, 1);
  await worker.stop();

  const rows = await sql<{ status: string; attempts: number; logged: number }>`
    select d.status, d.attempts, (select count(*)::int from webhook_attempts a where a.delivery_id = d.id) as logged
    from webhook_deliveries d where d.endpoint_id = ${created.body.id}`.execute(t.db.database.db);
  expect(rows.rows).toHaveLength(events.length);
  expect(rows.rows.filter((r) => r.status !== 'succeeded' || r.logged !== 1)).toEqual([]);
});
