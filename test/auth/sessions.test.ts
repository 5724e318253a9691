import { sql } from 'kysely';
import { TOTP } from 'otpauth';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';

// Signing in to the portal: sessions, CSRF, roles per workspace, lockout, MFA, timeouts, headers.
let t: TestApp;
let wsA: { id: string; organization_id: string };
let wsB: { id: string };
const PASSWORD = 'correct horse battery staple';

interface Browser {
  cookie: string | null;
  csrf: string | null;
}

beforeAll(async () => {
  // Every sign-in here comes from one address: its per-minute allowance is not what is tested.
  t = await createTestApp({ GATEHOUSE_LOGIN_LOCK_AFTER: '3', GATEHOUSE_LOGIN_LOCK_S: '60', GATEHOUSE_LOGIN_IP_LIMIT: '1000' });
  ({ workspace: wsA } = await seedWorkspace(t));
  ({ workspace: wsB } = await seedWorkspace(t));
});
afterAll(async () => t?.close());

async function person(role: 'admin' | 'read_only', email = `p-${Math.random().toString(36).slice(2, 8)}@example.com`) {
  const u = await t.call(t.adminKey, 'POST', '/v1/users', { email, name: 'Pat', password: PASSWORD });
  expect(u.status, u.raw).toBe(201);
  const m = await t.call(t.adminKey, 'POST', `/v1/workspaces/${wsA.id}/members`, { user_id: u.body.id, role });
  expect(m.status, m.raw).toBe(201);
  return { id: u.body.id as string, email };
}

/** A request as the portal makes it: the session cookie, and the CSRF token when asked to send it. */
async function as(b: Browser, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown, opts: { csrf?: boolean } = { csrf: true }) {
  const headers: Record<string, string> = {};
  if (b.cookie) headers.cookie = b.cookie;
  if (opts.csrf && b.csrf) headers['x-csrf-token'] = b.csrf;
  const res = await t.app.inject({ method, url, headers, ...(body === undefined ? {} : { payload: body as object }) });
  return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined, headers: res.headers, raw: res.body };
}

async function signIn(email: string, password = PASSWORD, totp?: string) {
  const res = await t.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email, password, ...(totp ? { totp } : {}) } });
  const setCookie = res.headers['set-cookie'];
  const cookie = typeof setCookie === 'string' ? setCookie : setCookie?.[0];
  const body = JSON.parse(res.body);
  return { status: res.statusCode, body, setCookie: cookie, browser: { cookie: cookie ? cookie.split(';')[0] : null, csrf: body.csrf_token ?? null } as Browser };
}

