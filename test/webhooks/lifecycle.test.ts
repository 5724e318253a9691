import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { DeliveryWorker } from '../../src/modules/webhooks/deliver.js';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';
import { eventually, startDeliveryWorker, startReceiver, type Receiver } from '../helpers/webhooks.js';

// An endpoint's life: managed through the API, tested, disabled by failing too long, and never
// led elsewhere by a redirect. One worker with a 1 s disable period and slow-ish retries.
let t: TestApp;
let worker: DeliveryWorker;
const WORKER = { retryScheduleS: [0.4, 0.4, 0.4, 0.4, 0.4], disableAfterS: 1, pollMs: 100 };
let rx: Receiver;
let ws: { id: string };
let key: string;

beforeAll(async () => {
  t = await createTestApp();
  ({ workspace: ws, key } = await seedWorkspace(t));
  rx = await startReceiver((req) => {
    if (req.url === '/redirect') return { status: 302, headers: { location: `${rx.url}/elsewhere` } };
    if (req.url.startsWith('/broken')) return { status: 500 };
    return undefined;
  });
  worker = await startDeliveryWorker(t, WORKER);
});
afterAll(async () => {
  await worker?.stop();
  await rx?.close();
  await t?.close();
});

const create = (body: object, as = t.adminKey) => t.call(as, 'POST', `/v1/workspaces/${ws.id}/webhooks`, body);

