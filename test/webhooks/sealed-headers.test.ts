import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';
import { eventually, startDeliveryWorker, startReceiver, type Receiver } from '../helpers/webhooks.js';
import { listMigrations, splitStatements } from '../../src/db/migrate.js';
import type { DeliveryWorker } from '../../src/modules/webhooks/deliver.js';

// Custom header values of an endpoint are sealed at rest like auth_token, shown only masked, and
// opened only by the worker that sends them.

const LONG = 'hdr-secret-0123456789abcdef'; // 27 characters: first 4 and last 4 shown
const TWELVE = 'tenant-12345'; // 12 characters: the last 4 only
const SHORT = 'eu-1'; // nothing shown

let t: TestApp;
let ws: Awaited<ReturnType<typeof seedWorkspace>>;
let rx: Receiver;
let worker: DeliveryWorker;

beforeAll(async () => {
  t = await createTestApp();
  ws = await seedWorkspace(t);
  rx = await startReceiver();
  worker = await startDeliveryWorker(t, { pollMs: 50 });
});

afterAll(async () => {
  await worker?.stop();
  await rx?.close();
  await t?.close();
});

const db = () => t.db.database.db;
/** Every row of the endpoint tables as text: a header value found here is stored in plain text. */
const storedText = async () =>
  JSON.stringify((await sql`select e.*, h.*, s.* from webhook_endpoints e
    left join webhook_endpoint_headers h on h.endpoint_id = e.id
    left join webhook_endpoint_secrets s on s.endpoint_id = e.id`.execute(db())).rows);

async function deliverTest(endpointId: string) {
  const sent = await t.call(ws.key, 'POST', `/v1/webhooks/${endpointId}/test`, {});
  expect(sent.status, sent.raw).toBe(202);
  return eventually(async () => {
    const d = await t.call(ws.key, 'GET', `/v1/deliveries/${sent.body.delivery_id}`);
    return d.body.status === 'succeeded' ? d : null;
  });
}

describe('custom header values', () => {
  test('are sealed in the database, masked in every view and the attempt log, and sent as given', async () => {
    const headers = { 'X-Api-Key': LONG, 'X-Tenant': TWELVE, 'X-Region': SHORT };
    const created = await t.call(ws.key, 'POST', `/v1/workspaces/${ws.workspace.id}/webhooks`, { url: `${rx.url}/sealed`, events: ['*'], headers });
    expect(created.status, created.raw).toBe(201);
    const masks = { 'X-Api-Key': 'hdr-***cdef', 'X-Tenant': '***2345', 'X-Region': '****' };
    expect(created.body.headers).toEqual(masks);

    const stored = await storedText();
    for (const value of [LONG, TWELVE, SHORT]) expect(stored.includes(value), `${value} in the database`).toBe(false);
    const row = await db().selectFrom('webhook_endpoints').select('headers').where('id', '=', created.body.id).executeTakeFirstOrThrow();
    expect(row.headers).toEqual({});

    const delivery = await deliverTest(created.body.id);
    const got = rx.received.find((r) => r.url === '/sealed')!;
    expect([got.headers['x-api-key'], got.headers['x-tenant'], got.headers['x-region']]).toEqual([LONG, TWELVE, SHORT]);

    const views = {
      get: (await t.call(ws.key, 'GET', `/v1/webhooks/${created.body.id}`)).raw,
      list: (await t.call(ws.key, 'GET', `/v1/workspaces/${ws.workspace.id}/webhooks`)).raw,
      delivery: delivery.raw,
      audit: (await t.call(t.adminKey, 'GET', `/v1/audit?workspace_id=${ws.workspace.id}`)).raw,
      logs: t.logs.join('\n'),
    };
    // Header names are matched case-insensitively on the wire; the SHORT value is too common a string to search logs for.
    for (const [where, text] of Object.entries(views)) {
      for (const value of [LONG, TWELVE]) expect(text.includes(value), `${where} holds ${value}`).toBe(false);
    }
    expect(JSON.parse(views.get).headers).toEqual(masks);
    expect(JSON.parse(views.list).data.find((e: { id: string }) => e.id === created.body.id).headers).toEqual(masks);
    const logged = delivery.body.attempt_log[0].request_headers;
    expect([logged['X-Api-Key'], logged['X-Tenant'], logged['X-Region']]).toEqual([masks['X-Api-Key'], masks['X-Tenant'], masks['X-Region']]);
  });

  test('an edit that sends a mask back keeps the value it stands for; a new value replaces it', async () => {
    const created = await t.call(ws.key, 'POST', `/v1/workspaces/${ws.workspace.id}/webhooks`, {
      url: `${rx.url}/edited`, events: ['*'], headers: { 'X-Api-Key': LONG, 'X-Tenant': TWELVE },
    });
    const echoed = created.body.headers;
    const patched = await t.call(ws.key, 'PATCH', `/v1/webhooks/${created.body.id}`, { headers: { ...echoed, 'X-Tenant': 'tenant-67890', 'X-New': 'brand-new-value' } });
    expect(patched.status, patched.raw).toBe(200);
    expect(patched.body.headers).toEqual({ 'X-Api-Key': 'hdr-***cdef', 'X-Tenant': '***7890', 'X-New': '***alue' });
    await deliverTest(created.body.id);
    const got = rx.received.find((r) => r.url === '/edited')!;
    expect([got.headers['x-api-key'], got.headers['x-tenant'], got.headers['x-new']]).toEqual([LONG, 'tenant-67890', 'brand-new-value']);
    expect(await storedText()).not.toContain('brand-new-value');

    const cleared = await t.call(ws.key, 'PATCH', `/v1/webhooks/${created.body.id}`, { headers: {} });
    expect(cleared.body.headers).toEqual({});
    expect(await db().selectFrom('webhook_endpoint_headers').select('endpoint_id').where('endpoint_id', '=', created.body.id).execute()).toEqual([]);
  });

  test('values stored in plain text before they were sealed keep working, and are sealed as a process starts', async () => {
    const created = await t.call(ws.key, 'POST', `/v1/workspaces/${ws.workspace.id}/webhooks`, { url: `${rx.url}/legacy`, events: ['*'] });
    // The row as an earlier release left it.
    await db().updateTable('webhook_endpoints').set({ headers: JSON.stringify({ 'X-Legacy': LONG }) }).where('id', '=', created.body.id).execute();
    expect((await t.call(ws.key, 'GET', `/v1/webhooks/${created.body.id}`)).body.headers).toEqual({ 'X-Legacy': 'hdr-***cdef' });
    await deliverTest(created.body.id);
    expect(rx.received.filter((r) => r.url === '/legacy').map((r) => r.headers['x-legacy'])).toEqual([LONG]);

    expect(await t.services.endpoints.sealPlaintextHeaders()).toBeGreaterThanOrEqual(1);
    expect(await storedText()).not.toContain(LONG);
    expect((await t.call(ws.key, 'GET', `/v1/webhooks/${created.body.id}`)).body.headers).toEqual({ 'X-Legacy': 'hdr-***cdef' });
    await deliverTest(created.body.id);
    expect(rx.received.filter((r) => r.url === '/legacy').map((r) => r.headers['x-legacy'])).toEqual([LONG, LONG]);
    expect(await t.services.endpoints.sealPlaintextHeaders()).toBe(0);
  });
});