describe('signing in', () => {
  test('the right password: an HttpOnly, SameSite=Strict session cookie, the CSRF token, and who I am', async () => {
    const p = await person('admin');
    const r = await signIn(p.email.toUpperCase());
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.setCookie).toMatch(/^gatehouse_session=[A-Za-z0-9_-]{40,};/);
    expect(r.setCookie).toMatch(/HttpOnly/);
    expect(r.setCookie).toMatch(/SameSite=Strict/);
    expect(r.body.user).toMatchObject({ id: p.id, email: p.email, platform_admin: false, memberships: [{ workspace_id: wsA.id, role: 'admin' }] });
    const me = await as(r.browser, 'GET', '/v1/auth/me');
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ user: { id: p.id }, csrf_token: r.body.csrf_token });
    // Only the token's hash is stored.
    const token = r.browser.cookie!.split('=')[1];
    const rows = await sql<{ n: number }>`select count(*)::int as n from sessions where id_hash = ${token} or csrf_token = ${token}`.execute(t.db.database.db);
    expect(rows.rows[0].n).toBe(0);
  });

  test('a wrong password or an unknown email: the same 401, audited as a failure', async () => {
    const p = await person('admin');
    const wrong = await signIn(p.email, 'not the password');
    const unknown = await signIn('nobody@example.com', 'whatever it is');
    for (const r of [wrong, unknown]) {
      expect(r.status).toBe(401);
      expect(r.body.error).toMatchObject({ code: 'unauthenticated', message: 'wrong email or password' });
      expect(r.setCookie).toBeUndefined();
    }
    const audit = await t.call(t.adminKey, 'GET', `/v1/audit?action=auth.login_failed`);
    expect(audit.body.data.some((e: { resource: { id: string } | null }) => e.resource?.id === p.id)).toBe(true);
  });

  test('after 3 failures the account locks (429 with Retry-After), even for the right password; audited', async () => {
    const p = await person('admin');
    for (let i = 0; i < 3; i++) expect((await signIn(p.email, 'wrong password')).status).toBe(401);
    const locked = await signIn(p.email);
    expect(locked.status).toBe(429);
    expect(locked.body.error.details.reason).toBe('locked');
    const audit = await t.call(t.adminKey, 'GET', `/v1/audit?action=auth.locked`);
    expect(audit.body.data.some((e: { resource: { id: string } | null }) => e.resource?.id === p.id)).toBe(true);
    await sql`update users set locked_until = now() - interval '1 second' where id = ${p.id}`.execute(t.db.database.db);
    expect((await signIn(p.email)).status).toBe(200);
  });

  test('signing out ends the session: the cookie is cleared and no longer works', async () => {
    const p = await person('admin');
    const { browser } = await signIn(p.email);
    const out = await as(browser, 'POST', '/v1/auth/logout');
    expect(out.status).toBe(204);
    expect(String(out.headers['set-cookie'])).toMatch(/gatehouse_session=;/);
    const me = await as(browser, 'GET', '/v1/auth/me');
    expect(me.status).toBe(401);
    expect(me.body.error.details.reason).toBe('session_expired');
    // Any other route says the same of the ended session, not that a key is missing.
    const other = await as(browser, 'GET', '/v1/workspaces');
    expect(other.status).toBe(401);
    expect(other.body.error.details.reason).toBe('session_expired');
    expect(other.body.error.message).toMatch(/session has ended/);
  });

  test('a session idle past its limit, or past its absolute end, is over', async () => {
    const p = await person('admin');
    const idle = await signIn(p.email);
    const absolute = await signIn(p.email);
    const db = t.db.database.db;
    await sql`update sessions set last_seen_at = now() - interval '31 minutes' where csrf_token = ${idle.body.csrf_token}`.execute(db);
    await sql`update sessions set expires_at = now() - interval '1 second' where csrf_token = ${absolute.body.csrf_token}`.execute(db);
    expect((await as(idle.browser, 'GET', '/v1/auth/me')).status).toBe(401);
    expect((await as(absolute.browser, 'GET', '/v1/auth/me')).status).toBe(401);
  });
});

describe('what a session may do', () => {
  test('a change without the CSRF token is refused (403), with it allowed; reads need none', async () => {
    const p = await person('admin');
    const { browser } = await signIn(p.email);
    expect((await as(browser, 'GET', `/v1/workspaces/${wsA.id}`, undefined, { csrf: false })).status).toBe(200);
    const without = await as(browser, 'PATCH', `/v1/workspaces/${wsA.id}`, { name: 'renamed' }, { csrf: false });
    expect(without.status).toBe(403);
    expect(without.body.error).toMatchObject({ code: 'forbidden', details: { reason: 'csrf' } });
    const forged = await as({ ...browser, csrf: 'not-the-token' }, 'PATCH', `/v1/workspaces/${wsA.id}`, { name: 'renamed' });
    expect(forged.status).toBe(403);
    const ok = await as(browser, 'PATCH', `/v1/workspaces/${wsA.id}`, { name: 'renamed by a person' });
    expect(ok.status, ok.raw).toBe(200);
    const audit = await t.call(t.adminKey, 'GET', `/v1/audit?workspace_id=${wsA.id}&action=workspace.updated`);
    expect(audit.body.data[0]).toMatchObject({ actor: { type: 'user', id: p.id } });
  });

  test('a read_only member reads their workspace, may change nothing in it, and does not see others', async () => {
    const p = await person('read_only');
    const { browser } = await signIn(p.email);
    expect((await as(browser, 'GET', `/v1/workspaces/${wsA.id}`)).status).toBe(200);
    const change = await as(browser, 'PATCH', `/v1/workspaces/${wsA.id}`, { name: 'nope' });
    expect(change.status).toBe(403);
    const key = await as(browser, 'POST', `/v1/workspaces/${wsA.id}/api-keys`, { name: 'k', scopes: ['keys:read'] });
    expect(key.status).toBe(403);
    expect((await as(browser, 'GET', `/v1/workspaces/${wsB.id}`)).status).toBe(404);
    const list = await as(browser, 'GET', '/v1/workspaces');
    expect(list.body.data.map((w: { id: string }) => w.id)).toEqual([wsA.id]);
    expect((await as(browser, 'GET', '/v1/audit')).status).toBe(403);
  });

  test('an API key cannot use the session routes, and a session cookie next to a key changes nothing', async () => {
    const me = await t.call(t.adminKey, 'GET', '/v1/auth/me');
    expect(me.status).toBe(401);
    expect(me.body.error.details.reason).toBe('no_session');
  });
});

