import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { DeliveryWorker } from '../../src/modules/webhooks/deliver.js';
import { LATENCY_BOUNDS_MS } from '../../src/modules/webhooks/record.js';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';
import { eventually, startDeliveryWorker, startReceiver, type Receiver, type Responder } from '../helpers/webhooks.js';

// Getting deliveries back: dead letters, replays, their listing and filters, who may see them,
// and the analytics over what was attempted. One in-process worker with a short retry schedule.
let t: TestApp;
let worker: DeliveryWorker;
let rx: Receiver;
const plans = new Map<string, (n: number) => ReturnType<Responder>>();
const hits = (path: string) => rx.received.filter((r) => r.url === path);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Delivery = { id: string; webhook_id: string; event_id: string; event_type: string; status: string; attempts: number; max_attempts: number; created_at: string };
type Attempt = { attempt: number; outcome: string; duration_ms: number; response_status: number | null };

beforeAll(async () => {
  t = await createTestApp();
  rx = await startReceiver((req) => plans.get(req.url)?.(hits(req.url).length));
  worker = await startDeliveryWorker(t, { retryScheduleS: [0.05, 0.1, 0.1], pollMs: 100 });
});
afterAll(async () => {
  await worker?.stop();
  await rx?.close();
  await t?.close();
});

const call = (method: 'GET' | 'POST', url: string, body?: unknown, key = t.adminKey) => t.call(key, method, url, body);
async function endpoint(wsId: string, path: string, extra: Record<string, unknown> = {}) {
  const res = await call('POST', `/v1/workspaces/${wsId}/webhooks`, { url: `${rx.url}${path}`, events: ['lead.created'], ...extra });
  expect(res.status, res.raw).toBe(201);
  return res.body as { id: string; name: string | null; url: string };
}
async function send(wsId: string, body: Record<string, unknown>) {
  const res = await call('POST', `/v1/workspaces/${wsId}/events`, { type: 'lead.created', payload: {}, ...body });
  expect(res.status, res.raw).toBe(202);
  return res.body.event_id as string;
}
const deliveriesOf = async (epId: string) => (await call('GET', `/v1/webhooks/${epId}/deliveries?limit=500`)).body.data as Delivery[];
const settled = (epId: string, n: number, status = 'succeeded') =>
  eventually(async () => {
    const d = await deliveriesOf(epId);
    return d.length === n && d.every((x) => x.status === status) ? d : null;
  });
const attemptsOf = async (id: string) => (await call('GET', `/v1/deliveries/${id}`)).body.attempt_log as Attempt[];
const webhookIds = (path: string) => hits(path).map((r) => String(r.headers['webhook-id']));
const countBy = (xs: string[]) => xs.reduce((m, x) => m.set(x, (m.get(x) ?? 0) + 1), new Map<string, number>());