describe('the mask rule', () => {
  test('a 12-character secret shows only its last 4 characters; a longer one of 24 or more its first and last 4', async () => {
    const put = await t.call(ws.key, 'PUT', `/v1/workspaces/${ws.workspace.id}/credentials/twilio`, { account_sid: 'AC123', auth_token: 'abcdefgh9876' });
    expect(put.status, put.raw).toBe(200);
    expect(put.body.secrets.auth_token.mask).toBe('***9876');
    expect(put.body.secrets.auth_token.mask).not.toContain('abcd');
    const ep = await t.call(ws.key, 'POST', `/v1/workspaces/${ws.workspace.id}/webhooks`, { url: 'https://hooks.example.com/m', events: ['*'], auth_token: 'abcdefgh9876' });
    expect(ep.body.auth_token).toBe('***9876');
    const long = await t.call(ws.key, 'PUT', `/v1/workspaces/${ws.workspace.id}/credentials/twilio`, { auth_token: 'abcd-0123456789-0123-wxyz' });
    expect(long.body.secrets.auth_token.mask).toBe('abcd***wxyz');
  });

  test('masks made before the rule (8 characters of a 12-character secret) keep only their last 4 after migration 010', async () => {
    const put = await t.call(ws.key, 'PUT', `/v1/workspaces/${ws.workspace.id}/credentials/twilio`, { auth_token: 'abcdefgh9876' });
    const credentialId = put.body.id as string;
    // As the previous mask function left it.
    await db().updateTable('credential_secrets').set({ mask: 'abcd***9876' }).where('credential_id', '=', credentialId).execute();
    const m010 = listMigrations().find((m) => m.id === 10)!;
    for (const s of splitStatements(m010.script).filter((x) => /^UPDATE credential_secrets/i.test(x.text))) await sql.raw(s.text).execute(db());
    const after = await t.call(ws.key, 'GET', `/v1/workspaces/${ws.workspace.id}/credentials`);
    expect(after.body.data.find((c: { id: string }) => c.id === credentialId).secrets.auth_token.mask).toBe('***9876');
  });
});
