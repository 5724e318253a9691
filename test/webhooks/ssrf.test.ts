import dns from 'node:dns';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { newId } from '../../src/lib/ids.js';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';
import { eventually, startDeliveryWorker, startReceiver, type Receiver } from '../helpers/webhooks.js';

// GATEHOUSE_ALLOW_PRIVATE_TARGETS off, as in production: the outbound address policy through the
// front door, for webhook endpoints and provider base URLs, and what a workspace's test mode may not lift.

/** Names this test answers for (no network here): anything else does not resolve. */
const NAMES: Record<string, string[]> = {
  'hooks.public.example': ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'],
  'rebind.example': ['93.184.216.34', '10.0.0.7'],
  'metadata.example': ['169.254.169.254'],
  'nat64.example': ['64:ff9b::a9fe:a9fe'],
};

const SPELLINGS: Array<[string, string]> = [
  ['decimal IPv4', 'https://2130706433/hook'],
  ['octal IPv4', 'https://0177.0.0.1/hook'],
  ['hex IPv4', 'https://0x7f000001/hook'],
  ['127.1', 'https://127.1/hook'],
  ['IPv4-mapped IPv6', 'https://[::ffff:127.0.0.1]/hook'],
  ['IPv4-compatible IPv6', 'https://[::7f00:1]/hook'],
  ['NAT64 of the metadata address', 'https://[64:ff9b::a9fe:a9fe]/hook'],
  ['6to4 of loopback', 'https://[2002:7f00:1::]/hook'],
  ['CGNAT 100.64/10', 'https://100.64.1.1/hook'],
  ['benchmark 198.18/15', 'https://198.18.0.1/hook'],
  ['192.0.0.0/24', 'https://192.0.0.170/hook'],
  ['multicast', 'https://224.0.0.251/hook'],
  ['unspecified', 'https://0.0.0.0/hook'],
  ['link-local metadata', 'https://169.254.169.254/latest/meta-data'],
  ['unique-local fc00::/7', 'https://[fd12:3456::1]/hook'],
  ['trailing-dot name', 'https://hooks.public.example./hook'],
  ['single-label name', 'https://intranet/hook'],
  ['localhost.', 'https://localhost./hook'],
  ['a name resolving to a private address among public ones', 'https://rebind.example/hook'],
  ['a name resolving to the metadata address', 'https://metadata.example/hook'],
  ['a name resolving to NAT64 of the metadata address', 'https://nat64.example/hook'],
];

let t: TestApp;
let ws: Awaited<ReturnType<typeof seedWorkspace>>;
let rx: Receiver;

beforeAll(async () => {
  vi.spyOn(dns.promises, 'lookup').mockImplementation((async (host: string) => {
    const found = NAMES[host];
    if (!found) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return found.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  }) as never);
  t = await createTestApp({ GATEHOUSE_ALLOW_PRIVATE_TARGETS: 'false' });
  ws = await seedWorkspace(t);
  rx = await startReceiver();
});

afterAll(async () => {
  vi.restoreAllMocks();
  await rx?.close();
  await t?.close();
});

const createEndpoint = (url: string, key = ws.key, workspaceId = ws.workspace.id) =>
  t.call(key, 'POST', `/v1/workspaces/${workspaceId}/webhooks`, { url, events: ['*'] });

describe('webhook endpoint URLs', () => {
  test.each(SPELLINGS)('creation refuses %s', async (_what, url) => {
    const res = await createEndpoint(url);
    expect(res.status, res.raw).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'validation_failed', details: { field: 'url', reason: 'private_target' } });
    expect(res.raw).not.toMatch(/10\.0\.0\.7/);
  });

  test('a name whose every address is public is accepted; one that does not resolve is refused, saying so', async () => {
    expect((await createEndpoint('https://hooks.public.example/hook')).status).toBe(201);
    const nowhere = await createEndpoint('https://nowhere.example/hook');
    expect(nowhere.status).toBe(400);
    expect(nowhere.body.error).toMatchObject({ code: 'validation_failed', message: expect.stringMatching(/does not resolve/), details: { field: 'url', reason: 'unresolvable' } });
  });

  test('an update is held to the same policy', async () => {
    const ep = (await createEndpoint('https://hooks.public.example/patched')).body;
    for (const [what, url] of SPELLINGS) {
      const res = await t.call(ws.key, 'PATCH', `/v1/webhooks/${ep.id}`, { url });
      expect(res.status, what).toBe(400);
      expect(res.body.error.details.field, what).toBe('url');
    }
    expect((await t.call(ws.key, 'GET', `/v1/webhooks/${ep.id}`)).body.url).toBe('https://hooks.public.example/patched');
  });
});