describe('dead letters and replay', () => {
  let ws: { id: string };
  beforeAll(async () => {
    ({ workspace: ws } = await seedWorkspace(t));
  });

  test('dead after max_retries 0 with a 500; replayed once the receiver is fixed; the webhook-id never changes', async () => {
    let fixed = false;
    plans.set('/dlq-one', () => ({ status: fixed ? 200 : 500 }));
    const e = await endpoint(ws.id, '/dlq-one', { max_retries: 0 });
    const eventId = await send(ws.id, { endpoint: e.id, payload: { n: 1 } });
    const [dead] = await settled(e.id, 1, 'dead');
    expect(dead).toMatchObject({ attempts: 1, max_attempts: 1 });
    fixed = true;
    const replay = await call('POST', `/v1/deliveries/${dead.id}/replay`);
    expect(replay.status, replay.raw).toBe(202);
    expect(replay.body).toEqual({ id: dead.id, requeued: 1 });
    const [done] = await settled(e.id, 1, 'succeeded');
    expect(done).toMatchObject({ id: dead.id, attempts: 2, max_attempts: 2 });
    expect((await attemptsOf(dead.id)).map((a) => [a.attempt, a.outcome, a.response_status])).toEqual([[1, 'failed', 500], [2, 'succeeded', 200]]);
    expect(webhookIds('/dlq-one')).toEqual([eventId, eventId]);
    // The replay is in the audit trail.
    const audit = await call('GET', `/v1/audit?workspace_id=${ws.id}&action=delivery.replayed`);
    expect(audit.body.data.length).toBeGreaterThanOrEqual(1);
  });

  test('retrying the dead-letter list requeues exactly the dead deliveries of that endpoint; all succeed', async () => {
    let fixed = false;
    plans.set('/dlq-all', () => ({ status: fixed ? 204 : 503 }));
    plans.set('/dlq-other', () => ({ status: 503 }));
    const e = await endpoint(ws.id, '/dlq-all', { max_retries: 0 });
    const other = await endpoint(ws.id, '/dlq-other', { max_retries: 0 });
    const sent: string[] = [];
    for (let i = 0; i < 4; i++) sent.push(await send(ws.id, { endpoint: e.id, payload: { i } }));
    await send(ws.id, { endpoint: other.id });
    await settled(e.id, 4, 'dead');
    const [otherDead] = await settled(other.id, 1, 'dead');
    fixed = true;
    const retried = await call('POST', `/v1/webhooks/${e.id}/dead-letters/retry`);
    expect(retried.status, retried.raw).toBe(202);
    expect(retried.body).toEqual({ requeued: 4 });
    await settled(e.id, 4, 'succeeded');
    expect(countBy(webhookIds('/dlq-all'))).toEqual(new Map(sent.map((id) => [id, 2])));
    expect((await call('POST', `/v1/webhooks/${e.id}/dead-letters/retry`)).body).toEqual({ requeued: 0 });
    // A requeue commits with the 202 answering it: still dead with one attempt means it was never requeued.
    expect((await deliveriesOf(other.id))[0]).toMatchObject({ id: otherDead.id, status: 'dead', attempts: 1 });
    expect(hits('/dlq-other')).toHaveLength(1);
  });

  test('replay since a time re-sends only what was created since then', async () => {
    const e = await endpoint(ws.id, '/since');
    const early = [await send(ws.id, { endpoint: e.id }), await send(ws.id, { endpoint: e.id })];
    await settled(e.id, 2);
    await sleep(50);
    const since = new Date();
    await sleep(50);
    const late = [await send(ws.id, { endpoint: e.id }), await send(ws.id, { endpoint: e.id })];
    await settled(e.id, 4);
    const replay = await call('POST', `/v1/webhooks/${e.id}/replay`, { since: since.toISOString() });
    expect(replay.status, replay.raw).toBe(202);
    expect(replay.body).toEqual({ requeued: 2 });
    await eventually(async () => hits('/since').length >= 6);
    // All four succeeded (recorded after their answers): nothing is left to send, so the counts are final.
    await settled(e.id, 4);
    const counts = countBy(webhookIds('/since'));
    expect(counts).toEqual(new Map([[early[0], 1], [early[1], 1], [late[0], 2], [late[1], 2]]));
  });
});

describe('the dead-letter list', () => {
  test('filters by webhook_id, event_type, since and until; cursor pages of 2 cover every item exactly once', async () => {
    const { workspace: ws } = await seedWorkspace(t);
    plans.set('/dl-a', () => ({ status: 400 }));
    plans.set('/dl-b', () => ({ status: 400 }));
    const events = ['lead.created', 'email.sent'];
    const a = await endpoint(ws.id, '/dl-a', { events, max_retries: 0 });
    const b = await endpoint(ws.id, '/dl-b', { events, max_retries: 0 });
    const fine = await endpoint(ws.id, '/dl-ok', { events }); // succeeds: never a dead letter
    for (let i = 0; i < 2; i++) await send(ws.id, { type: 'lead.created' });
    await sleep(50);
    const mid = new Date();
    await sleep(50);
    for (let i = 0; i < 2; i++) await send(ws.id, { type: 'email.sent' });
    await settled(a.id, 4, 'dead');
    await settled(b.id, 4, 'dead');
    await settled(fine.id, 4, 'succeeded');

    const list = async (q: string) => {
      const res = await call('GET', `/v1/workspaces/${ws.id}/dead-letters?${q}`);
      expect(res.status, res.raw).toBe(200);
      return res.body as { data: Delivery[]; next_cursor: string | null };
    };
    const all = (await list('')).data;
    expect(all).toHaveLength(8);
    expect(all.every((d) => d.status === 'dead')).toBe(true);
    expect(all.map((d) => d.id)).toEqual([...all.map((d) => d.id)].sort().reverse());
    const ids = (xs: Delivery[]) => new Set(xs.map((d) => d.id));
    const where = (f: (d: Delivery) => boolean) => new Set(all.filter(f).map((d) => d.id));

    expect(ids((await list(`webhook_id=${a.id}`)).data)).toEqual(where((d) => d.webhook_id === a.id));
    expect(where((d) => d.webhook_id === a.id).size).toBe(4);
    expect(ids((await list('event_type=email.sent')).data)).toEqual(where((d) => d.event_type === 'email.sent'));
    expect(where((d) => d.event_type === 'email.sent').size).toBe(4);
    const iso = encodeURIComponent(mid.toISOString());
    expect(ids((await list(`since=${iso}`)).data)).toEqual(where((d) => d.event_type === 'email.sent'));
    expect(ids((await list(`until=${iso}`)).data)).toEqual(where((d) => d.event_type === 'lead.created'));
    const both = (await list(`webhook_id=${b.id}&event_type=lead.created`)).data;
    expect(ids(both)).toEqual(where((d) => d.webhook_id === b.id && d.event_type === 'lead.created'));
    expect(both).toHaveLength(2);
    expect((await list(`webhook_id=${fine.id}`)).data).toEqual([]);

    for (const [filter, expected] of [['', 8], [`webhook_id=${a.id}&`, 4]] as const) {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page = await list(`${filter}limit=2${cursor ? `&cursor=${cursor}` : ''}`);
        expect(page.data.length).toBeLessThanOrEqual(2);
        seen.push(...page.data.map((d) => d.id));
        cursor = page.next_cursor;
        pages++;
      } while (cursor && pages < 20);
      expect(seen).toHaveLength(expected);
      expect(new Set(seen).size).toBe(expected);
      expect(pages).toBe(expected / 2);
    }
  });
});

