import { createServer } from 'node:net';
import { sql } from 'kysely';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { DeliveryWorker } from '../../src/modules/webhooks/deliver.js';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';
import { eventually, startDeliveryWorker, startReceiver, type Receiver, type Responder } from '../helpers/webhooks.js';

// Delivery behaviour end to end: the API accepts events, one in-process delivery worker (short
// retry schedule: 50 ms, 100 ms, 100 ms) POSTs them to a real receiver on loopback. Every endpoint
// gets its events by explicit target, so no test's events reach another test's endpoint.
const SCHEDULE = [0.05, 0.1, 0.1];
let t: TestApp;
let worker: DeliveryWorker;
let rx: Receiver;
let ws: { id: string };
const plans = new Map<string, (n: number) => ReturnType<Responder>>();
const hits = (path: string) => rx.received.filter((r) => r.url === path);

type Attempt = { attempt: number; outcome: string; response_status: number | null; response_body: string | null; error: string | null; duration_ms: number; request_headers: Record<string, string>; next_attempt_at: string | null; created_at: string };
type Delivery = { id: string; status: string; attempts: number; max_attempts: number; event_id: string; last_status: number | null; last_error: string | null; next_attempt_at: string; finished_at: string | null };

beforeAll(async () => {
  t = await createTestApp();
  ({ workspace: ws } = await seedWorkspace(t));
  rx = await startReceiver((req) => plans.get(req.url)?.(hits(req.url).length));
  worker = await startDeliveryWorker(t, { retryScheduleS: SCHEDULE, pollMs: 100 });
});
afterAll(async () => {
  await worker?.stop();
  await rx?.close();
  await t?.close();
});

async function endpoint(app: TestApp, wsId: string, url: string, extra: Record<string, unknown> = {}) {
  const res = await app.call(app.adminKey, 'POST', `/v1/workspaces/${wsId}/webhooks`, { url, events: ['lead.created'], ...extra });
  expect(res.status, res.raw).toBe(201);
  return res.body as { id: string; secret: string };
}
const ep = (path: string, extra: Record<string, unknown> = {}) => endpoint(t, ws.id, `${rx.url}${path}`, extra);
async function sendTo(app: TestApp, wsId: string, endpointId: string, payload: unknown = {}) {
  const res = await app.call(app.adminKey, 'POST', `/v1/workspaces/${wsId}/events`, { type: 'lead.created', payload, endpoint: endpointId });
  expect(res.status, res.raw).toBe(202);
  expect(res.body.deliveries).toBe(1);
  return res.body.event_id as string;
}
const send = (endpointId: string, payload: unknown = {}) => sendTo(t, ws.id, endpointId, payload);
const deliveriesOf = async (app: TestApp, epId: string) => (await app.call(app.adminKey, 'GET', `/v1/webhooks/${epId}/deliveries?limit=500`)).body.data as Delivery[];
const settled = (epId: string, n: number, status = 'succeeded', app = t, timeoutMs = 10_000) =>
  eventually(async () => {
    const d = await deliveriesOf(app, epId);
    return d.length === n && d.every((x) => x.status === status) ? d : null;
  }, timeoutMs);
const detail = async (id: string) => (await t.call(t.adminKey, 'GET', `/v1/deliveries/${id}`)).body as Delivery & { attempt_log: Attempt[] };
const endpointView = async (app: TestApp, id: string) => (await app.call(app.adminKey, 'GET', `/v1/webhooks/${id}`)).body;

