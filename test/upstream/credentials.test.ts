import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';
import { startFakeEmailBison, type FakeEmailBison } from '../fakes/emailbison.js';
import { startFakeTwilio, type FakeTwilio } from '../fakes/twilio.js';

let t: TestApp;
let fake: FakeEmailBison;
let twilio: FakeTwilio;
let a: Awaited<ReturnType<typeof seedWorkspace>>;
let b: Awaited<ReturnType<typeof seedWorkspace>>;
let instance: { id: string; name: string };
let tokenA: string;
let tokenB: string;

const TEAM_A = 11;
const TEAM_B = 12;
const mask = (s: string) => `${s.slice(0, 4)}***${s.slice(-4)}`;
/** The part of a secret a mask never shows: finding it anywhere means the secret leaked. */
const hidden = (s: string) => s.slice(4, -4);

beforeAll(async () => {
  t = await createTestApp();
  fake = await startFakeEmailBison();
  twilio = await startFakeTwilio();
  fake.addTeam(TEAM_A, 20);
  fake.addTeam(TEAM_B, 5);
  tokenA = fake.addApiToken(TEAM_A);
  tokenB = fake.addApiToken(TEAM_B);
  a = await seedWorkspace(t);
  b = await seedWorkspace(t);
  const res = await t.call(t.adminKey, 'POST', '/v1/instances', { provider: 'emailbison', name: 'agency-one', base_url: fake.url });
  expect(res.status, res.raw).toBe(201);
  instance = res.body;
});
afterAll(async () => {
  await t?.close();
  await fake?.close();
  await twilio?.close();
});

const putEmailBison = (ws: { workspace: { id: string } }, body: Record<string, unknown>, key = t.adminKey) =>
  t.call(key, 'PUT', `/v1/workspaces/${ws.workspace.id}/credentials/emailbison`, body);
const testCredential = (ws: { workspace: { id: string } }, provider = 'emailbison', key = t.adminKey) =>
  t.call(key, 'POST', `/v1/workspaces/${ws.workspace.id}/credentials/${provider}/test`);

describe('provider instances', () => {
  test('the platform admin registers an instance; the list shows it without an admin credential', async () => {
    expect(instance).toMatchObject({ provider: 'emailbison', name: 'agency-one', base_url: fake.url, admin_credential: { set: false } });
    expect(instance.id).toMatch(/^inst_/);
    const list = await t.call(t.adminKey, 'GET', '/v1/instances');
    expect(list.status, list.raw).toBe(200);
    expect(list.body.data.map((i: { id: string }) => i.id)).toEqual([instance.id]);
    // A tenant lists only the instances its workspaces' credentials use: none yet.
    expect((await t.call(a.key, 'GET', '/v1/instances')).body.data).toEqual([]);
  });

  test('a workspace key may not register an instance; a provider without instances is refused', async () => {
    const byWorkspace = await t.call(a.key, 'POST', '/v1/instances', { provider: 'emailbison', name: 'rogue', base_url: fake.url });
    expect(byWorkspace.status).toBe(403);
    expect(byWorkspace.body.error.code).toBe('forbidden');
    const twilioInstance = await t.call(t.adminKey, 'POST', '/v1/instances', { provider: 'twilio', name: 'tw', base_url: twilio.url });
    expect(twilioInstance.status).toBe(400);
    const duplicate = await t.call(t.adminKey, 'POST', '/v1/instances', { provider: 'emailbison', name: 'agency-one', base_url: fake.url });
    expect(duplicate.status).toBe(409);
  });
});

