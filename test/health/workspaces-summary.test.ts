import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';
import { startFakeEmailBison, type FakeEmailBison } from '../fakes/emailbison.js';

// GET /v1/health/workspaces (the portal's fleet view) and the inbound source list's counters.
let t: TestApp;
let fake: FakeEmailBison;
let instanceId: string;
type Seeded = Awaited<ReturnType<typeof seedWorkspace>>;
let healthy: Seeded;
let failing: Seeded;
let bare: Seeded;

beforeAll(async () => {
  t = await createTestApp();
  fake = await startFakeEmailBison();
  instanceId = (await t.call(t.adminKey, 'POST', '/v1/instances', { provider: 'emailbison', name: 'North agency', base_url: fake.url })).body.id;
  healthy = await seedWorkspace(t, ['*'], 'healthy-ws');
  failing = await seedWorkspace(t, ['*'], 'failing-ws');
  bare = await seedWorkspace(t, ['*'], 'bare-ws');
  for (const [w, team] of [[healthy, 301], [failing, 302]] as const) {
    fake.addTeam(team, 3);
    const token = fake.addApiToken(team);
    const put = await t.call(t.adminKey, 'PUT', `/v1/workspaces/${w.workspace.id}/credentials/emailbison`, { instance: instanceId, api_key: token, provider_workspace_id: String(team) });
    expect(put.status, put.raw).toBe(200);
    const ok = await t.call(w.key, 'POST', `/v1/workspaces/${w.workspace.id}/credentials/emailbison/test`);
    expect(ok.body.ok).toBe(true);
    if (w === failing) {
      fake.revokeToken(token);
      for (let i = 0; i < 3; i++) expect((await t.call(w.key, 'POST', `/v1/workspaces/${w.workspace.id}/credentials/emailbison/test`)).body.ok).toBe(false);
    }
  }
});
afterAll(async () => {
  await t?.close();
  await fake?.close();
});

const summaries = async (key: string) => {
  const res = await t.call(key, 'GET', '/v1/health/workspaces');
  expect(res.status, res.raw).toBe(200);
  return res.body.data as Array<Record<string, any>>;
};

