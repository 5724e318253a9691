import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { DeliveryWorker } from '../../src/modules/webhooks/deliver.js';
import { formatSpan } from '../../src/modules/webhooks/record.js';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';
import { eventually, startDeliveryWorker, startReceiver, type Receiver } from '../helpers/webhooks.js';

// Edges of the delivery path at its limits: many requests open to one endpoint, many endpoints
// for one event, and a disabled endpoint's backlog.
let t: TestApp;
let rx: Receiver;
let ws: { id: string };
let open = 0;
let most = 0;

beforeAll(async () => {
  t = await createTestApp({ GATEHOUSE_WORKSPACE_MAX_ENDPOINTS: '2000' });
  ({ workspace: ws } = await seedWorkspace(t));
  rx = await startReceiver((req) => {
    if (!req.url.startsWith('/slow')) return undefined;
    open++;
    most = Math.max(most, open);
    setTimeout(() => open--, 700);
    return { delayMs: 700 };
  });
});
afterAll(async () => {
  await rx?.close();
  await t?.close();
});

const create = async (body: Record<string, unknown>) => {
  const res = await t.call(t.adminKey, 'POST', `/v1/workspaces/${ws.id}/webhooks`, { events: ['lead.created'], ...body });
  expect(res.status, res.raw).toBe(201);
  return res.body as { id: string };
};
const publish = async (body: Record<string, unknown>) => {
  const res = await t.call(t.adminKey, 'POST', `/v1/workspaces/${ws.id}/events`, { type: 'lead.created', payload: {}, ...body });
  expect(res.status, res.raw).toBe(202);
  return res.body as { event_id: string; deliveries: number };
};
const metric = async (name: string) => {
  const line = (await t.call(null, 'GET', '/metrics')).raw.split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.slice(name.length + 1));
};

describe('limits', () => {
  // A 2 s timeout leaves a loaded machine room, and still fails every answer past the third were
  // the requests queued one behind another.
  test('32 requests open at once to one endpoint each get their whole timeout: 0.7 s answers under a 2 s timeout all succeed first time', async () => {
    const ep = await create({ url: `${rx.url}/slow`, max_in_flight: 32, timeout_s: 2 });
    for (let i = 0; i < 32; i++) await publish({ endpoint: ep.id, payload: { i } });
    const worker: DeliveryWorker = await startDeliveryWorker(t, { concurrency: 32, workspaceMaxInFlight: 32, pollMs: 50, retryScheduleS: [60] });
    try {
      const all = await eventually(async () => {
        const d = (await t.call(t.adminKey, 'GET', `/v1/webhooks/${ep.id}/deliveries?limit=100`)).body.data as Array<{ status: string; attempts: number }>;
        return d.length === 32 && d.every((x) => x.status !== 'delivering' && x.status !== 'pending') ? d : null;
      }, 30_000);
      expect(all.filter((d) => d.status === 'succeeded')).toHaveLength(32);
      expect(all.every((d) => d.attempts === 1)).toBe(true);
      expect(most).toBeGreaterThan(16);
      expect(most).toBeLessThanOrEqual(32);
    } finally {
      await worker.stop();
    }
  }, 60_000);

  test('one event to more than a thousand endpoints: one delivery each, every id distinct', async () => {
    const n = 1005;
    for (let i = 0; i < n; i += 67) {
      await Promise.all(Array.from({ length: Math.min(67, n - i) }, (_, k) => create({ url: `${rx.url}/many/${i + k}`, events: ['meeting.booked'] })));
    }
    const res = await publish({ type: 'meeting.booked' });
    expect(res.deliveries).toBe(n);
    const ids = await t.db.database.db.selectFrom('webhook_deliveries').select('id').where('event_id', '=', res.event_id).execute();
    expect(new Set(ids.map((r) => r.id)).size).toBe(n);
    // Nothing delivers them in this test; they must not linger as backlog for the next test.
    await t.db.database.db.deleteFrom('webhook_deliveries').where('event_id', '=', res.event_id).execute();
  }, 60_000);

  test("a disabled endpoint's waiting deliveries are not counted as queue backlog", async () => {
    const ep = await create({ url: `${rx.url}/parked` });
    await publish({ endpoint: ep.id });
    await eventually(async () => ((await metric('gatehouse_webhook_queue_depth')) === 1 ? true : null));
    expect((await t.call(t.adminKey, 'PATCH', `/v1/webhooks/${ep.id}`, { enabled: false })).status).toBe(200);
    expect(await metric('gatehouse_webhook_queue_depth')).toBe(0);
    expect(await metric('gatehouse_webhook_oldest_due_seconds')).toBe(0);
  });
});

test('reasons name a span in the unit people read it in', () => {
  expect(formatSpan(90)).toBe('90 s');
  expect(formatSpan(600)).toBe('10 min');
  expect(formatSpan(3 * 3600)).toBe('3 h');
  expect(formatSpan(5 * 86_400)).toBe('5 d');
});