describe('storing a credential', () => {
  test('PUT answers the masked view: first 4 and last 4 of each secret, never the token', async () => {
    const res = await putEmailBison(a, { instance: instance.id, api_key: tokenA, provider_workspace_id: String(TEAM_A), name: 'main' });
    expect(res.status, res.raw).toBe(200);
    expect(res.body).toMatchObject({
      workspace_id: a.workspace.id,
      provider: 'emailbison',
      name: 'main',
      instance: { id: instance.id, name: 'agency-one' },
      fields: { instance: instance.id, provider_workspace_id: String(TEAM_A) },
      secrets: { api_key: { set: true, mask: mask(tokenA) } },
    });
    expect(res.body.id).toMatch(/^cred_/);
    expect(res.body.fields).not.toHaveProperty('api_key');
    expect(res.raw).not.toContain(tokenA);
    expect(res.raw).not.toContain(hidden(tokenA));
  });

  test('the instance may be named instead of given by id; it is stored as the id', async () => {
    const res = await putEmailBison(b, { instance: 'agency-one', api_key: tokenB, provider_workspace_id: String(TEAM_B) });
    expect(res.status, res.raw).toBe(200);
    expect(res.body.fields.instance).toBe(instance.id);
    expect(res.body.secrets.api_key.mask).toBe(mask(tokenB));
  });

  test('GET lists the workspace credentials masked, and only its own', async () => {
    const res = await t.call(a.key, 'GET', `/v1/workspaces/${a.workspace.id}/credentials`);
    expect(res.status, res.raw).toBe(200);
    expect(res.body.data).toHaveLength(1);
    expect(res.body.data[0]).toMatchObject({ provider: 'emailbison', workspace_id: a.workspace.id, secrets: { api_key: { set: true, mask: mask(tokenA) } } });
    expect(res.raw).not.toContain(hidden(tokenA));
    expect(res.raw).not.toContain(hidden(tokenB));
  });

  test('a blank or absent secret keeps the stored one: the credential still tests ok with it', async () => {
    const blank = await putEmailBison(a, { instance: instance.id, api_key: '', provider_workspace_id: String(TEAM_A), name: 'renamed' });
    expect(blank.status, blank.raw).toBe(200);
    expect(blank.body.secrets.api_key.mask).toBe(mask(tokenA));
    expect(blank.body.name).toBe('renamed');
    const absent = await putEmailBison(a, { provider_workspace_id: String(TEAM_A) });
    expect(absent.status, absent.raw).toBe(200);
    expect(absent.body.secrets.api_key.mask).toBe(mask(tokenA));
    expect(absent.body.fields.instance).toBe(instance.id);

    const before = fake.seen.length;
    const res = await testCredential(a);
    expect(res.status, res.raw).toBe(200);
    expect(res.body.ok).toBe(true);
    const reached = fake.seen.slice(before);
    expect(reached.map((s) => [s.method, s.path, s.token])).toEqual([['GET', '/api/users', tokenA]]);
  });

  test('a new secret replaces the old one, and the next call carries it', async () => {
    const second = fake.addApiToken(TEAM_A, 'second');
    const res = await putEmailBison(a, { api_key: second });
    expect(res.status, res.raw).toBe(200);
    expect(res.body.secrets.api_key.mask).toBe(mask(second));
    const before = fake.seen.length;
    expect((await testCredential(a)).body.ok).toBe(true);
    expect(fake.seen.slice(before).map((s) => s.token)).toEqual([second]);
    // Back to the first token for the rest of the file.
    expect((await putEmailBison(a, { api_key: tokenA })).status).toBe(200);
  });

  test('an unknown field is refused with 400 and named', async () => {
    const res = await putEmailBison(a, { instance: instance.id, api_key: tokenA, provider_workspace_id: '11', team: '11' });
    expect(res.status, res.raw).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
    expect(res.body.error.details.unknown_fields).toEqual(['team']);
    expect(res.raw).not.toContain(hidden(tokenA));
  });

  test('a missing required field is refused with 400 and named; nothing is stored', async () => {
    const c = await seedWorkspace(t);
    const noKey = await putEmailBison(c, { instance: instance.id, provider_workspace_id: '11' });
    expect(noKey.status, noKey.raw).toBe(400);
    expect(noKey.body.error.details.missing_fields).toEqual(['api_key']);
    const noInstance = await putEmailBison(c, { api_key: tokenA });
    expect(noInstance.status, noInstance.raw).toBe(400);
    expect(noInstance.body.error.details.missing_fields).toEqual(['instance']);
    const twilioMissing = await t.call(t.adminKey, 'PUT', `/v1/workspaces/${c.workspace.id}/credentials/twilio`, { account_sid: 'AC1' });
    expect(twilioMissing.status).toBe(400);
    expect(twilioMissing.body.error.details.missing_fields).toEqual(['auth_token']);
    expect((await t.call(t.adminKey, 'GET', `/v1/workspaces/${c.workspace.id}/credentials`)).body.data).toEqual([]);
  });

  test('an unknown instance is a 404, an unknown provider too', async () => {
    const c = await seedWorkspace(t);
    const res = await putEmailBison(c, { instance: 'no-such-instance', api_key: tokenA });
    expect(res.status, res.raw).toBe(404);
    const provider = await t.call(t.adminKey, 'PUT', `/v1/workspaces/${c.workspace.id}/credentials/mailchimp`, { api_key: 'x' });
    expect(provider.status).toBe(404);
  });

  test('a key without credentials:write may read but not store', async () => {
    const reader = await t.call(t.adminKey, 'POST', `/v1/workspaces/${a.workspace.id}/api-keys`, { name: 'reader', scopes: ['credentials:read'] });
    expect(reader.status, reader.raw).toBe(201);
    expect((await t.call(reader.body.key, 'GET', `/v1/workspaces/${a.workspace.id}/credentials`)).status).toBe(200);
    const put = await putEmailBison(a, { api_key: 'x'.repeat(20) }, reader.body.key);
    expect(put.status).toBe(403);
    expect(put.body.error.code).toBe('forbidden');
  });
});

