import { afterAll, beforeAll, expect, test } from 'vitest';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';
import { eventually, startDeliveryWorker, startReceiver, type Receiver } from '../helpers/webhooks.js';

// The gauges the shipped alert rules (docs/ops/alerts.yml) are written against, driven by real
// failures: a credential whose provider keeps failing, a delivery refused with a 4xx.
let t: TestApp;
let rx: Receiver;
beforeAll(async () => {
  t = await createTestApp();
  rx = await startReceiver(() => ({ status: 500, body: 'down' }));
});
afterAll(async () => {
  await t?.close();
  await rx?.close();
});

const gauge = async (name: string) => {
  const text = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
  return Object.fromEntries([...text.matchAll(new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`, 'gm'))].map((m) => [m[1] ?? '', Number(m[2])]));
};

test('gatehouse_credentials counts credentials by health as calls fail and recover', async () => {
  const ws = await seedWorkspace(t);
  const put = await t.call(t.adminKey, 'PUT', `/v1/workspaces/${ws.workspace.id}/credentials/http`, { base_url: rx.url, auth_type: 'none' });
  expect(put.status, put.raw).toBe(200);
  expect(await gauge('gatehouse_credentials')).toEqual({ '{status="healthy"}': 1, '{status="degraded"}': 0, '{status="failing"}': 0 });
  const testIt = () => t.call(t.adminKey, 'POST', `/v1/workspaces/${ws.workspace.id}/credentials/http/test`);
  expect((await testIt()).body.ok).toBe(false);
  expect((await gauge('gatehouse_credentials'))['{status="degraded"}']).toBe(1);
  await testIt();
  await testIt();
  expect(await gauge('gatehouse_credentials')).toEqual({ '{status="healthy"}': 0, '{status="degraded"}': 0, '{status="failing"}': 1 });
  rx.respondWith(() => ({ status: 200, body: 'ok' }));
  expect((await testIt()).body.ok).toBe(true);
  expect((await gauge('gatehouse_credentials'))['{status="healthy"}']).toBe(1);
});

test('gatehouse_webhook_dead_letters counts deliveries whose every try failed', async () => {
  const ws = await seedWorkspace(t);
  const worker = await startDeliveryWorker(t);
  try {
    rx.respondWith(() => ({ status: 400, body: 'no' }));
    const ep = await t.call(t.adminKey, 'POST', `/v1/workspaces/${ws.workspace.id}/webhooks`, { url: `${rx.url}/dl`, events: ['lead.created'] });
    expect(ep.status, ep.raw).toBe(201);
    expect(await gauge('gatehouse_webhook_dead_letters')).toEqual({ '': 0 });
    for (let i = 0; i < 2; i++) expect((await t.call(t.adminKey, 'POST', `/v1/workspaces/${ws.workspace.id}/events`, { type: 'lead.created', payload: { i } })).status).toBe(202);
    await eventually(async () => (await gauge('gatehouse_webhook_dead_letters'))[''] === 2);
  } finally {
    await worker.stop();
  }
});
