import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import type { TestProvider } from '../helpers/oidc-provider.js';
import { PERSON_PASSWORD, signIn } from '../helpers/people.js';
import { atProvider, auditOf, callback, ssoOrganization, ssoSignIn, startProvider, startSso, PUBLIC_URL } from '../helpers/sso.js';

// What single sign-on refuses: a replayed or foreign callback, an ID token with the wrong nonce, an
// email that is unverified or of another domain, a plain-http or private issuer outside test setups,
// password sign-in where the organization enforces SSO (the platform admin excepted), and the client
// secret anywhere it could leak.
let t: TestApp;
let provider: TestProvider;
let org: { id: string };
const responses: string[] = [];

beforeAll(async () => {
  t = await createTestApp({ GATEHOUSE_PUBLIC_URL: PUBLIC_URL, GATEHOUSE_LOGIN_IP_LIMIT: '1000', GATEHOUSE_LOGIN_ACCOUNT_LIMIT: '1000' });
  provider = await startProvider();
  org = await ssoOrganization(t, provider, 'secure.test');
  provider.account({ email: 'sam@secure.test' });
}, 60_000);
afterAll(async () => {
  await provider?.close();
  await t?.close();
});

const failures = async () => (await auditOf(t, 'auth.sso_login_failed')).map((e) => e.after.reason);

describe('the callback', () => {
  test('a replayed callback is refused: the attempt was spent by the first', async () => {
    const started = await startSso(t, 'sam@secure.test');
    const path = await atProvider(started.location);
    const first = await callback(t, path, started.attemptCookie);
    expect(first.status).toBe(302);
    expect(first.session).toBeDefined();
    const replay = await callback(t, path, started.attemptCookie);
    expect(replay.status).toBe(401);
    expect(replay.body.error.details).toMatchObject({ reason: 'state_invalid' });
    expect(replay.session).toBeUndefined();
    // A browser replaying it is sent back to the sign-in page with the reason.
    const page = await callback(t, path, started.attemptCookie, { accept: 'text/html' });
    expect(page.location).toBe('/?sso_error=state_invalid');
  });

  test('an ID token whose nonce is not the one this attempt sent is refused, and audited for the organization', async () => {
    const started = await startSso(t, 'sam@secure.test');
    const path = await atProvider(started.location);
    // The provider's token carries the nonce of the request; the attempt now expects another.
    await sql`update sso_attempts set nonce = 'not-the-nonce-that-was-sent'`.execute(t.db.database.db);
    const res = await callback(t, path, started.attemptCookie);
    expect(res.status, res.raw).toBe(401);
    expect(res.body.error.details).toMatchObject({ reason: 'id_token_invalid' });
    expect(res.body.error.message).toMatch(/nonce/);
    expect(res.session).toBeUndefined();
    expect((await auditOf(t, 'auth.sso_login_failed')).at(-1)).toMatchObject({ outcome: 'failure', resource_id: org.id, after: { organization_id: org.id, reason: 'id_token_invalid' } });
  });

  test('a callback in a browser other than the one that started is refused (the attempt cookie)', async () => {
    const started = await startSso(t, 'sam@secure.test');
    const res = await callback(t, await atProvider(started.location), 'gatehouse_sso=someone-elses');
    expect(res.status).toBe(401);
    expect(res.body.error.details).toMatchObject({ reason: 'browser_mismatch' });
    expect(res.session).toBeUndefined();
  });

  test('a state nobody issued, and none at all, are refused', async () => {
    expect((await callback(t, '/v1/auth/sso/callback?code=x&state=made-up')).body.error.details).toMatchObject({ reason: 'state_invalid' });
    expect((await callback(t, '/v1/auth/sso/callback')).status).toBe(401);
  });

  test("an email outside the organization's domains is refused", async () => {
    provider.account({ email: 'eve@elsewhere.test' });
    provider.signInAs = 'eve@elsewhere.test';
    try {
      const res = await ssoSignIn(t, 'sam@secure.test');
      expect(res.status).toBe(403);
      expect(res.body.error.details).toMatchObject({ reason: 'domain_not_allowed' });
      expect(res.session).toBeUndefined();
    } finally {
      provider.signInAs = null;
    }
    expect(await failures()).toContain('domain_not_allowed');
    expect((await t.call(t.adminKey, 'GET', '/v1/users')).body.data.map((u: any) => u.email)).not.toContain('eve@elsewhere.test');
  });

  test('an email the provider says is not verified is refused', async () => {
    provider.account({ email: 'unverified@secure.test', email_verified: false });
    const res = await ssoSignIn(t, 'unverified@secure.test');
    expect(res.status).toBe(403);
    expect(res.body.error.details).toMatchObject({ reason: 'email_unverified' });
  });
});