describe('another workspace', () => {
  test("a workspace key gets 404 for another workspace's deliveries, replays, dead letters and analytics", async () => {
    const mine = await seedWorkspace(t);
    const theirs = await seedWorkspace(t);
    plans.set('/theirs', () => ({ status: 500 }));
    const e = await endpoint(theirs.workspace.id, '/theirs', { max_retries: 0 });
    await send(theirs.workspace.id, { endpoint: e.id });
    const [d] = await settled(e.id, 1, 'dead');
    const wsB = theirs.workspace.id;
    const refused: Array<[string, string, unknown?]> = [
      ['GET', `/v1/deliveries/${d.id}`],
      ['POST', `/v1/deliveries/${d.id}/replay`],
      ['GET', `/v1/webhooks/${e.id}/deliveries`],
      ['POST', `/v1/webhooks/${e.id}/replay`, { since: new Date(0).toISOString() }],
      ['POST', `/v1/webhooks/${e.id}/dead-letters/retry`],
      ['GET', `/v1/workspaces/${wsB}/dead-letters`],
      ['GET', `/v1/workspaces/${wsB}/webhooks/analytics?window=1h`],
      ['GET', `/v1/workspaces/${mine.workspace.id}/webhooks/analytics?window=1h&webhook_id=${e.id}`],
    ];
    for (const [method, url, body] of refused) {
      const res = await call(method as 'GET', url, body, mine.key);
      expect(res.status, `${method} ${url}: ${res.raw}`).toBe(404);
      expect(res.body.error.code).toBe('not_found');
    }
    // Filtering its own list by their endpoint shows nothing of theirs.
    const own = await call('GET', `/v1/workspaces/${mine.workspace.id}/dead-letters?webhook_id=${e.id}`, undefined, mine.key);
    expect(own.status).toBe(200);
    expect(own.body.data).toEqual([]);
    // Nothing was requeued (a requeue commits before its answer: the delivery would no longer be dead), and their own key sees it all.
    expect(hits('/theirs')).toHaveLength(1);
    const seen = await call('GET', `/v1/deliveries/${d.id}`, undefined, theirs.key);
    expect(seen.status).toBe(200);
    expect(seen.body).toMatchObject({ status: 'dead', attempts: 1 });
    expect((await call('GET', `/v1/workspaces/${wsB}/dead-letters`, undefined, theirs.key)).body.data).toHaveLength(1);
  });
});