describe('test mode', () => {
  test('a workspace key, even with *, cannot set test_mode: 403, and nothing changes', async () => {
    for (const value of [true, false]) {
      const res = await t.call(ws.key, 'PATCH', `/v1/workspaces/${ws.workspace.id}`, { test_mode: value });
      expect(res.status, res.raw).toBe(403);
      expect(res.body.error).toMatchObject({ code: 'forbidden', details: { field: 'test_mode' } });
    }
    expect((await t.call(ws.key, 'GET', `/v1/workspaces/${ws.workspace.id}`)).body.test_mode).toBe(false);
    // The same key may still rename its workspace: only the safety setting is the platform admin's.
    expect((await t.call(ws.key, 'PATCH', `/v1/workspaces/${ws.workspace.id}`, { name: `${ws.workspace.name}-renamed` })).status).toBe(200);
  });

  test("a workspace manager signed in to the portal cannot set test_mode: 403", async () => {
    const email = `manager-${newId('req').slice(-8).toLowerCase()}@example.com`;
    const password = 'a long enough password';
    const user = await t.call(t.adminKey, 'POST', '/v1/users', { email, name: 'Mona Manager', password });
    expect((await t.call(t.adminKey, 'POST', `/v1/workspaces/${ws.workspace.id}/members`, { user_id: user.body.id, role: 'manager' })).status).toBe(201);
    const login = await t.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email, password } });
    expect(login.statusCode, login.body).toBe(200);
    const headers = { cookie: String(login.headers['set-cookie']).split(';')[0], 'x-csrf-token': JSON.parse(login.body).csrf_token };
    const res = await t.app.inject({ method: 'PATCH', url: `/v1/workspaces/${ws.workspace.id}`, headers, payload: { test_mode: true } });
    expect(res.statusCode, res.body).toBe(403);
    expect(JSON.parse(res.body).error.code).toBe('forbidden');
    expect((await t.call(t.adminKey, 'GET', `/v1/workspaces/${ws.workspace.id}`)).body.test_mode).toBe(false);
  });

  test('set by the platform admin, it allows plain http to a public address, never a private one', async () => {
    const dev = await seedWorkspace(t);
    const set = await t.call(t.adminKey, 'PATCH', `/v1/workspaces/${dev.workspace.id}`, { test_mode: true });
    expect(set.status, set.raw).toBe(200);
    expect(set.body.test_mode).toBe(true);
    expect((await createEndpoint('http://hooks.public.example/plain', dev.key, dev.workspace.id)).status).toBe(201);
    for (const url of [`${rx.url}/loopback`, 'http://127.0.0.1/x', 'http://169.254.169.254/latest', 'http://[64:ff9b::a9fe:a9fe]/x', 'http://localhost./x']) {
      const res = await createEndpoint(url, dev.key, dev.workspace.id);
      expect(res.status, url).toBe(400);
      expect(res.body.error.details).toMatchObject({ field: 'url', reason: 'private_target' });
    }
  });

  test('a loopback endpoint already registered in a test-mode workspace is refused at delivery and never connected to', async () => {
    const dev = await seedWorkspace(t);
    await t.call(t.adminKey, 'PATCH', `/v1/workspaces/${dev.workspace.id}`, { test_mode: true });
    // Registered while the operator allowed private targets (or by an older release): the row as it stands.
    const ep = (await createEndpoint('https://hooks.public.example/soon-internal', dev.key, dev.workspace.id)).body;
    await t.db.database.db.updateTable('webhook_endpoints').set({ url: `${rx.url}/internal-secret` }).where('id', '=', ep.id).execute();
    rx.respondWith(() => ({ body: 'internal service data' }));
    const worker = await startDeliveryWorker(t, { pollMs: 50, retryScheduleS: [3600] });
    try {
      const sent = await t.call(dev.key, 'POST', `/v1/webhooks/${ep.id}/test`, {});
      expect(sent.status, sent.raw).toBe(202);
      const attempt = await eventually(async () => {
        const d = await t.call(dev.key, 'GET', `/v1/deliveries/${sent.body.delivery_id}`);
        return d.body.attempt_log?.length ? d.body : null;
      });
      expect(attempt.attempt_log[0].error).toMatch(/refused/);
      expect(attempt.attempt_log[0].response_status).toBeNull();
      expect(attempt.attempt_log[0].response_body).toBeNull();
      expect(JSON.stringify(attempt)).not.toContain('internal service data');
      expect(rx.received.filter((r) => r.url === '/internal-secret')).toHaveLength(0);
    } finally {
      await worker.stop();
    }
  });
});