describe('whom the provider speaks for', () => {
  const user = async (email: string, extra: Record<string, unknown> = {}) => {
    const u = await t.call(t.adminKey, 'POST', '/v1/users', { email, name: email.slice(0, email.indexOf('@')), password: PERSON_PASSWORD, ...extra });
    expect(u.status, u.raw).toBe(201);
    return u.body.id as string;
  };
  const join = async (organizationId: string, userId: string) =>
    expect((await t.call(t.adminKey, 'POST', `/v1/organizations/${organizationId}/members`, { user_id: userId, role: 'member' })).status).toBeLessThan(300);
  const refusedAs = async (email: string, reason: string) => {
    provider.account({ email });
    const res = await ssoSignIn(t, email);
    expect(res.status, res.raw).toBe(403);
    expect(res.body.error.details).toMatchObject({ reason });
    expect(res.session).toBeUndefined();
  };

  test("an organization's provider signs in its own people only: not an account elsewhere, of two organizations, or the platform admin", async () => {
    const other = await t.call(t.adminKey, 'POST', '/v1/organizations', { name: 'victims', plan: 'starter' });
    // An account of another organization, whose email happens to be of this organization's domain.
    const victim = await user('victim@secure.test');
    await join(other.body.id, victim);
    await refusedAs('victim@secure.test', 'account_elsewhere');
    // Nor is the account joined to this organization on the way.
    const me = await t.call(t.adminKey, 'GET', `/v1/organizations/${org.id}/members?limit=200`);
    expect(me.body.data.map((m: { user_id: string }) => m.user_id)).not.toContain(victim);
    // An account of no organization at all is someone else's too.
    await user('loner@secure.test');
    await refusedAs('loner@secure.test', 'account_elsewhere');
    // Of this organization and another: a session here would reach the other's workspaces.
    const both = await user('both@secure.test');
    await join(org.id, both);
    await join(other.body.id, both);
    await refusedAs('both@secure.test', 'several_organizations');
    // The platform admin, even as a member of the organization.
    const root = await user('operator@secure.test', { platform_admin: true });
    await join(org.id, root);
    await refusedAs('operator@secure.test', 'platform_admin');
    expect(await failures()).toEqual(expect.arrayContaining(['account_elsewhere', 'several_organizations', 'platform_admin']));
    // The password of each still works: nothing was taken from them.
    const login = await t.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email: 'victim@secure.test', password: PERSON_PASSWORD } });
    expect(login.statusCode).toBe(200);
  });

  test('an admin neither points the organization at another provider nor makes newcomers owners; an owner changing the client gives its secret', async () => {
    const own = await ssoOrganization(t, provider, 'owners.test');
    const as = async (email: string, role: string) => {
      const id = await user(email);
      expect((await t.call(t.adminKey, 'POST', `/v1/organizations/${own.id}/members`, { user_id: id, role })).status).toBeLessThan(300);
      return signIn(t, email);
    };
    const admin = await as('admin@owners.test', 'admin');
    const owner = await as('owner@owners.test', 'owner');
    const url = `/v1/organizations/${own.id}/sso`;
    const same = { issuer: provider.issuer, client_id: provider.clientId, allowed_domains: ['owners.test'] };
    // What an admin may still do: domains, enforcement, a default role within their own.
    expect((await admin('PUT', url, { ...same, default_role: 'admin' })).status).toBe(200);
    const otherClient = await admin('PUT', url, { ...same, client_id: 'attacker-client', client_secret: 'attacker-secret' });
    expect(otherClient.status).toBe(403);
    expect(otherClient.body.error.details).toMatchObject({ reason: 'organization_role', required_role: 'owner' });
    expect((await admin('PUT', url, { ...same, client_secret: 'another-secret' })).status).toBe(403);
    const owners = await admin('PUT', url, { ...same, default_role: 'owner' });
    expect(owners.status).toBe(403);
    expect(owners.body.error.details).toMatchObject({ reason: 'role_beyond_granter' });
    // The stored secret is never sent to a client it was not given for.
    const noSecret = await owner('PUT', url, { ...same, client_id: 'another-client' });
    expect(noSecret.status).toBe(400);
    expect(noSecret.body.error.details).toMatchObject({ field: 'client_secret', reason: 'secret_required' });
    expect((await owner('PUT', url, { ...same, default_role: 'owner' })).status).toBe(200);
    const kept = await t.call(t.adminKey, 'GET', url);
    expect(kept.body).toMatchObject({ client_id: provider.clientId, default_role: 'owner' });
  });
});