describe('testing a credential', () => {
  test('a good token: {ok: true, status_code: 200, latency_ms, detail naming the user}', async () => {
    const res = await testCredential(a, 'emailbison', a.key);
    expect(res.status, res.raw).toBe(200);
    expect(res.body).toEqual({ ok: true, status_code: 200, latency_ms: expect.any(Number), detail: `authenticated as ${fake.tokenInfo(tokenA)!.user.email}` });
    expect(Number.isInteger(res.body.latency_ms) && res.body.latency_ms >= 0).toBe(true);
  });

  test('a token the provider does not know: {ok: false, status_code: 401} with its message', async () => {
    const c = await seedWorkspace(t);
    const bogus = `999|${'z'.repeat(40)}`;
    expect((await putEmailBison(c, { instance: instance.id, api_key: bogus })).status).toBe(200);
    const res = await testCredential(c);
    expect(res.status, res.raw).toBe(200);
    expect(res.body).toMatchObject({ ok: false, status_code: 401, detail: 'Unauthenticated.' });
    expect(fake.seen.at(-1)).toMatchObject({ path: '/api/users', token: bogus, status: 401 });
  });

  test('Twilio: Basic auth against the account endpoint; a wrong token says "Authenticate"', async () => {
    twilio.addAccount({ sid: 'AC0123456789abcdef0123456789abcdef', authToken: 'tw-auth-token-0123456789', friendlyName: 'Acme SMS', status: 'active' });
    const put = await t.call(t.adminKey, 'PUT', `/v1/workspaces/${a.workspace.id}/credentials/twilio`, {
      account_sid: 'AC0123456789abcdef0123456789abcdef',
      auth_token: 'tw-auth-token-0123456789',
      base_url: twilio.url,
    });
    expect(put.status, put.raw).toBe(200);
    expect(put.body.secrets.auth_token.mask).toBe('tw-a***6789');
    expect(put.raw).not.toContain('tw-auth-token-0123456789');

    const ok = await testCredential(a, 'twilio');
    expect(ok.status, ok.raw).toBe(200);
    expect(ok.body).toMatchObject({ ok: true, status_code: 200 });
    expect(ok.body.detail).toContain('active');
    expect(twilio.seen.at(-1)).toMatchObject({ path: '/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef.json', username: 'AC0123456789abcdef0123456789abcdef', password: 'tw-auth-token-0123456789', status: 200 });

    const wrong = await t.call(t.adminKey, 'PUT', `/v1/workspaces/${a.workspace.id}/credentials/twilio`, { auth_token: 'not-the-right-token-000' });
    expect(wrong.status, wrong.raw).toBe(200);
    const bad = await testCredential(a, 'twilio');
    expect(bad.body).toMatchObject({ ok: false, status_code: 401 });
    expect(bad.body.detail).toContain('Authenticate');
    expect(twilio.seen.at(-1)).toMatchObject({ password: 'not-the-right-token-000', status: 401 });
  });
});

describe('deleting a credential', () => {
  test('DELETE answers 204; afterwards every call for it is 422 credential_missing and nothing reaches the provider', async () => {
    const c = await seedWorkspace(t);
    const own = fake.addApiToken(TEAM_B, 'c');
    expect((await putEmailBison(c, { instance: instance.id, api_key: own })).status).toBe(200);
    expect((await testCredential(c)).body.ok).toBe(true);

    const del = await t.call(c.key, 'DELETE', `/v1/workspaces/${c.workspace.id}/credentials/emailbison`);
    expect(del.status, del.raw).toBe(204);
    expect(del.raw).toBe('');
    const before = fake.seen.length;
    for (const res of [
      await testCredential(c, 'emailbison', c.key),
      await t.call(c.key, 'POST', `/v1/workspaces/${c.workspace.id}/upstream/emailbison`, { method: 'GET', path: '/users' }),
    ]) {
      expect(res.status, res.raw).toBe(422);
      expect(res.body.error.code).toBe('credential_missing');
      expect(res.body.error.message).toContain(c.workspace.id);
    }
    expect(fake.seen.length).toBe(before);
    expect((await t.call(c.key, 'GET', `/v1/workspaces/${c.workspace.id}/credentials`)).body.data).toEqual([]);
    expect((await t.call(c.key, 'DELETE', `/v1/workspaces/${c.workspace.id}/credentials/emailbison`)).status).toBe(404);
  });
});

