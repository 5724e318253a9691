import { Webhook as StandardWebhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { DeliveryWorker } from '../../src/modules/webhooks/deliver.js';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';
import { eventually, startDeliveryWorker, startReceiver, type Receiver } from '../helpers/webhooks.js';

// Real deliveries to a real receiver on loopback, through the API and one delivery worker with a
// short retry schedule (50 ms, 100 ms, 100 ms …).
let t: TestApp;
let worker: DeliveryWorker;
let rx: Receiver;
let ws: { id: string };
const answers = new Map<string, (n: number) => { status?: number; headers?: Record<string, string>; body?: string; delayMs?: number }>();
const hits = (path: string) => rx.received.filter((r) => r.url === path);

beforeAll(async () => {
  t = await createTestApp();
  ({ workspace: ws } = await seedWorkspace(t));
  rx = await startReceiver((req) => {
    const plan = answers.get(req.url);
    return plan ? plan(hits(req.url).length) : undefined;
  });
  worker = await startDeliveryWorker(t, { retryScheduleS: [0.05, 0.1, 0.1], pollMs: 100 });
});
afterAll(async () => {
  await worker?.stop();
  await rx?.close();
  await t?.close();
});

async function endpoint(path: string, extra: Record<string, unknown> = {}) {
  const res = await t.call(t.adminKey, 'POST', `/v1/workspaces/${ws.id}/webhooks`, { url: `${rx.url}${path}`, events: ['*'], ...extra });
  expect(res.status, res.raw).toBe(201);
  return res.body as { id: string; secret: string };
}
async function send(type: string, payload: unknown, extra: Record<string, unknown> = {}) {
  const res = await t.call(t.adminKey, 'POST', `/v1/workspaces/${ws.id}/events`, { type, payload, ...extra });
  expect(res.status, res.raw).toBe(202);
  return res.body as { event_id: string; duplicate: boolean; deliveries: number };
}
const deliveriesOf = async (epId: string) => (await t.call(t.adminKey, 'GET', `/v1/webhooks/${epId}/deliveries`)).body.data as Array<{ id: string; status: string; attempts: number; event_id: string }>;
const settled = (epId: string, n: number, status = 'succeeded') =>
  eventually(async () => {
    const d = await deliveriesOf(epId);
    return d.length === n && d.every((x) => x.status === status) ? d : null;
  });

describe('signing (Standard Webhooks)', () => {
  test('real deliveries verify with standardwebhooks and svix, unchanged; a tampered body or another secret does not', async () => {
    const ep = await endpoint('/sign');
    const sent = await send('lead.replied', { lead_id: 42, note: 'héllo' });
    await eventually(async () => hits('/sign').length === 1);
    const req = hits('/sign')[0];
    const headers = req.headers as Record<string, string>;
    expect(headers['webhook-id']).toBe(sent.event_id);
    const viaStandard = new StandardWebhook(ep.secret).verify(req.body, headers) as { type: string; data: unknown };
    expect(viaStandard).toMatchObject({ type: 'lead.replied', data: { lead_id: 42, note: 'héllo' } });
    expect(new SvixWebhook(ep.secret).verify(req.body, headers)).toMatchObject({ type: 'lead.replied' });
    expect(() => new StandardWebhook(ep.secret).verify(req.body.replace('42', '43'), headers)).toThrow();
    const other = (await endpoint('/sign-other')).secret;
    expect(() => new SvixWebhook(other).verify(req.body, headers)).toThrow();
  });

  test('after a rotation both secrets verify the next delivery (two signatures); with overlap 0 only the new one', async () => {
    const ep = await endpoint('/rotate', { events: ['lead.created'] });
    const rotated = await t.call(t.adminKey, 'POST', `/v1/webhooks/${ep.id}/rotate-secret`, {});
    expect(rotated.status, rotated.raw).toBe(200);
    await send('lead.created', { n: 1 });
    await eventually(async () => hits('/rotate').length === 1);
    const first = hits('/rotate')[0];
    expect(String(first.headers['webhook-signature']).split(' ')).toHaveLength(2);
    for (const secret of [ep.secret, rotated.body.secret]) {
      expect(() => new StandardWebhook(secret).verify(first.body, first.headers as Record<string, string>)).not.toThrow();
      expect(() => new SvixWebhook(secret).verify(first.body, first.headers as Record<string, string>)).not.toThrow();
    }
    const again = await t.call(t.adminKey, 'POST', `/v1/webhooks/${ep.id}/rotate-secret`, { overlap_s: 0 });
    await send('lead.created', { n: 2 });
    await eventually(async () => hits('/rotate').length === 2);
    const second = hits('/rotate')[1];
    expect(() => new StandardWebhook(again.body.secret).verify(second.body, second.headers as Record<string, string>)).not.toThrow();
    expect(() => new StandardWebhook(rotated.body.secret).verify(second.body, second.headers as Record<string, string>)).toThrow();
  });
});

describe('retries, dead letters and replay', () => {
  test('500, 500, then 200: three attempts with one webhook-id, spaced by the schedule, every attempt logged', async () => {
    answers.set('/flaky', (n) => ({ status: n <= 2 ? 500 : 200, body: `answer ${n}` }));
    const ep = await endpoint('/flaky');
    const sent = await send('email.sent', { id: 1 });
    const [d] = await settled(ep.id, 1);
    expect(d.attempts).toBe(3);
    const got = hits('/flaky');
    expect(new Set(got.map((r) => r.headers['webhook-id']))).toEqual(new Set([sent.event_id]));
    expect(got[1].at - got[0].at).toBeGreaterThanOrEqual(40 * 0.8);
    const detail = (await t.call(t.adminKey, 'GET', `/v1/deliveries/${d.id}`)).body;
    expect(detail.attempt_log.map((a: { outcome: string }) => a.outcome)).toEqual(['retrying', 'retrying', 'succeeded']);
    expect(detail.attempt_log.map((a: { response_status: number }) => a.response_status)).toEqual([500, 500, 200]);
    expect(detail.attempt_log[0].response_body).toBe('answer 1');
    expect(detail.attempt_log[0].request_headers['webhook-signature']).toBe('[redacted]');
    expect(detail.payload).toEqual({ id: 1 });
  });

  test('a 400 is not retried: one attempt, then the dead-letter list; replay sends it again with the same webhook-id', async () => {
    answers.set('/refuses', () => ({ status: 400 }));
    const ep = await endpoint('/refuses');
    const sent = await send('email.bounced', { id: 2 });
    const [d] = await settled(ep.id, 1, 'dead');
    expect(d.attempts).toBe(1);
    const dead = (await t.call(t.adminKey, 'GET', `/v1/workspaces/${ws.id}/dead-letters?webhook_id=${ep.id}`)).body.data;
    expect(dead.map((x: { id: string }) => x.id)).toEqual([d.id]);
    answers.set('/refuses', () => ({ status: 204 }));
    const replay = await t.call(t.adminKey, 'POST', `/v1/deliveries/${d.id}/replay`);
    expect(replay.status, replay.raw).toBe(202);
    await settled(ep.id, 1, 'succeeded');
    expect(hits('/refuses').map((r) => r.headers['webhook-id'])).toEqual([sent.event_id, sent.event_id]);
  });

  test('max_retries 1 with a receiver that always fails: two attempts, dead; retrying the dead letters delivers them', async () => {
    answers.set('/down', () => ({ status: 503 }));
    const ep = await endpoint('/down', { max_retries: 1 });
    await send('meeting.booked', { a: 1 });
    await send('meeting.booked', { a: 2 });
    const dead = await settled(ep.id, 2, 'dead');
    expect(dead.every((d) => d.attempts === 2)).toBe(true);
    answers.set('/down', () => ({ status: 200 }));
    const retried = await t.call(t.adminKey, 'POST', `/v1/webhooks/${ep.id}/dead-letters/retry`);
    expect(retried.body).toEqual({ requeued: 2 });
    await settled(ep.id, 2, 'succeeded');
  });

  test('429 with Retry-After: 1 waits a second, though the schedule says 50 ms', async () => {
    answers.set('/slowdown', (n) => (n === 1 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200 }));
    const ep = await endpoint('/slowdown');
    await send('email.opened', {});
    await settled(ep.id, 1);
    const [a, b] = hits('/slowdown');
    expect(b.at - a.at).toBeGreaterThanOrEqual(950);
  });

  test('a receiver slower than the timeout: the attempt times out and is retried', async () => {
    answers.set('/sleepy', (n) => (n === 1 ? { delayMs: 2500 } : { status: 200 }));
    const ep = await endpoint('/sleepy', { timeout_s: 1 });
    await send('email.clicked', {});
    const [d] = await eventually(async () => {
      const x = await deliveriesOf(ep.id);
      return x[0]?.status === 'succeeded' ? x : null;
    }, 15_000);
    const log = (await t.call(t.adminKey, 'GET', `/v1/deliveries/${d.id}`)).body.attempt_log;
    expect(log[0].error).toMatch(/timed out after 1 s/);
    expect(log[0].response_status).toBeNull();
  });

  test('410 Gone disables the endpoint and emits gatehouse.endpoint.disabled to a subscriber', async () => {
    const watcher = await endpoint('/watcher', { events: ['gatehouse.*'] });
    answers.set('/gone', () => ({ status: 410 }));
    const ep = await endpoint('/gone', { events: ['campaign.*'] });
    await send('campaign.paused', {});
    await eventually(async () => (await t.call(t.adminKey, 'GET', `/v1/webhooks/${ep.id}`)).body.enabled === false);
    const view = (await t.call(t.adminKey, 'GET', `/v1/webhooks/${ep.id}`)).body;
    expect(view.disabled_reason).toMatch(/410/);
    const notice = await eventually(async () => hits('/watcher').map((r) => JSON.parse(r.body)).find((b) => b.type === 'gatehouse.endpoint.disabled' && b.data.endpoint_id === ep.id));
    expect(notice.data).toMatchObject({ endpoint_id: ep.id, last_status: 410 });
    expect(notice.data.reason).toMatch(/410/);
    // A disabled endpoint gets no new deliveries, even when the event names it.
    expect((await send('campaign.paused', {}, { endpoint: ep.id })).deliveries).toBe(0);
    expect((await deliveriesOf(ep.id)).length).toBe(1);
    expect((await deliveriesOf(watcher.id)).length).toBeGreaterThanOrEqual(1);
  });

  test('stats on the endpoint are exact after a known sequence', async () => {
    answers.set('/counted', (n) => ({ status: n === 1 ? 500 : 200 }));
    const ep = await endpoint('/counted');
    await send('lead.updated', {});
    await settled(ep.id, 1);
    await send('lead.updated', {});
    await settled(ep.id, 2);
    const stats = (await t.call(t.adminKey, 'GET', `/v1/webhooks/${ep.id}`)).body.stats;
    expect(stats).toMatchObject({ total: 3, succeeded: 2, failed: 1, success_rate: 66.67 });
    expect(stats.last_called_at).not.toBeNull();
  });
});

