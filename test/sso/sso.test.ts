import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import type { TestProvider } from '../helpers/oidc-provider.js';
import { atProvider, auditOf, callback, ssoOrganization, ssoSignIn, startProvider, startSso, PUBLIC_URL } from '../helpers/sso.js';

// Single sign-on through a real OpenID provider (oidc-provider on loopback): configuration, the
// code flow with a just-in-time person, the admin's trial sign-in, and how a start is answered.
let t: TestApp;
let provider: TestProvider;
let org: { id: string; config: any };

beforeAll(async () => {
  t = await createTestApp({ GATEHOUSE_PUBLIC_URL: PUBLIC_URL, GATEHOUSE_LOGIN_IP_LIMIT: '1000' });
  provider = await startProvider();
  org = await ssoOrganization(t, provider, 'acme.test', { default_role: 'member' });
}, 60_000);
afterAll(async () => {
  await provider?.close();
  await t?.close();
});

describe('configuration', () => {
  test('the presets name their issuer shapes and the claims read', async () => {
    const res = await t.call(null, 'GET', '/v1/auth/sso/presets');
    expect(res.status).toBe(200);
    expect(res.body.data.map((p: any) => [p.name, p.issuer_pattern])).toEqual([
      ['google', 'https://accounts.google.com'],
      ['microsoft', 'https://login.microsoftonline.com/{tenant}/v2.0'],
      ['okta', 'https://{domain}.okta.com or https://{domain}.okta.com/oauth2/default'],
    ]);
    expect(res.body.data[0].claims).toEqual({ email: 'email', email_verified: 'email_verified', name: 'name' });
  });

  test('is saved after discovery, read back with the secret masked, and audited without it', async () => {
    expect(org.config).toMatchObject({ organization_id: org.id, issuer: provider.issuer, client_id: provider.clientId, allowed_domains: ['acme.test'], enforce: false, default_role: 'member' });
    expect(org.config.client_secret_mask).not.toContain(provider.clientSecret.slice(4, -4));
    const read = await t.call(t.adminKey, 'GET', `/v1/organizations/${org.id}/sso`);
    expect(read.body).toEqual(org.config);
    const [entry] = await auditOf(t, 'sso.configured');
    expect(entry).toMatchObject({ outcome: 'success', resource_id: org.id, after: { organization_id: org.id, credentials_replaced: true } });
    expect(JSON.stringify(entry)).not.toContain(provider.clientSecret);
  });

  test('an update without client_secret keeps the stored one (the sign-in still works)', async () => {
    const put = await t.call(t.adminKey, 'PUT', `/v1/organizations/${org.id}/sso`, { issuer: provider.issuer, client_id: provider.clientId, allowed_domains: ['acme.test', 'ACME.example'] });
    expect(put.status, put.raw).toBe(200);
    expect(put.body.allowed_domains).toEqual(['acme.example', 'acme.test']);
    expect(put.body.client_secret_mask).toBe(org.config.client_secret_mask);
    provider.account({ email: 'kept@acme.example' });
    expect((await ssoSignIn(t, 'kept@acme.example')).location).toBe('/');
  });

  test('a domain another organization signs in with is a 409 naming it', async () => {
    const other = await t.call(t.adminKey, 'POST', '/v1/organizations', { name: 'other', plan: 'starter' });
    const put = await t.call(t.adminKey, 'PUT', `/v1/organizations/${other.body.id}/sso`, {
      issuer: provider.issuer, client_id: provider.clientId, client_secret: provider.clientSecret, allowed_domains: ['other.test', 'acme.test'],
    });
    expect(put.status, put.raw).toBe(409);
    expect(put.body.error.details).toMatchObject({ reason: 'domain_taken', domains: ['acme.test'] });
    expect((await t.call(t.adminKey, 'GET', `/v1/organizations/${other.body.id}/sso`)).status).toBe(404);
  });

  test('bad input is a 400 naming the field: no domains, a non-domain, a preset whose issuer does not match, no secret at first', async () => {
    const base = { issuer: provider.issuer, client_id: 'x', client_secret: 'y', allowed_domains: ['fine.test'] };
    const other = (await t.call(t.adminKey, 'POST', '/v1/organizations', { name: 'bad-input', plan: 'starter' })).body.id;
    const put = (body: object) => t.call(t.adminKey, 'PUT', `/v1/organizations/${other}/sso`, body);
    expect((await put({ ...base, allowed_domains: [] })).status).toBe(400);
    expect((await put({ ...base, allowed_domains: ['not a domain'] })).body.error.details).toMatchObject({ field: 'allowed_domains' });
    expect((await put({ ...base, preset: 'google' })).body.error.details).toMatchObject({ field: 'issuer', reason: 'preset_mismatch' });
    const { client_secret: _s, ...noSecret } = base;
    expect((await put(noSecret)).body.error.details).toMatchObject({ field: 'client_secret' });
    expect((await put({ ...base, issuer: `${provider.issuer}/nothing-here` })).body.error.details).toMatchObject({ field: 'issuer', reason: 'discovery_failed' });
    expect((await t.call(t.adminKey, 'PUT', '/v1/organizations/org_01hzzzzzzzzzzzzzzzzzzzzzzz/sso', base)).status).toBe(404);
  });
});