describe('the catalog', () => {
  // The contract's credential fields; `true` marks a secret.
  const CONTRACT: Record<string, Record<string, boolean>> = {
    emailbison: { instance: false, api_key: true, provider_workspace_id: false },
    twilio: { account_sid: false, auth_token: true },
    vonage: { api_key: false, api_secret: true, signature_secret: true },
    whatsapp: { phone_number_id: false, business_account_id: false, access_token: true, app_secret: true, verify_token: true },
    aws_sns: { access_key_id: false, secret_access_key: true, region: false },
    n8n: { base_url: false, api_key: true },
    vapi: { api_key: true },
    http: { base_url: false, auth_type: false, token: true, header_name: false, username: false, password: true },
  };

  test('GET /v1/providers lists all 8 providers with their fields, which are secret, and how each is tested', async () => {
    const res = await t.call(a.key, 'GET', '/v1/providers');
    expect(res.status, res.raw).toBe(200);
    const providers = res.body.data as Array<{ id: string; fields: Array<{ name: string; secret: boolean; required: boolean }>; test: string; uses_instance: boolean }>;
    expect(providers.map((p) => p.id).sort()).toEqual(Object.keys(CONTRACT).sort());
    for (const p of providers) {
      const fields = Object.fromEntries(p.fields.map((f) => [f.name, f.secret]));
      for (const [name, secret] of Object.entries(CONTRACT[p.id])) expect([p.id, name, fields[name]]).toEqual([p.id, name, secret]);
      expect(p.test.length).toBeGreaterThan(0);
    }
    expect(providers.find((p) => p.id === 'emailbison')!.uses_instance).toBe(true);
    expect(providers.find((p) => p.id === 'emailbison')!.test).toContain('/users');
  });

  test('the catalog needs an authenticated caller', async () => {
    expect((await t.call(null, 'GET', '/v1/providers')).status).toBe(401);
  });
});

describe('cross-tenant', () => {
  test("workspace A's key gets 404 on every credential route of workspace B, and B's credential stays intact", async () => {
    const id = b.workspace.id;
    const before = fake.seen.length;
    const attempts: Array<[string, string, unknown?]> = [
      ['GET', `/v1/workspaces/${id}/credentials`],
      ['PUT', `/v1/workspaces/${id}/credentials/emailbison`, { instance: instance.id, api_key: tokenA }],
      ['DELETE', `/v1/workspaces/${id}/credentials/emailbison`],
      ['POST', `/v1/workspaces/${id}/credentials/emailbison/test`],
      ['POST', `/v1/workspaces/${id}/credentials/emailbison/generate`, {}],
      ['POST', `/v1/workspaces/${id}/upstream/emailbison`, { method: 'GET', path: '/sender-emails' }],
      ['POST', `/v1/workspaces/${id}/sync/emailbison/sender-emails`],
      ['GET', `/v1/workspaces/${id}/api-logs`],
      ['GET', `/v1/workspaces/${id}/api-logs?format=csv`],
      ['GET', `/v1/workspaces/${id}/health`],
      ['GET', `/v1/workspaces/${id}/onboarding`],
    ];
    for (const [method, url, body] of attempts) {
      const res = await t.call(a.key, method as 'GET', url, body);
      expect([method, url, res.status]).toEqual([method, url, 404]);
      expect(res.body.error.code).toBe('not_found');
      expect(res.raw).not.toContain(hidden(tokenB));
    }
    expect(fake.seen.length).toBe(before);
    const still = await t.call(b.key, 'GET', `/v1/workspaces/${id}/credentials`);
    expect(still.body.data).toHaveLength(1);
    expect(still.body.data[0].secrets.api_key.mask).toBe(mask(tokenB));
    const tested = await testCredential(b, 'emailbison', b.key);
    expect(tested.body.ok).toBe(true);
    expect(fake.seen.at(-1)!.token).toBe(tokenB);
  });
});