describe('accepting events', () => {
  test('an idempotency key returns the first event and creates nothing more, even under 20 concurrent repeats', async () => {
    const ep = await endpoint('/idem', { events: ['lead.interested'] });
    const results = await Promise.all(Array.from({ length: 20 }, () => send('lead.interested', { x: 1 }, { idempotency_key: 'once-only' })));
    const ids = new Set(results.map((r) => r.event_id));
    expect(ids.size).toBe(1);
    expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
    await settled(ep.id, 1);
    expect(hits('/idem')).toHaveLength(1);
  });

  test('filters, a named endpoint and broadcast choose the endpoints', async () => {
    const wsB = (await seedWorkspace(t)).workspace;
    const make = async (path: string, events: string[], name?: string) =>
      (await t.call(t.adminKey, 'POST', `/v1/workspaces/${wsB.id}/webhooks`, { url: `${rx.url}${path}`, events, ...(name ? { name } : {}) })).body.id as string;
    await make('/f-exact', ['lead.replied']);
    await make('/f-prefix', ['lead.*']);
    await make('/f-other', ['email.*'], 'mailer');
    const post = async (body: object) => (await t.call(t.adminKey, 'POST', `/v1/workspaces/${wsB.id}/events`, body)).body;
    expect((await post({ type: 'lead.replied', payload: {} })).deliveries).toBe(2);
    expect((await post({ type: 'lead.created', payload: {} })).deliveries).toBe(1);
    expect((await post({ type: 'lead.created', payload: {}, endpoint: 'mailer' })).deliveries).toBe(1);
    expect((await post({ type: 'lead.created', payload: {}, broadcast: true })).deliveries).toBe(3);
    const unknown = await t.call(t.adminKey, 'POST', `/v1/workspaces/${wsB.id}/events`, { type: 'made.up', payload: {} });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.message).toMatch(/event-types/);
  });

  test('to a workspace that does not exist: 404 whatever else is wrong with the event, and nothing written', async () => {
    const missing = 'ws_01jz0000000000000000000000';
    const bodies = [
      { type: 'lead.created', payload: {} },
      { type: 'lead.created', payload: {}, broadcast: true },
      { type: 'lead.created', payload: {}, endpoint: 'mailer' },
      { type: 'lead.created', payload: {}, endpoint: 'mailer', broadcast: true },
      { type: 'made.up', payload: {} },
      { type: 'gatehouse.key.revoked', payload: {} },
    ];
    for (const body of bodies) {
      const res = await t.call(t.adminKey, 'POST', `/v1/workspaces/${missing}/events`, body);
      expect(res.status, `${JSON.stringify(body)} → ${res.raw}`).toBe(404);
      expect(res.body.error).toMatchObject({ code: 'not_found', message: expect.stringMatching(/workspace/) });
    }
    const written = await t.db.database.db.selectFrom('events').select('id').where('workspace_id', '=', missing).execute();
    expect(written).toEqual([]);
  });
});