describe('enforcement', () => {
  test('with enforce on, a member with a password is refused password sign-in (403 sso_required); off again, it works', async () => {
    const user = await t.call(t.adminKey, 'POST', '/v1/users', { email: 'pat@secure.test', name: 'Pat', password: PERSON_PASSWORD });
    const joined = await t.call(t.adminKey, 'POST', `/v1/organizations/${org.id}/members`, { user_id: user.body.id, role: 'member' });
    expect(joined.status, joined.raw).toBeLessThan(300);
    const login = () => t.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email: 'pat@secure.test', password: PERSON_PASSWORD } });
    expect((await login()).statusCode).toBe(200);

    const config = { issuer: provider.issuer, client_id: provider.clientId, allowed_domains: ['secure.test'] };
    expect((await t.call(t.adminKey, 'PUT', `/v1/organizations/${org.id}/sso`, { ...config, enforce: true })).status).toBe(200);
    const refused = await login();
    expect(refused.statusCode).toBe(403);
    expect(JSON.parse(refused.body).error.details).toMatchObject({ reason: 'sso_required', organization_ids: [org.id] });
    expect(refused.headers['set-cookie']).toBeUndefined();
    // A wrong password is still the ordinary 401: the refusal says nothing until the password is right.
    const wrong = await t.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email: 'pat@secure.test', password: 'not the password' } });
    expect(wrong.statusCode).toBe(401);
    // SSO still signs them in.
    provider.account({ email: 'pat@secure.test' });
    expect((await ssoSignIn(t, 'pat@secure.test')).location).toBe('/');

    // The platform admin's password always works (break-glass), member of the organization or not.
    const admin = await t.call(t.adminKey, 'POST', '/v1/users', { email: 'root@secure.test', name: 'Root', password: PERSON_PASSWORD, platform_admin: true });
    expect((await t.call(t.adminKey, 'POST', `/v1/organizations/${org.id}/members`, { user_id: admin.body.id, role: 'admin' })).status).toBeLessThan(300);
    const breakGlass = await t.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email: 'root@secure.test', password: PERSON_PASSWORD } });
    expect(breakGlass.statusCode, breakGlass.body).toBe(200);

    expect((await t.call(t.adminKey, 'PUT', `/v1/organizations/${org.id}/sso`, { ...config, enforce: false })).status).toBe(200);
    expect((await login()).statusCode).toBe(200);
  });
});

describe('who may configure', () => {
  test("the organization's owners and admins may; its other members may not", async () => {
    const member = async (email: string, role: string) => {
      const u = await t.call(t.adminKey, 'POST', '/v1/users', { email, name: role, password: PERSON_PASSWORD });
      expect((await t.call(t.adminKey, 'POST', `/v1/organizations/${org.id}/members`, { user_id: u.body.id, role })).status).toBeLessThan(300);
      return signIn(t, email);
    };
    const body = { issuer: provider.issuer, client_id: provider.clientId, allowed_domains: ['secure.test'] };
    const admin = await member('org-admin@secure.test', 'admin');
    const put = await admin('PUT', `/v1/organizations/${org.id}/sso`, body);
    expect(put.status, put.raw).toBe(200);
    expect((await admin('POST', `/v1/organizations/${org.id}/sso/test`)).status).toBe(201);
    const plain = await member('org-member@secure.test', 'member');
    const refused = await plain('PUT', `/v1/organizations/${org.id}/sso`, body);
    expect(refused.status).toBe(403);
    expect((await plain('GET', `/v1/organizations/${org.id}/sso`)).status).toBe(403);
    // Someone of another organization does not see this one at all.
    const outsider = await t.call(t.adminKey, 'POST', '/v1/users', { email: 'outsider@else.test', name: 'Out', password: PERSON_PASSWORD });
    const otherOrg = await t.call(t.adminKey, 'POST', '/v1/organizations', { name: 'elsewhere', plan: 'starter' });
    await t.call(t.adminKey, 'POST', `/v1/organizations/${otherOrg.body.id}/members`, { user_id: outsider.body.id, role: 'owner' });
    expect((await (await signIn(t, 'outsider@else.test'))('PUT', `/v1/organizations/${org.id}/sso`, body)).status).toBe(404);
  });

  test('a workspace key cannot read or change an organization\'s single sign-on', async () => {
    const ws = await t.call(t.adminKey, 'POST', `/v1/organizations/${org.id}/workspaces`, { name: 'keyed' });
    const key = (await t.call(t.adminKey, 'POST', `/v1/workspaces/${ws.body.id}/api-keys`, { name: 'k', scopes: ['*'] })).body.key;
    const put = await t.call(key, 'PUT', `/v1/organizations/${org.id}/sso`, { issuer: provider.issuer, client_id: 'x', client_secret: 'y', allowed_domains: ['evil.test'] });
    expect([403, 404]).toContain(put.status);
    expect([403, 404]).toContain((await t.call(key, 'GET', `/v1/organizations/${org.id}/sso`)).status);
    expect([403, 404]).toContain((await t.call(key, 'POST', `/v1/organizations/${org.id}/sso/test`)).status);
  });
});