describe('retries', () => {
  test('500, 500, 200: three attempts spaced at least by the schedule (less 20% jitter), all logged', async () => {
    plans.set('/r500', (n) => ({ status: n <= 2 ? 500 : 200, body: `answer ${n}` }));
    const e = await ep('/r500');
    const eventId = await send(e.id, { n: 1 });
    const [d] = await settled(e.id, 1);
    expect(d).toMatchObject({ attempts: 3, last_status: 200, event_id: eventId });
    expect(d.finished_at).not.toBeNull();
    const full = await detail(d.id);
    expect(full.attempt_log.map((a) => a.outcome)).toEqual(['retrying', 'retrying', 'succeeded']);
    expect(full.attempt_log.map((a) => a.response_status)).toEqual([500, 500, 200]);
    expect(full.attempt_log.map((a) => a.response_body)).toEqual(['answer 1', 'answer 2', 'answer 3']);
    expect(full.attempt_log.map((a) => a.attempt)).toEqual([1, 2, 3]);
    expect(full.attempt_log.map((a) => a.next_attempt_at === null)).toEqual([false, false, true]);
    const got = hits('/r500');
    expect(got).toHaveLength(3);
    expect(new Set(got.map((r) => r.headers['webhook-id']))).toEqual(new Set([eventId]));
    expect(got[1].at - got[0].at).toBeGreaterThanOrEqual(SCHEDULE[0] * 1000 * 0.8);
    expect(got[2].at - got[1].at).toBeGreaterThanOrEqual(SCHEDULE[1] * 1000 * 0.8);
  });

  test('400: one attempt, no retry, dead and in the dead-letter list', async () => {
    plans.set('/r400', () => ({ status: 400, body: 'bad payload' }));
    const e = await ep('/r400');
    await send(e.id);
    // Dead is final (only a replay revives it): every attempt it will get has been received.
    const [d] = await settled(e.id, 1, 'dead');
    expect(hits('/r400')).toHaveLength(1);
    expect(d.attempts).toBe(1);
    const [a] = (await detail(d.id)).attempt_log;
    expect(a).toMatchObject({ outcome: 'failed', response_status: 400, response_body: 'bad payload', next_attempt_at: null });
    expect(a.error).toMatch(/not retried/);
    const dead = await t.call(t.adminKey, 'GET', `/v1/workspaces/${ws.id}/dead-letters`);
    expect(dead.body.data.map((x: Delivery) => x.id)).toContain(d.id);
  });

  test('429 with Retry-After: 1 waits about a second though the schedule says 50 ms', async () => {
    plans.set('/r429', (n) => (n === 1 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200 }));
    const e = await ep('/r429');
    await send(e.id);
    const [d] = await settled(e.id, 1);
    const [first, second] = hits('/r429');
    expect(second.at - first.at).toBeGreaterThanOrEqual(950);
    const [a] = (await detail(d.id)).attempt_log;
    expect(a.outcome).toBe('retrying');
    expect(Date.parse(a.next_attempt_at!) - Date.parse(a.created_at)).toBeGreaterThanOrEqual(900);
  });

  test('a receiver slower than timeout_s 1: the attempt times out, is logged, and is retried', async () => {
    plans.set('/slow', (n) => (n === 1 ? { delayMs: 2000 } : { status: 200 }));
    const e = await ep('/slow', { timeout_s: 1 });
    await send(e.id);
    const [d] = await settled(e.id, 1, 'succeeded', t, 15_000);
    const log = (await detail(d.id)).attempt_log;
    expect(log).toHaveLength(2);
    expect(log[0]).toMatchObject({ outcome: 'retrying', response_status: null });
    expect(log[0].error).toMatch(/timed out/);
    expect(log[0].duration_ms).toBeGreaterThanOrEqual(900);
    expect(log[0].duration_ms).toBeLessThan(1900);
    expect(log[1].outcome).toBe('succeeded');
  });

  test('a network error (nothing listening) is retried and recorded', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const e = await endpoint(t, ws.id, `http://127.0.0.1:${port}/closed`, { max_retries: 2 });
    await send(e.id);
    const [d] = await settled(e.id, 1, 'dead');
    expect(d.attempts).toBe(3);
    expect(d.last_error).toMatch(/ECONNREFUSED/);
    const log = (await detail(d.id)).attempt_log;
    expect(log.map((a) => a.outcome)).toEqual(['retrying', 'retrying', 'failed']);
    for (const a of log) {
      expect(a.response_status).toBeNull();
      expect(a.error).toMatch(/ECONNREFUSED/);
    }
  });

  test('max_retries 2 with a receiver that always answers 500: three attempts, then dead', async () => {
    plans.set('/always500', () => ({ status: 500 }));
    const e = await ep('/always500', { max_retries: 2 });
    await send(e.id);
    const [d] = await settled(e.id, 1, 'dead'); // final: no attempt follows
    expect(hits('/always500')).toHaveLength(3);
    expect(d).toMatchObject({ attempts: 3, max_attempts: 3, last_status: 500 });
    expect((await detail(d.id)).attempt_log.map((a) => a.outcome)).toEqual(['retrying', 'retrying', 'failed']);
    const dead = await t.call(t.adminKey, 'GET', `/v1/workspaces/${ws.id}/dead-letters?webhook_id=${e.id}`);
    expect(dead.body.data.map((x: Delivery) => x.id)).toEqual([d.id]);
  });
});