describe('safety', () => {
  test('with private targets off: http, loopback and metadata addresses are refused with the field named', async () => {
    const strict = await createTestApp({ GATEHOUSE_ALLOW_PRIVATE_TARGETS: 'false' });
    try {
      const { workspace } = await seedWorkspace(strict);
      for (const url of ['http://hooks.example.com/x', 'https://127.0.0.1/x', 'https://169.254.169.254/latest', 'https://[::1]/x', 'https://localhost/x', 'https://10.0.0.8/x']) {
        const res = await strict.call(strict.adminKey, 'POST', `/v1/workspaces/${workspace.id}/webhooks`, { url, events: ['*'] });
        expect(res.status, url).toBe(400);
        expect(res.body.error.details.field).toBe('url');
      }
      // A public address literal needs no lookup (names are resolved at creation: see ssrf.test.ts).
      expect((await strict.call(strict.adminKey, 'POST', `/v1/workspaces/${workspace.id}/webhooks`, { url: 'https://93.184.216.34/x', events: ['*'] })).status).toBe(201);

      // Test mode (the platform admin's) allows plain http://, never a loopback or private address:
      // only GATEHOUSE_ALLOW_PRIVATE_TARGETS does that (a delivery to one is refused: ssrf.test.ts).
      const testMode = await strict.call(strict.adminKey, 'PATCH', `/v1/workspaces/${workspace.id}`, { test_mode: true });
      expect(testMode.body.test_mode).toBe(true);
      expect((await strict.call(strict.adminKey, 'POST', `/v1/workspaces/${workspace.id}/webhooks`, { url: 'http://93.184.216.34/x', events: ['*'] })).status).toBe(201);
      const local = await strict.call(strict.adminKey, 'POST', `/v1/workspaces/${workspace.id}/webhooks`, { url: `${rx.url}/test-mode`, events: ['lead.created'] });
      expect(local.status, local.raw).toBe(400);
      expect(local.body.error.details).toMatchObject({ field: 'url', reason: 'private_target' });
    } finally {
      await strict.close();
    }
  });

  test('secrets never come back: not in views, attempt logs, logs or the audit trail', async () => {
    const token = 'bearer-token-abcdefghijklmnop';
    const ep = await endpoint('/secretive', { auth_token: token, headers: { 'x-api-key': 'header-secret-123456789' } });
    await send('lead.replied', {});
    const [d] = await settled(ep.id, 1);
    expect(hits('/secretive')[0].headers.authorization).toBe(`Bearer ${token}`);
    const texts = {
      endpoint: (await t.call(t.adminKey, 'GET', `/v1/webhooks/${ep.id}`)).raw,
      list: (await t.call(t.adminKey, 'GET', `/v1/workspaces/${ws.id}/webhooks`)).raw,
      delivery: (await t.call(t.adminKey, 'GET', `/v1/deliveries/${d.id}`)).raw,
      audit: (await t.call(t.adminKey, 'GET', `/v1/audit?workspace_id=${ws.id}`)).raw,
      logs: t.logs.join('\n'),
    };
    const secrets = { signing: ep.secret.slice(6), token, header: 'header-secret-123456789' };
    for (const [where, text] of Object.entries(texts)) {
      for (const [what, secret] of Object.entries(secrets)) expect(text.includes(secret), `${where} holds the ${what}`).toBe(false);
    }
  });
});