describe('provider base URLs', () => {
  test('the generic HTTP and n8n credentials and a provider instance refuse private base URLs', async () => {
    const bad = ['https://0x7f000001/', 'https://[::ffff:169.254.169.254]/', 'https://198.18.0.5/api', 'https://intranet/api', 'https://rebind.example/api'];
    for (const base_url of bad) {
      const http = await t.call(ws.key, 'PUT', `/v1/workspaces/${ws.workspace.id}/credentials/http`, { base_url, auth_type: 'bearer', token: 'tok-123456789012' });
      expect(http.status, `http ${base_url}: ${http.raw}`).toBe(400);
      expect(http.body.error.details).toMatchObject({ field: 'base_url', reason: 'private_target' });
      const n8n = await t.call(ws.key, 'PUT', `/v1/workspaces/${ws.workspace.id}/credentials/n8n`, { base_url, api_key: 'n8n-key-123456789' });
      expect(n8n.status, `n8n ${base_url}`).toBe(400);
      const twilio = await t.call(ws.key, 'PUT', `/v1/workspaces/${ws.workspace.id}/credentials/twilio`, { account_sid: 'AC1', auth_token: 'tw-token-123456', base_url });
      expect(twilio.status, `twilio ${base_url}`).toBe(400);
      const instance = await t.call(t.adminKey, 'POST', '/v1/instances', { provider: 'emailbison', name: `eb-${newId('req').slice(-6)}`, base_url });
      expect(instance.status, `instance ${base_url}`).toBe(400);
      expect(instance.body.error.details.field).toBe('base_url');
    }
    const ok = await t.call(ws.key, 'PUT', `/v1/workspaces/${ws.workspace.id}/credentials/http`, { base_url: 'https://hooks.public.example/api', auth_type: 'bearer', token: 'tok-123456789012' });
    expect(ok.status, ok.raw).toBe(200);
  });

  test('an upstream call to a stored base URL that became private is refused before any connection', async () => {
    const port = new URL(rx.url).port;
    // As an older release could have stored them; URL parsing writes IPv4-mapped loopback in hex (::ffff:7f00:1).
    for (const base of [`http://[::ffff:127.0.0.1]:${port}`, `http://127.1:${port}`, `http://localhost.:${port}`, `http://[64:ff9b::7f00:1]:${port}`]) {
      const w = await seedWorkspace(t);
      const put = await t.call(w.key, 'PUT', `/v1/workspaces/${w.workspace.id}/credentials/http`, { base_url: 'https://hooks.public.example/api', auth_type: 'bearer', token: 'tok-123456789012' });
      expect(put.status, put.raw).toBe(200);
      await t.db.database.db.updateTable('credentials').set({ fields: JSON.stringify({ base_url: base, auth_type: 'bearer' }) }).where('workspace_id', '=', w.workspace.id).execute();
      const res = await t.call(w.key, 'POST', `/v1/workspaces/${w.workspace.id}/upstream/http`, { method: 'GET', path: '/internal' });
      expect(res.status, `${base}: ${res.raw}`).toBe(400);
      expect(res.body.error.details, base).toMatchObject({ reason: 'private_target' });
    }
    expect(rx.received.filter((r) => r.url.startsWith('/internal'))).toHaveLength(0);
  });

});