describe('signing in', () => {
  test('a first sign-in makes the person (no password), opens a session like the password sign-in, and goes to /', async () => {
    provider.account({ email: 'ada@acme.test', name: 'Ada Lovelace' });
    const res = await ssoSignIn(t, 'ada@acme.test');
    expect(res.status, res.raw).toBe(302);
    expect(res.location).toBe('/');
    expect(res.session).toBeDefined();
    const me = await t.app.inject({ method: 'GET', url: '/v1/auth/me', headers: { cookie: res.session! } });
    expect(me.statusCode, me.body).toBe(200);
    expect(JSON.parse(me.body).user).toMatchObject({ email: 'ada@acme.test', name: 'Ada Lovelace', platform_admin: false });
    // No password: the password sign-in cannot be used for this person.
    const login = await t.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email: 'ada@acme.test', password: 'anything at all' } });
    expect(login.statusCode).toBe(401);

    const again = await ssoSignIn(t, 'ada@acme.test');
    const meAgain = await t.app.inject({ method: 'GET', url: '/v1/auth/me', headers: { cookie: again.session! } });
    expect(JSON.parse(meAgain.body).user.id).toBe(JSON.parse(me.body).user.id);

    // Just in time: a member of the organization with its default role.
    const members = await t.call(t.adminKey, 'GET', `/v1/organizations/${org.id}/members`);
    expect(members.body.data.find((m: any) => m.email === 'ada@acme.test')).toMatchObject({ role: 'member', name: 'Ada Lovelace' });

    const logins = (await auditOf(t, 'auth.sso_login')).filter((e) => e.after.email === 'ada@acme.test');
    expect(logins).toHaveLength(2);
    expect(logins[0]).toMatchObject({ outcome: 'success', actor_id: JSON.parse(me.body).user.id, after: { organization_id: org.id, issuer: provider.issuer } });
    expect((await auditOf(t, 'auth.sso_started')).some((e) => e.after.organization_id === org.id)).toBe(true);
  });

  test('an invitation to one workspace is accepted without a password and kept by the sign-in: no wider default role', async () => {
    const ws = await t.call(t.adminKey, 'POST', `/v1/organizations/${org.id}/workspaces`, { name: `only-${Date.now()}` });
    const sent = await t.call(t.adminKey, 'POST', `/v1/organizations/${org.id}/invitations`, { email: 'ivy@acme.test', role: 'read_only', workspace_ids: [ws.body.id] });
    expect(sent.status, sent.raw).toBe(201);
    const token = new URL(sent.body.url).searchParams.get('token')!;
    const lookup = await t.app.inject({ method: 'GET', url: `/v1/invitations/lookup?token=${token}` });
    expect(JSON.parse(lookup.body).sso).toEqual({ available: true, enforced: false });
    const accepted = await t.app.inject({ method: 'POST', url: '/v1/invitations/accept', payload: { token, name: 'Ivy Invited' } });
    expect(accepted.statusCode, accepted.body).toBe(200);
    expect(JSON.parse(accepted.body).signed_in).toBe(false);
    provider.account({ email: 'ivy@acme.test', name: 'Ivy Invited' });
    const res = await ssoSignIn(t, 'ivy@acme.test');
    const me = JSON.parse((await t.app.inject({ method: 'GET', url: '/v1/auth/me', headers: { cookie: res.session! } })).body).user;
    expect(me.organizations).toEqual([]);
    expect(me.memberships).toEqual([{ workspace_id: ws.body.id, role: 'read_only' }]);
  });

  test('the start asks the provider for the code flow with PKCE (S256), state, nonce and the email as login hint', async () => {
    const { res, location, attemptCookie } = await startSso(t, 'ada@acme.test');
    expect(res.statusCode).toBe(302);
    const url = new URL(location);
    expect(url.origin).toBe(provider.issuer);
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      response_type: 'code', client_id: provider.clientId, redirect_uri: `${PUBLIC_URL}/v1/auth/sso/callback`, scope: 'openid email profile',
      code_challenge_method: 'S256', login_hint: 'ada@acme.test',
    });
    for (const p of ['state', 'nonce', 'code_challenge']) expect(url.searchParams.get(p)?.length).toBeGreaterThan(20);
    expect(attemptCookie).toMatch(/^gatehouse_sso=/);
    expect(String(res.headers['set-cookie'])).toMatch(/HttpOnly/i);
    expect(String(res.headers['set-cookie'])).toMatch(/SameSite=Lax/i);
  });

  test('an email whose domain no organization claims: 404 JSON for a program, back to the sign-in page for a browser', async () => {
    const before = provider.authorizations;
    const api = await startSso(t, 'who@nowhere.test');
    expect(api.res.statusCode).toBe(404);
    expect(JSON.parse(api.res.body).error).toMatchObject({ code: 'not_found', details: { reason: 'sso_not_configured' } });
    const page = await startSso(t, 'who@nowhere.test', { accept: 'text/html' });
    expect(page.res.statusCode).toBe(302);
    expect(page.location).toBe('/?sso_error=sso_not_configured');
    expect((await startSso(t, 'no-at-sign')).res.statusCode).toBe(400);
    expect(provider.authorizations).toBe(before);
  });

  test("an admin's trial sign-in reports the claims received and opens no session", async () => {
    provider.account({ email: 'tester@acme.test', name: 'Tess' });
    const started = await t.call(t.adminKey, 'POST', `/v1/organizations/${org.id}/sso/test`);
    expect(started.status, started.raw).toBe(201);
    provider.signInAs = 'tester@acme.test';
    try {
      const res = await callback(t, await atProvider(started.body.url));
      expect(res.status, res.raw).toBe(200);
      expect(res.body).toMatchObject({ ok: true, organization_id: org.id, claims: { email: 'tester@acme.test', email_verified: true, name: 'Tess', iss: provider.issuer } });
      expect(res.session).toBeUndefined();
    } finally {
      provider.signInAs = null;
    }
    expect((await auditOf(t, 'sso.test')).at(-1)).toMatchObject({ outcome: 'success', resource_id: org.id });
  });
});