describe('fairness and analytics', () => {
  test('a slow endpoint holds only its max_in_flight slots; a fast one is not starved', async () => {
    let open = 0;
    let most = 0;
    answers.set('/slow', () => {
      open++;
      most = Math.max(most, open);
      setTimeout(() => open--, 600);
      return { delayMs: 600 };
    });
    const slow = await endpoint('/slow', { events: ['campaign.sent'], max_in_flight: 2 });
    const fast = await endpoint('/fast', { events: ['campaign.sent'] });
    await Promise.all(Array.from({ length: 8 }, (_, i) => send('campaign.sent', { i })));
    await settled(fast.id, 8);
    const slowDone = (await deliveriesOf(slow.id)).filter((d) => d.status === 'succeeded').length;
    expect(slowDone).toBeLessThan(8);
    await settled(slow.id, 8);
    expect(most).toBeLessThanOrEqual(2);
  });

  test('analytics sum what was attempted, per endpoint and in a series; a bad window is a 400', async () => {
    const res = await t.call(t.adminKey, 'GET', `/v1/workspaces/${ws.id}/webhooks/analytics?window=1h`);
    expect(res.status, res.raw).toBe(200);
    const a = res.body;
    const perEndpoint = a.endpoints.reduce((n: number, e: { total: number }) => n + e.total, 0);
    expect(a.total).toBe(perEndpoint);
    expect(a.succeeded + a.failed).toBe(a.total);
    expect(a.series.reduce((n: number, s: { total: number }) => n + s.total, 0)).toBe(a.total);
    expect(a.p95_latency_ms).toBeGreaterThan(0);
    const attempts = await t.db.database.db.selectFrom('webhook_attempts').select((eb) => eb.fn.countAll<string>().as('n')).where('workspace_id', '=', ws.id).executeTakeFirstOrThrow();
    expect(a.total).toBe(Number(attempts.n));
    expect((await t.call(t.adminKey, 'GET', `/v1/workspaces/${ws.id}/webhooks/analytics?window=2h`)).status).toBe(400);
  });
});
