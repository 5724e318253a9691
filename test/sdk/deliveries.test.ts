import { afterAll, beforeAll, expect, test } from 'vitest';
import { createAjv } from '../../src/http/validation.js';
import { OWN_EVENT_PAYLOADS } from '../../src/modules/webhooks/catalog.js';
import { createClient, isEvent, unwrap, verifyWebhook, WebhookVerificationError, type EventPayload, type GatehouseClient } from '../../sdk/src/index.js';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';
import { startDeliveryWorker, startReceiver, type Receiver } from '../helpers/webhooks.js';

// Real deliveries from a live server to a receiver on loopback, checked the way a customer's
// receiver would: the raw body and Node's headers through the SDK's verifyWebhook.
let t: TestApp;
let gatehouse: GatehouseClient;
let workspaceId: string;
let receiver: Receiver;
let gone: Receiver;
let worker: Awaited<ReturnType<typeof startDeliveryWorker>>;

beforeAll(async () => {
  t = await createTestApp();
  const seed = await seedWorkspace(t, ['*']);
  workspaceId = seed.workspace.id;
  gatehouse = createClient({ baseUrl: await t.app.listen({ port: 0, host: '127.0.0.1' }), apiKey: seed.key });
  receiver = await startReceiver();
  gone = await startReceiver(() => ({ status: 410, body: 'this receiver is gone' }));
  worker = await startDeliveryWorker(t);
});
afterAll(async () => {
  await worker?.stop();
  await receiver?.close();
  await gone?.close();
  await t?.close();
});

const refusalOf = (p: Promise<unknown>) => p.then(() => 'accepted', (e: unknown) => (e instanceof WebhookVerificationError ? e.code : e));

test('a signed delivery verifies, before and during a secret rotation; a typed Gatehouse event arrives the same way', async () => {
  const endpoint = await unwrap(gatehouse.POST('/v1/workspaces/{id}/webhooks', {
    params: { path: { id: workspaceId } }, body: { url: `${receiver.url}/hooks`, events: ['lead.replied', 'gatehouse.endpoint.disabled'] },
  }));
  const send = (type: string, payload: unknown) => unwrap(gatehouse.POST('/v1/workspaces/{id}/events', { params: { path: { id: workspaceId } }, body: { type, payload } }));

  const first = await send('lead.replied', { lead_id: 'lead_1', text: 'yes, tell me more' });
  await receiver.waitFor(1);
  const [one] = receiver.received;
  expect(one.headers['webhook-id']).toBe(first.event_id);
  const message = await verifyWebhook(one.body, one.headers, endpoint.secret);
  expect(message).toMatchObject({ type: 'lead.replied', data: { lead_id: 'lead_1', text: 'yes, tell me more' } });
  expect(new Date(message.timestamp).toISOString()).toBe(message.timestamp);

  const rotated = await unwrap(gatehouse.POST('/v1/webhooks/{id}/rotate-secret', { params: { path: { id: endpoint.id } }, body: {} }));
  expect(rotated.secret).not.toBe(endpoint.secret);
  await send('lead.replied', { lead_id: 'lead_2' });
  await receiver.waitFor(2);
  const two = receiver.received[1];
  expect(String(two.headers['webhook-signature']).split(' ')).toHaveLength(2);
  for (const secrets of [rotated.secret, endpoint.secret, [rotated.secret, endpoint.secret]]) {
    expect(await verifyWebhook(two.body, two.headers, secrets)).toMatchObject({ data: { lead_id: 'lead_2' } });
  }
  // The first delivery predates the rotation: only the old secret made it.
  expect(await refusalOf(verifyWebhook(one.body, one.headers, rotated.secret))).toBe('invalid_signature');
  expect(await refusalOf(verifyWebhook(two.body, { ...two.headers, 'webhook-id': 'evt_other' }, rotated.secret))).toBe('invalid_signature');

  // An endpoint answering 410 is disabled, and Gatehouse says so to the first endpoint, signed as ever.
  const doomed = await unwrap(gatehouse.POST('/v1/workspaces/{id}/webhooks', {
    params: { path: { id: workspaceId } }, body: { url: `${gone.url}/hooks`, events: ['lead.created'] },
  }));
  await send('lead.created', { lead_id: 'lead_3' });
  await receiver.waitFor(3);
  const notice = await verifyWebhook(receiver.received[2].body, receiver.received[2].headers, rotated.secret);
  expect(isEvent(notice, 'gatehouse.endpoint.disabled')).toBe(true);
  if (!isEvent(notice, 'gatehouse.endpoint.disabled')) return;
  const data: EventPayload<'gatehouse.endpoint.disabled'> = notice.data;
  expect(data).toMatchObject({ endpoint_id: doomed.id, url: `${gone.url}/hooks`, last_status: 410 });
  // The payload is what the catalog documents, field for field.
  const validate = createAjv(false).compile({ ...OWN_EVENT_PAYLOADS['gatehouse.endpoint.disabled'], additionalProperties: false });
  expect(validate(data), JSON.stringify(validate.errors)).toBe(true);
});