describe('GET /v1/health/workspaces', () => {
  test('the platform admin sees every workspace with its credentials, key, calls today and health', async () => {
    const all = await summaries(t.adminKey);
    const byName = Object.fromEntries(all.map((w) => [w.name, w]));
    expect(Object.keys(byName)).toEqual(expect.arrayContaining(['healthy-ws', 'failing-ws', 'bare-ws']));
    expect(byName['healthy-ws']).toMatchObject({
      health: 'healthy',
      credentials: [{ provider: 'emailbison', instance_id: instanceId, instance_name: 'North agency', status: 'healthy', consecutive_failures: 0 }],
      calls_today: { calls: 1, errors: 0 },
      webhooks: { endpoints: 0, failing: 0, succeeded_24h: 0, failed_24h: 0 },
      inbound: [],
    });
    expect(byName['failing-ws']).toMatchObject({ health: 'failing', credentials: [{ status: 'failing', consecutive_failures: 3 }], calls_today: { calls: 4, errors: 3 } });
    expect(byName['bare-ws']).toMatchObject({ health: 'no_key', credentials: [], calls_today: { calls: 0, errors: 0 } });
    // The key is shown by its start only, the one the workspace last used.
    expect(byName['healthy-ws'].key.start).toBe(healthy.key.slice(0, byName['healthy-ws'].key.start.length));
    expect(JSON.stringify(all)).not.toContain(healthy.key);
    // The failing credential's event is the workspace's last event.
    expect(byName['failing-ws'].last_event_at).not.toBeNull();
  });

  test('a workspace key sees only its own workspace', async () => {
    const mine = await summaries(bare.key);
    expect(mine.map((w) => w.id)).toEqual([bare.workspace.id]);
  });

  test('a signed-in member sees only the workspaces they belong to', async () => {
    const user = await t.call(t.adminKey, 'POST', '/v1/users', { email: 'member@example.com', name: 'Mia Member', password: 'a long member password' });
    await t.call(t.adminKey, 'POST', `/v1/workspaces/${failing.workspace.id}/members`, { user_id: user.body.id, role: 'read_only' });
    const login = await t.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email: 'member@example.com', password: 'a long member password' } });
    const cookie = String(login.headers['set-cookie']).split(';')[0];
    const res = await t.app.inject({ method: 'GET', url: '/v1/health/workspaces', headers: { cookie } });
    expect(res.statusCode, res.body).toBe(200);
    expect(JSON.parse(res.body).data.map((w: { id: string }) => w.id)).toEqual([failing.workspace.id]);
  });

  test('inbound sources: last received, and silent once quiet past their limit', async () => {
    const src = await t.call(t.adminKey, 'POST', `/v1/workspaces/${bare.workspace.id}/inbound-sources`, { provider: 'standard', name: 'quiet', silent_after_s: 60 });
    expect(src.status, src.raw).toBe(201);
    const body = JSON.stringify({ type: 'ping' });
    const at = new Date(Date.now() - 10 * 60_000);
    const posted = await t.app.inject({
      method: 'POST', url: `/hooks/${src.body.id}`, payload: body,
      headers: { 'content-type': 'application/json', 'webhook-id': 'msg_old', 'webhook-timestamp': String(Math.floor(Date.now() / 1000)), 'webhook-signature': new Webhook(src.body.secret).sign('msg_old', new Date(), body) },
    });
    expect(posted.statusCode, posted.body).toBeLessThan(300);
    // Received ten minutes ago, as far as the silence rule can tell.
    await t.db.database.db.updateTable('inbound_events').set({ received_at: at }).where('source_id', '=', src.body.id).execute();
    const [w] = await summaries(bare.key);
    expect(w.inbound).toEqual([{ id: src.body.id, name: 'quiet', provider: 'standard', enabled: true, last_received_at: at.toISOString(), silent: true }]);
    expect(w.last_event_at).toBe(at.toISOString());
  });
});

describe('GET /v1/workspaces/:id/inbound-sources counters', () => {
  test('last received and verification failures in the last 24 hours', async () => {
    const src = (await t.call(t.adminKey, 'POST', `/v1/workspaces/${healthy.workspace.id}/inbound-sources`, { provider: 'standard', name: 'counted' })).body;
    const list = async () => (await t.call(healthy.key, 'GET', `/v1/workspaces/${healthy.workspace.id}/inbound-sources`)).body.data.find((s: { id: string }) => s.id === src.id);
    expect(await list()).toMatchObject({ last_received_at: null, verification_failures_24h: 0 });
    const body = JSON.stringify({ type: 'x' });
    const headers = (secret: string) => ({ 'content-type': 'application/json', 'webhook-id': 'msg_1', 'webhook-timestamp': String(Math.floor(Date.now() / 1000)), 'webhook-signature': new Webhook(secret).sign('msg_1', new Date(), body) });
    const bad = await t.app.inject({ method: 'POST', url: `/hooks/${src.id}`, payload: body, headers: headers('whsec_' + Buffer.alloc(32, 7).toString('base64')) });
    expect(bad.statusCode).toBe(401);
    expect(await list()).toMatchObject({ last_received_at: null, verification_failures_24h: 1 });
    const good = await t.app.inject({ method: 'POST', url: `/hooks/${src.id}`, payload: body, headers: headers(src.secret) });
    expect(good.statusCode, good.body).toBeLessThan(300);
    const after = await list();
    expect(after.verification_failures_24h).toBe(1);
    expect(Date.now() - new Date(after.last_received_at).getTime()).toBeLessThan(60_000);
    expect(after.secret).not.toBe(src.secret);
  });
});