describe('managing endpoints', () => {
  test('create, read, patch, delete; a duplicate name is a 409; another workspace sees 404', async () => {
    const made = await create({ url: `${rx.url}/crud`, events: ['lead.*'], name: 'crm', description: 'the CRM' });
    expect(made.status, made.raw).toBe(201);
    expect(made.body.secret).toMatch(/^whsec_[A-Za-z0-9+/]+={0,2}$/);
    expect(Buffer.from(made.body.secret.slice(6), 'base64')).toHaveLength(32);
    const got = await t.call(key, 'GET', `/v1/webhooks/${made.body.id}`);
    expect(got.body).toMatchObject({ name: 'crm', events: ['lead.*'], timeout_s: 30, max_retries: 8, enabled: true });
    expect(got.raw).not.toContain(made.body.secret.slice(6));
    expect((await create({ url: `${rx.url}/crud2`, events: ['*'], name: 'crm' })).status).toBe(409);
    const patched = await t.call(key, 'PATCH', `/v1/webhooks/${made.body.id}`, { timeout_s: 5, events: ['email.*'] });
    expect(patched.body).toMatchObject({ timeout_s: 5, events: ['email.*'] });
    const other = await seedWorkspace(t);
    for (const [method, path] of [['GET', ''], ['PATCH', ''], ['DELETE', ''], ['POST', '/test'], ['POST', '/rotate-secret'], ['GET', '/deliveries']] as const) {
      const res = await t.call(other.key, method, `/v1/webhooks/${made.body.id}${path}`, method === 'PATCH' ? { timeout_s: 9 } : method === 'POST' ? {} : undefined);
      expect(res.status, `${method} ${path}`).toBe(404);
    }
    expect((await t.call(other.key, 'GET', `/v1/workspaces/${ws.id}/webhooks`)).status).toBe(404);
    expect((await t.call(key, 'DELETE', `/v1/webhooks/${made.body.id}`)).status).toBe(204);
    expect((await t.call(key, 'GET', `/v1/webhooks/${made.body.id}`)).status).toBe(404);
  });

  test('the endpoint list pages by cursor, oldest first, every endpoint exactly once', async () => {
    const own = await seedWorkspace(t);
    const made: string[] = [];
    for (let i = 0; i < 7; i++) {
      const res = await t.call(own.key, 'POST', `/v1/workspaces/${own.workspace.id}/webhooks`, { url: `${rx.url}/paged-${i}`, events: ['*'], auth_token: `token-paged-${i}` });
      expect(res.status, res.raw).toBe(201);
      made.push(res.body.id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await t.call(own.key, 'GET', `/v1/workspaces/${own.workspace.id}/webhooks?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status, res.raw).toBe(200);
      for (const e of res.body.data as Array<{ id: string; auth_token: string }>) {
        expect(e.auth_token).toMatch(/^\*\*\*ed-\d$/);
        seen.push(e.id);
      }
      cursor = res.body.next_cursor as string | null;
      pages++;
    } while (cursor);
    expect(seen).toEqual(made);
    expect(pages).toBe(3);
    const whole = await t.call(own.key, 'GET', `/v1/workspaces/${own.workspace.id}/webhooks`);
    expect(whole.body).toMatchObject({ next_cursor: null });
    expect((whole.body.data as Array<{ id: string }>).map((e) => e.id)).toEqual(made);
    const bad = await t.call(own.key, 'GET', `/v1/workspaces/${own.workspace.id}/webhooks?cursor=bm90LWEtY3Vyc29y`);
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('validation_failed');
  });

  test('bad configuration is a 400 naming the field, never a 500', async () => {
    const cases: Array<[object, string]> = [
      [{ url: 'not a url', events: ['*'] }, 'url'],
      [{ url: `${rx.url}/x`, events: ['*'], timeout_s: 0 }, 'timeout_s'],
      [{ url: `${rx.url}/x`, events: ['*'], timeout_s: 301 }, 'timeout_s'],
      [{ url: `${rx.url}/x`, events: ['*'], max_retries: 11 }, 'max_retries'],
      [{ url: `${rx.url}/x`, events: ['Not A Type'] }, 'events'],
      [{ url: `${rx.url}/x`, events: ['*'], headers: { authorization: 'x' } }, 'headers.authorization'],
      [{ url: `${rx.url}/x`, events: ['*'], headers: { 'webhook-id': 'x' } }, 'headers.webhook-id'],
      [{ url: `${rx.url}/x`, events: ['*'], secret: 'whsec_short' }, 'secret'],
      [{ url: 'ftp://example.com/x', events: ['*'] }, 'url'],
    ];
    for (const [body, field] of cases) {
      const res = await create(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(JSON.stringify(res.body.error.details ?? {}), JSON.stringify(body)).toContain(field.split('.')[0]);
    }
  });

  test('POST /v1/webhooks/:id/test sends a signed gatehouse.webhook.test message to that endpoint only', async () => {
    const ep = await create({ url: `${rx.url}/tested`, events: ['lead.created'] });
    const res = await t.call(key, 'POST', `/v1/webhooks/${ep.body.id}/test`, {});
    expect(res.status, res.raw).toBe(202);
    await eventually(async () => rx.received.some((r) => r.url === '/tested'));
    const got = rx.received.find((r) => r.url === '/tested')!;
    expect(JSON.parse(got.body)).toMatchObject({ type: 'gatehouse.webhook.test' });
    expect(got.headers['webhook-id']).toBe(res.body.event_id);
  });
});

describe('failures', () => {
  test('a redirect is not followed: the attempt fails and the target is never called', async () => {
    const ep = await create({ url: `${rx.url}/redirect`, events: ['email.opened'], max_retries: 0 });
    await t.call(key, 'POST', `/v1/workspaces/${ws.id}/events`, { type: 'email.opened', payload: {} });
    await eventually(async () => (await t.call(key, 'GET', `/v1/webhooks/${ep.body.id}/deliveries`)).body.data[0]?.status === 'dead');
    expect(rx.received.some((r) => r.url === '/elsewhere')).toBe(false);
  });

  test('an endpoint failing continuously past the disable period is disabled, with a gatehouse.endpoint.disabled event', async () => {
    const watcher = await create({ url: `${rx.url}/watch`, events: ['gatehouse.endpoint.disabled'] });
    const ep = await create({ url: `${rx.url}/broken`, events: ['meeting.cancelled'], max_retries: 10 });
    await t.call(key, 'POST', `/v1/workspaces/${ws.id}/events`, { type: 'meeting.cancelled', payload: {} });
    const view = await eventually(async () => {
      const v = (await t.call(key, 'GET', `/v1/webhooks/${ep.body.id}`)).body;
      return v.enabled === false ? v : null;
    }, 15_000);
    expect(view.disabled_reason).toMatch(/failing continuously/);
    expect(new Date(view.failing_since).getTime()).toBeLessThan(Date.now() - 1000);
    await eventually(async () => rx.received.some((r) => r.url === '/watch' && r.body.includes(ep.body.id)));
    // Enabled again, its failure clock starts over.
    const enabled = await t.call(key, 'PATCH', `/v1/webhooks/${ep.body.id}`, { enabled: true });
    expect(enabled.body).toMatchObject({ enabled: true, disabled_reason: null, failing_since: null });
    expect(watcher.status).toBe(201);
  });

  test('the delivery metrics are exposed', async () => {
    const metrics = (await t.call(null, 'GET', '/metrics')).raw;
    expect(metrics).toMatch(/gatehouse_webhook_deliveries_total\{outcome="succeeded"\} [1-9]/);
    expect(metrics).toMatch(/gatehouse_webhook_deliveries_total\{outcome="retrying"\} [1-9]/);
    expect(metrics).toMatch(/gatehouse_webhook_attempt_duration_seconds_count\{outcome="succeeded"\} [1-9]/);
    expect(metrics).toMatch(/gatehouse_webhook_queue_depth \d+/);
    expect(metrics).toMatch(/gatehouse_webhook_oldest_due_seconds [\d.]+/);
  });
});

describe('deletion mid-delivery', () => {
  test("an endpoint deleted while its delivery is in flight does not disturb another endpoint's deliveries", async () => {
    rx.respondWith((req) => (req.url === '/doomed' ? { delayMs: 400 } : undefined));
    const doomed = await create({ url: `${rx.url}/doomed`, events: ['campaign.completed'] });
    const survivor = await create({ url: `${rx.url}/survivor`, events: ['campaign.completed'] });
    await t.call(key, 'POST', `/v1/workspaces/${ws.id}/events`, { type: 'campaign.completed', payload: {} });
    await eventually(async () => rx.received.some((r) => r.url === '/doomed'));
    expect((await t.call(key, 'DELETE', `/v1/webhooks/${doomed.body.id}`)).status).toBe(204);
    await eventually(async () => (await t.call(key, 'GET', `/v1/webhooks/${survivor.body.id}/deliveries`)).body.data[0]?.status === 'succeeded');
    // A worker's stop waits for every attempt under way to end and be recorded: the doomed one too.
    await worker.stop();
    worker = await startDeliveryWorker(t, WORKER);
    const again = await t.call(key, 'POST', `/v1/workspaces/${ws.id}/events`, { type: 'campaign.completed', payload: { n: 2 } });
    expect(again.body.deliveries).toBe(1);
    await eventually(async () => (await t.call(key, 'GET', `/v1/webhooks/${survivor.body.id}/deliveries`)).body.data.every((d: { status: string }) => d.status === 'succeeded'));
    expect(t.logs.join('\n')).not.toMatch(/violates foreign key/);
  });
});

describe('sealed secrets that cannot be opened', () => {
  test('the attempt fails and is retried, logged with the reason; nothing is sent unsigned', async () => {
    const ep = await create({ url: `${rx.url}/unsealable`, events: ['email.sent'] });
    // Another master key's ciphertext, in effect: the wrapped data key no longer authenticates.
    await t.db.database.db
      .updateTable('webhook_endpoint_secrets')
      .set({ wrapped_key: Buffer.alloc(60, 7).toString('base64') })
      .where('endpoint_id', '=', ep.body.id)
      .execute();
    await t.call(key, 'POST', `/v1/workspaces/${ws.id}/events`, { type: 'email.sent', payload: {} });
    const d = await eventually(async () => (await t.call(key, 'GET', `/v1/webhooks/${ep.body.id}/deliveries`)).body.data[0]?.last_error ? (await t.call(key, 'GET', `/v1/webhooks/${ep.body.id}/deliveries`)).body.data[0] : null);
    expect(d.last_error).toMatch(/secrets cannot be decrypted/);
    expect(rx.received.some((r) => r.url === '/unsealable')).toBe(false);
  });
});