describe('two-factor sign-in', () => {
  test('enrol, confirm with a code; then sign-in asks for the code and refuses a wrong one', async () => {
    const p = await person('admin');
    const { browser } = await signIn(p.email);
    const enrol = await as(browser, 'POST', '/v1/auth/mfa/enroll');
    expect(enrol.status, enrol.raw).toBe(200);
    expect(enrol.body.otpauth_url).toMatch(/^otpauth:\/\/totp\/Gatehouse:.+\?.*secret=[A-Z2-7]+/);
    const secret = new URL(enrol.body.otpauth_url).searchParams.get('secret')!;
    const gen = new TOTP({ secret, algorithm: 'SHA1', digits: 6, period: 30 });
    expect((await as(browser, 'POST', '/v1/auth/mfa/confirm', { code: gen.generate() === '000000' ? '111111' : '000000' })).status).toBe(400);
    const confirmed = await as(browser, 'POST', '/v1/auth/mfa/confirm', { code: gen.generate() });
    expect(confirmed.status, confirmed.raw).toBe(200);

    const noCode = await signIn(p.email);
    expect(noCode.status).toBe(401);
    expect(noCode.body.error.details.reason).toBe('totp_required');
    const wrongCode = await signIn(p.email, PASSWORD, gen.generate() === '123456' ? '654321' : '123456');
    expect(wrongCode.status).toBe(401);
    // The confirming code's step is spent; the next step's code (within the drift window) signs in.
    const right = await signIn(p.email, PASSWORD, gen.generate({ timestamp: Date.now() + 30_000 }));
    expect(right.status).toBe(200);
    expect(right.body.user.mfa_enabled).toBe(true);
  });

  test('an organization that requires MFA: a member without it can only set it up', async () => {
    const p = await person('admin');
    const on = await t.call(t.adminKey, 'PATCH', `/v1/organizations/${wsA.organization_id}`, { mfa_required: true });
    expect(on.status, on.raw).toBe(200);
    expect(on.body.mfa_required).toBe(true);
    try {
      const r = await signIn(p.email);
      expect(r.status).toBe(200);
      expect(r.body.user.mfa_required).toBe(true);
      const blocked = await as(r.browser, 'GET', `/v1/workspaces/${wsA.id}`);
      expect(blocked.status).toBe(403);
      expect(blocked.body.error.details.reason).toBe('mfa_required');
      expect((await as(r.browser, 'POST', '/v1/auth/mfa/enroll')).status).toBe(200);
    } finally {
      await t.call(t.adminKey, 'PATCH', `/v1/organizations/${wsA.organization_id}`, { mfa_required: false });
    }
  });
});

test('security headers: API answers are never MIME-sniffed; the docs page gets a CSP without inline script', async () => {
  const api = await t.app.inject({ method: 'GET', url: '/healthz' });
  expect(api.headers['x-content-type-options']).toBe('nosniff');
  const docs = await t.app.inject({ method: 'GET', url: '/docs/' });
  expect(docs.statusCode).toBe(200);
  expect(String(docs.headers['content-security-policy'])).toMatch(/script-src 'self'\s*;/);
  expect(docs.headers['x-content-type-options']).toBe('nosniff');
});

test('no password, session token or CSRF token in the logs', async () => {
  const p = await person('admin');
  const r = await signIn(p.email);
  await as(r.browser, 'GET', '/v1/auth/me');
  const token = r.browser.cookie!.split('=')[1];
  const logs = t.logs.join('\n');
  expect(logs).not.toContain(PASSWORD);
  expect(logs).not.toContain(token);
  expect(logs).not.toContain(r.body.csrf_token);
});