describe('disabling endpoints', () => {
  test('410 disables the endpoint and a gatehouse.endpoint.disabled event reaches a gatehouse.* subscriber', async () => {
    const watcher = await ep('/watch410', { events: ['gatehouse.*'] });
    plans.set('/gone', () => ({ status: 410 }));
    const e = await ep('/gone');
    await send(e.id);
    const [d] = await settled(e.id, 1, 'dead');
    expect(d.attempts).toBe(1);
    const view = await endpointView(t, e.id);
    expect(view.enabled).toBe(false);
    expect(view.disabled_reason).toMatch(/410/);
    await eventually(async () => hits('/watch410').length >= 1);
    const msg = hits('/watch410')[0];
    const body = new Webhook(watcher.secret).verify(msg.body, msg.headers as Record<string, string>) as { type: string; data: Record<string, unknown> };
    expect(body.type).toBe('gatehouse.endpoint.disabled');
    expect(body.data).toMatchObject({ endpoint_id: e.id, last_status: 410 });
    expect(String(body.data.reason)).toMatch(/410/);
    // A disabled endpoint is given nothing new, even by name.
    const again = await t.call(t.adminKey, 'POST', `/v1/workspaces/${ws.id}/events`, { type: 'lead.created', payload: {}, endpoint: e.id });
    expect(again.body.deliveries).toBe(0);
  });

  test('failing continuously longer than disableAfterS disables it; a success in between resets the clock', async () => {
    // Its own app and worker: a 1 s disable period and 0.6 s retries (±20%: every gap under 1 s).
    const t2 = await createTestApp();
    const w2 = await startDeliveryWorker(t2, { retryScheduleS: [0.6, 0.6, 0.6], disableAfterS: 1, pollMs: 50 });
    try {
      const { workspace } = await seedWorkspace(t2);
      const watcher = await endpoint(t2, workspace.id, `${rx.url}/dis-watch`, { events: ['gatehouse.endpoint.disabled'] });
      plans.set('/dis-always', () => ({ status: 500 }));
      // Three answers per message: 500, 500, 200. Two messages span ~2.4 s of attempts, but never
      // more than ~0.7 s of failure in a row.
      plans.set('/dis-flaky', (n) => ({ status: n % 3 === 0 ? 200 : 500 }));
      const failing = await endpoint(t2, workspace.id, `${rx.url}/dis-always`);
      const flaky = await endpoint(t2, workspace.id, `${rx.url}/dis-flaky`);
      await sendTo(t2, workspace.id, failing.id);
      await sendTo(t2, workspace.id, flaky.id, { m: 1 });

      const off = await eventually(async () => {
        const v = await endpointView(t2, failing.id);
        return v.enabled === false ? v : null;
      });
      expect(off.disabled_reason).toMatch(/failing continuously/);
      expect(Date.parse(off.updated_at) - Date.parse(off.failing_since)).toBeGreaterThan(1000);
      const tries = hits('/dis-always');
      expect(tries.length).toBeGreaterThanOrEqual(2);
      expect(tries[tries.length - 1].at - tries[0].at).toBeGreaterThanOrEqual(900);
      await eventually(async () => hits('/dis-watch').some((r) => r.body.includes(failing.id)));

      await settled(flaky.id, 1, 'succeeded', t2);
      expect((await endpointView(t2, flaky.id)).failing_since).toBeNull();
      const succeededAt = Date.now();
      await sendTo(t2, workspace.id, flaky.id, { m: 2 });
      // Its first failure after the success starts a new run (not the old run's start).
      const restarted = await eventually(async () => (await endpointView(t2, flaky.id)).failing_since as string | null);
      expect(Date.parse(restarted)).toBeGreaterThanOrEqual(succeededAt - 50);
      await settled(flaky.id, 2, 'succeeded', t2);
      const view = await endpointView(t2, flaky.id);
      expect(hits('/dis-flaky')).toHaveLength(6);
      expect(hits('/dis-flaky')[5].at - hits('/dis-flaky')[0].at).toBeGreaterThan(1000);
      // The worker claimed the flaky endpoint's last attempt after the disabled endpoint's delivery
      // was due again, and passed it over: nothing was sent to it after it was disabled.
      const [stranded] = await deliveriesOf(t2, failing.id);
      expect(stranded.status).toBe('pending');
      expect(Date.parse(stranded.next_attempt_at)).toBeLessThan(hits('/dis-flaky')[5].at);
      expect(hits('/dis-always'), 'no attempt after the endpoint was disabled').toHaveLength(tries.length);
      expect(view).toMatchObject({ enabled: true, disabled_reason: null, failing_since: null });
      expect(hits('/dis-watch').some((r) => r.body.includes(flaky.id))).toBe(false);
      expect(watcher.id).toBeTruthy();
    } finally {
      await w2.stop();
      await t2.close();
    }
  });
});