describe('the issuer is an outbound target', () => {
  test('outside test setups only https:// to a public address is accepted, before anything is fetched', async () => {
    const strict = await createTestApp({ GATEHOUSE_PUBLIC_URL: PUBLIC_URL, GATEHOUSE_ALLOW_PRIVATE_TARGETS: 'false' });
    try {
      const o = await strict.call(strict.adminKey, 'POST', '/v1/organizations', { name: 'strict', plan: 'starter' });
      const put = (issuer: string) => strict.call(strict.adminKey, 'PUT', `/v1/organizations/${o.body.id}/sso`, { issuer, client_id: 'x', client_secret: 'y', allowed_domains: ['strict.test'] });
      const before = provider.authorizations;
      const http = await put(provider.issuer);
      expect(http.status).toBe(400);
      expect(http.body.error.details).toMatchObject({ field: 'issuer', reason: 'https_required' });
      const loopback = await put('https://127.0.0.1:8443');
      expect(loopback.status).toBe(400);
      expect(loopback.body.error.details).toMatchObject({ field: 'issuer', reason: 'private_target' });
      expect((await put('https://login.internal')).body.error.details).toMatchObject({ reason: 'private_target' });
      expect((await put('https://metadata.google.internal/')).status).toBe(400);
      expect(provider.authorizations).toBe(before);
    } finally {
      await strict.close();
    }
  });
});

describe('what an issuer sends back', () => {
  test('a discovery document past 512 KB is refused without being read whole', async () => {
    let sent = 0;
    const huge = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      // An endless document: only a cap on the reader ends it.
      const write = () => {
        while (sent < 64 * 1024 * 1024 && res.write(`{"padding":"${'x'.repeat(65_000)}"},`)) sent += 65_000;
        if (sent < 64 * 1024 * 1024) res.once('drain', write);
        else res.end();
      };
      write();
    });
    await new Promise<void>((resolve) => huge.listen(0, '127.0.0.1', resolve));
    try {
      const o = await t.call(t.adminKey, 'POST', '/v1/organizations', { name: 'huge', plan: 'starter' });
      const issuer = `http://127.0.0.1:${(huge.address() as AddressInfo).port}`;
      const put = await t.call(t.adminKey, 'PUT', `/v1/organizations/${o.body.id}/sso`, { issuer, client_id: 'x', client_secret: 'y', allowed_domains: ['huge.test'] });
      expect(put.status, put.raw).toBe(400);
      expect(put.body.error.details).toMatchObject({ field: 'issuer' });
      expect(put.body.error.message, put.raw).toMatch(/more than 512 KB/);
      // The server was cut off long before it finished.
      expect(sent).toBeLessThan(32 * 1024 * 1024);
    } finally {
      huge.closeAllConnections();
      await new Promise((resolve) => huge.close(resolve));
    }
  });
});

describe('the client secret', () => {
  test('never appears in a response, a log line or an audit entry', async () => {
    const read = await t.call(t.adminKey, 'GET', `/v1/organizations/${org.id}/sso`);
    responses.push(read.raw);
    const put = await t.call(t.adminKey, 'PUT', `/v1/organizations/${org.id}/sso`, {
      issuer: provider.issuer, client_id: provider.clientId, client_secret: provider.clientSecret, allowed_domains: ['secure.test'],
    });
    responses.push(put.raw);
    responses.push((await t.call(t.adminKey, 'POST', `/v1/organizations/${org.id}/sso/test`)).raw);
    const signIn = await ssoSignIn(t, 'sam@secure.test');
    responses.push(signIn.raw, String(signIn.location));
    responses.push((await t.call(t.adminKey, 'GET', '/v1/audit?format=json')).raw);
    const audit = await sql<{ row: string }>`select row_to_json(a)::text as row from audit_log a`.execute(t.db.database.db);
    const stored = await sql<{ ciphertext: string }>`select ciphertext from sso_configs`.execute(t.db.database.db);
    for (const text of [...responses, ...t.logs, ...audit.rows.map((r) => r.row), ...stored.rows.map((r) => r.ciphertext)]) {
      expect(text).not.toContain(provider.clientSecret);
    }
    expect(audit.rows.length).toBeGreaterThan(5);
  });
});