describe('analytics', () => {
  test('totals, success rate, average and p95 latency, series and per-endpoint rows match the attempts made', async () => {
    const { workspace: ws } = await seedWorkspace(t);
    plans.set('/an-slow', () => ({ delayMs: 300 }));
    plans.set('/an-flaky', (n) => ({ status: n % 2 === 1 ? 500 : 200 }));
    const fast = await endpoint(ws.id, '/an-fast', { name: 'fast' });
    const slow = await endpoint(ws.id, '/an-slow', { name: 'slow' });
    const flaky = await endpoint(ws.id, '/an-flaky', { name: 'flaky', max_retries: 1 });
    for (let i = 0; i < 5; i++) await send(ws.id, { endpoint: fast.id });
    for (let i = 0; i < 2; i++) await send(ws.id, { endpoint: slow.id });
    await settled(fast.id, 5);
    await settled(slow.id, 2);
    for (let i = 0; i < 2; i++) {
      await send(ws.id, { endpoint: flaky.id });
      await settled(flaky.id, i + 1);
    }

    // What was actually attempted, from the attempt logs.
    const attempted = new Map<string, Attempt[]>();
    for (const e of [fast, slow, flaky]) {
      const logs = await Promise.all((await deliveriesOf(e.id)).map((d) => attemptsOf(d.id)));
      attempted.set(e.id, logs.flat());
    }
    const every = [...attempted.values()].flat();
    expect(every).toHaveLength(11);
    expect(hits('/an-fast').length + hits('/an-slow').length + hits('/an-flaky').length).toBe(11);
    const figures = (xs: Attempt[]) => {
      const ok = xs.filter((a) => a.outcome === 'succeeded').length;
      return {
        total: xs.length,
        succeeded: ok,
        failed: xs.length - ok,
        success_rate: Math.round((ok / xs.length) * 10_000) / 100,
        avg_latency_ms: Math.round(xs.reduce((s, a) => s + a.duration_ms, 0) / xs.length),
      };
    };
    expect(figures(every)).toMatchObject({ total: 11, succeeded: 9, failed: 2, success_rate: 81.82 });

    const steps = { '1h': 5 * 60_000, '24h': 3600_000, '7d': 6 * 3600_000, '30d': 86_400_000 } as const;
    for (const [window, stepMs] of Object.entries(steps)) {
      const res = await call('GET', `/v1/workspaces/${ws.id}/webhooks/analytics?window=${window}`);
      expect(res.status, res.raw).toBe(200);
      const a = res.body;
      expect(a.window).toBe(window);
      expect(a).toMatchObject(figures(every));
      expectP95InBucket(a.p95_latency_ms, every);
      expect(a.p95_latency_ms).toBeGreaterThanOrEqual(250); // the slowest attempt (300 ms) is the nearest-rank p95 of 11
      expect(a.series.length).toBeGreaterThanOrEqual(1);
      expect(a.series.reduce((n: number, s: { total: number }) => n + s.total, 0)).toBe(11);
      expect(a.series.reduce((n: number, s: { failed: number }) => n + s.failed, 0)).toBe(2);
      for (const s of a.series) {
        expect((Date.parse(s.t) - Date.parse('2000-01-01T00:00:00Z')) % stepMs, `${window} series point ${s.t}`).toBe(0);
        expect(Date.parse(s.t)).toBeGreaterThan(Date.parse(a.since) - stepMs);
        expect(Date.parse(s.t)).toBeLessThanOrEqual(Date.now());
      }
      expect(a.endpoints.map((r: { webhook_id: string }) => r.webhook_id)).toEqual([fast.id, flaky.id, slow.id]);
      for (const e of [fast, slow, flaky]) {
        const row = a.endpoints.find((r: { webhook_id: string }) => r.webhook_id === e.id);
        expect(row, window).toMatchObject({ ...figures(attempted.get(e.id)!), name: e.name, url: e.url });
        expectP95InBucket(row.p95_latency_ms, attempted.get(e.id)!);
      }
    }

    const one = await call('GET', `/v1/workspaces/${ws.id}/webhooks/analytics?window=1h&webhook_id=${slow.id}`);
    expect(one.status, one.raw).toBe(200);
    expect(one.body).toMatchObject(figures(attempted.get(slow.id)!));
    expect(one.body.endpoints.map((r: { webhook_id: string }) => r.webhook_id)).toEqual([slow.id]);
    expect(one.body.series.reduce((n: number, s: { total: number }) => n + s.total, 0)).toBe(2);

    for (const bad of ['2h', 'abc', '']) {
      const res = await call('GET', `/v1/workspaces/${ws.id}/webhooks/analytics?window=${bad}`);
      expect(res.status, `window=${bad}`).toBe(400);
      expect(res.body.error.code).toBe('validation_failed');
    }
  });
});

/**
 * The histogram gives p95 to within its bucket: the reported value must lie in the bucket that
 * holds the true (nearest-rank) 95th percentile of the durations.
 */
function expectP95InBucket(reported: number, xs: Attempt[]) {
  const sorted = xs.map((a) => a.duration_ms).sort((x, y) => x - y);
  const truth = sorted[Math.ceil(0.95 * sorted.length) - 1];
  const i = LATENCY_BOUNDS_MS.findIndex((b) => truth <= b);
  const lower = i === 0 ? 0 : i === -1 ? LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.length - 1] : LATENCY_BOUNDS_MS[i - 1];
  const upper = i === -1 ? lower : LATENCY_BOUNDS_MS[i];
  expect(reported, `p95 of ${sorted.join(',')}`).toBeGreaterThanOrEqual(lower);
  expect(reported, `p95 of ${sorted.join(',')}`).toBeLessThanOrEqual(upper);
}