describe('what is logged and counted', () => {
  test('attempt logs keep webhook-id and -timestamp, redact the signature and bearer token, cap the body at 4096', async () => {
    const token = 'tok_0123456789abcdefghij';
    plans.set('/logs', () => ({ status: 200, body: 'x'.repeat(10 * 1024) }));
    const e = await ep('/logs', { auth_token: token, headers: { 'x-route': 'blue' } });
    const eventId = await send(e.id);
    const [d] = await settled(e.id, 1);
    const res = await t.call(t.adminKey, 'GET', `/v1/deliveries/${d.id}`);
    const [a] = res.body.attempt_log as Attempt[];
    const sent = hits('/logs')[0].headers;
    expect(sent.authorization).toBe(`Bearer ${token}`);
    expect(sent['webhook-signature']).toMatch(/^v1,/);
    expect(a.request_headers).toMatchObject({
      'webhook-id': eventId,
      'webhook-timestamp': sent['webhook-timestamp'],
      'webhook-signature': '[redacted]',
      authorization: 'Bearer [redacted]',
      // Custom header values are sealed and only ever shown masked (sent as given: see sealed-headers.test.ts).
      'x-route': '****',
      'content-type': 'application/json',
    });
    expect(sent['x-route']).toBe('blue');
    expect(Math.abs(Number(a.request_headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(60);
    expect(a.response_body).toBe('x'.repeat(4096));
    expect(res.raw).not.toContain(token);
    expect(res.raw).not.toContain(String(sent['webhook-signature']).slice(3));
  });

  test('endpoint stats are exact after a known sequence: 500+200, 400, 200, 200', async () => {
    const answers = [500, 200, 400, 200, 200];
    plans.set('/stats', (n) => ({ status: answers[n - 1] ?? 599 }));
    const e = await ep('/stats', { max_retries: 1 });
    expect((await endpointView(t, e.id)).stats).toEqual({ total: 0, succeeded: 0, failed: 0, success_rate: null, last_called_at: null });
    await send(e.id);
    await settled(e.id, 1);
    await send(e.id);
    await eventually(async () => (await deliveriesOf(t, e.id)).some((d) => d.status === 'dead'));
    await send(e.id);
    await eventually(async () => (await deliveriesOf(t, e.id)).filter((d) => d.status === 'succeeded').length === 2);
    await send(e.id);
    const all = await eventually(async () => {
      const ds = await deliveriesOf(t, e.id);
      return ds.length === 4 && ds.filter((d) => d.status === 'succeeded').length === 3 ? ds : null;
    });
    const view = await endpointView(t, e.id);
    expect(view.stats).toMatchObject({ total: 5, succeeded: 3, failed: 2, success_rate: 60 });
    // last_called_at is written in the same transaction as the last attempt.
    const logs = (await Promise.all(all.map((d) => detail(d.id)))).flatMap((x) => x.attempt_log);
    expect(logs).toHaveLength(5);
    const latest = logs.map((a) => a.created_at).sort().at(-1);
    expect(view.stats.last_called_at).toBe(latest);
  });

  test('max_in_flight 2 on a slow endpoint: never more than 2 open requests, and a fast endpoint is not starved', async () => {
    let open = 0;
    let most = 0;
    plans.set('/fair-slow', () => {
      open++;
      most = Math.max(most, open);
      setTimeout(() => open--, 1500); // registered before the helper's reply timer, so it runs first
      return { delayMs: 1500 };
    });
    const slow = await ep('/fair-slow', { max_in_flight: 2 });
    const fast = await ep('/fair-fast');
    for (let i = 0; i < 10; i++) await send(slow.id, { i });
    for (let i = 0; i < 10; i++) await send(fast.id, { i });
    await settled(fast.id, 10, 'succeeded', t, 5000);
    const slowDone = (await deliveriesOf(t, slow.id)).filter((d) => d.status === 'succeeded').length;
    expect(slowDone, "the fast endpoint finished first, not after the slow one's backlog").toBeLessThan(10);
    await settled(slow.id, 10, 'succeeded', t, 20_000);
    expect(most).toBe(2);
    expect(hits('/fair-slow')).toHaveLength(10);
  }, 30_000);

  test('/metrics: deliveries by outcome, attempt durations, queue depth and age of the oldest due delivery', async () => {
    // Its own app, so the counters and the queue are only this test's; no worker at first.
    const t3 = await createTestApp();
    let w3: DeliveryWorker | undefined;
    try {
      const { workspace } = await seedWorkspace(t3);
      plans.set('/m-flaky', (n) => ({ status: n === 1 ? 503 : 200 }));
      const ok = await endpoint(t3, workspace.id, `${rx.url}/m-ok`);
      const flaky = await endpoint(t3, workspace.id, `${rx.url}/m-flaky`);
      for (let i = 0; i < 3; i++) await sendTo(t3, workspace.id, ok.id);
      await sendTo(t3, workspace.id, flaky.id);
      // One of them has waited 90 s (its due time moved back, rather than waiting for it to age).
      await sql`update webhook_deliveries set next_attempt_at = now() - interval '90 seconds'
        where id = (select min(id) from webhook_deliveries where endpoint_id = ${ok.id})`.execute(t3.db.database.db);
      const queued = (await t3.call(null, 'GET', '/metrics')).raw;
      expect(metric(queued, 'gatehouse_webhook_queue_depth')).toBe(4);
      expect(metric(queued, 'gatehouse_webhook_oldest_due_seconds')).toBeGreaterThanOrEqual(90);
      expect(metric(queued, 'gatehouse_webhook_oldest_due_seconds')).toBeLessThan(120);

      w3 = await startDeliveryWorker(t3, { retryScheduleS: SCHEDULE, pollMs: 100 });
      await settled(ok.id, 3, 'succeeded', t3);
      await settled(flaky.id, 1, 'succeeded', t3);
      const after = (await t3.call(null, 'GET', '/metrics')).raw;
      expect(metric(after, 'gatehouse_webhook_deliveries_total{outcome="succeeded"}')).toBe(4);
      expect(metric(after, 'gatehouse_webhook_deliveries_total{outcome="retrying"}')).toBe(1);
      expect(metric(after, 'gatehouse_webhook_attempt_duration_seconds_count{outcome="succeeded"}')).toBe(4);
      expect(metric(after, 'gatehouse_webhook_attempt_duration_seconds_count{outcome="retrying"}')).toBe(1);
      expect(after).toMatch(/^gatehouse_webhook_attempt_duration_seconds_bucket\{le="0\.005",outcome="succeeded"\} \d+$/m);
      expect(metric(after, 'gatehouse_webhook_queue_depth')).toBe(0);
      expect(metric(after, 'gatehouse_webhook_oldest_due_seconds')).toBe(0);
    } finally {
      await w3?.stop();
      await t3.close();
    }
  });
});

/** The value of one sample line of a Prometheus text exposition (name with its labels, as printed). */
function metric(text: string, sample: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  if (!line) throw new Error(`${sample} is not in /metrics`);
  return Number(line.slice(sample.length + 1));
}

describe('wake-ups', () => {
  test('enabling an endpoint again wakes the workers for its waiting delivery, without a poll', async () => {
    const t3 = await createTestApp();
    const { workspace } = await seedWorkspace(t3);
    let w3: DeliveryWorker | undefined;
    try {
      const e = await endpoint(t3, workspace.id, `${rx.url}/wake-enable`);
      await sendTo(t3, workspace.id, e.id); // pending, and no worker yet
      expect((await t3.call(t3.adminKey, 'PATCH', `/v1/webhooks/${e.id}`, { enabled: false })).status).toBe(200);
      // Polling every minute: only a notification can bring the delivery out within the test. No
      // hand-off, so another endpoint's event is claimed: that claim, begun after this delivery was
      // due, passed it over (and so would every claim until it is enabled).
      w3 = await startDeliveryWorker(t3, { pollMs: 60_000, handOff: false });
      const other = await endpoint(t3, workspace.id, `${rx.url}/wake-other`);
      await sendTo(t3, workspace.id, other.id);
      await settled(other.id, 1, 'succeeded', t3, 5000);
      expect((await deliveriesOf(t3, e.id)).map((d) => d.status)).toEqual(['pending']);
      expect(hits('/wake-enable')).toHaveLength(0);
      expect((await t3.call(t3.adminKey, 'PATCH', `/v1/webhooks/${e.id}`, { enabled: true })).status).toBe(200);
      await settled(e.id, 1, 'succeeded', t3, 5000);
    } finally {
      await w3?.stop();
      await t3.close();
    }
  });
});
