import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Worker } from '../../src/jobs/worker.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { PERSON_PASSWORD, person } from '../helpers/people.js';
import { startMailWorker, startSmtp, type TestSmtp } from '../helpers/smtp.js';

// Password change with the current password, and reset through a link emailed over real SMTP.
// Each sign-in costs a full scrypt derivation (128 MiB): on a busy 2-CPU machine a test of several takes a while.
let t: TestApp;
let smtp: TestSmtp;
let worker: Worker;
const NEW_PASSWORD = 'a brand new long password';

beforeAll(async () => {
  smtp = await startSmtp();
  t = await createTestApp({
    GATEHOUSE_SMTP_URL: smtp.url, GATEHOUSE_PUBLIC_URL: 'https://gatehouse.example.test',
    GATEHOUSE_LOGIN_LOCK_AFTER: '3', GATEHOUSE_LOGIN_IP_LIMIT: '1000', GATEHOUSE_LOGIN_ACCOUNT_LIMIT: '1000',
  });
  worker = await startMailWorker(t);
});
afterAll(async () => {
  await worker?.stop();
  await t?.close();
  await smtp?.close();
});

type Browser = { cookie: string; csrf: string };
async function login(email: string, password = PERSON_PASSWORD) {
  const res = await t.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email, password } });
  const body = JSON.parse(res.body);
  return { status: res.statusCode, body, browser: { cookie: String(res.headers['set-cookie']).split(';')[0], csrf: body.csrf_token } as Browser };
}
async function as(b: Browser, method: 'GET' | 'POST', url: string, body?: object) {
  const res = await t.app.inject({ method, url, headers: { cookie: b.cookie, 'x-csrf-token': b.csrf }, ...(body ? { payload: body } : {}) });
  return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined, raw: res.body };
}
const post = async (url: string, payload: object) => {
  const res = await t.app.inject({ method: 'POST', url, payload });
  return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined, raw: res.body };
};
const auditOf = async (action: string, userId: string) =>
  ((await t.call(t.adminKey, 'GET', `/v1/audit?action=${action}`)).body.data as Array<{ resource_id?: string; resource?: { id: string } }>).filter((e) => JSON.stringify(e).includes(userId));
const tokenIn = (text: string) => /reset-password\?token=([A-Za-z0-9_-]+)/.exec(text)?.[1];

describe('changing a password', { timeout: 90_000 }, () => {
  test('needs the current password; ends the other sessions, keeps this one, and is audited', async () => {
    const p = await person(t);
    const other = await login(p.email);
    const here = await login(p.email);

    const wrong = await as(here.browser, 'POST', '/v1/auth/password', { current: 'not the password', new: NEW_PASSWORD });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.details.reason).toBe('wrong_credentials');
    // Counted like a failed sign-in.
    expect((await sql<{ failed_logins: number }>`select failed_logins from users where id = ${p.id}`.execute(t.services.database.db)).rows[0]?.failed_logins).toBe(1);

    const short = await as(here.browser, 'POST', '/v1/auth/password', { current: PERSON_PASSWORD, new: 'short' });
    expect(short.status).toBe(400);

    const ok = await as(here.browser, 'POST', '/v1/auth/password', { current: PERSON_PASSWORD, new: NEW_PASSWORD });
    expect(ok.status, ok.raw).toBe(200);
    expect(ok.body).toEqual({ sessions_ended: 1 });
    expect((await as(other.browser, 'GET', '/v1/auth/me')).status).toBe(401);
    expect((await as(here.browser, 'GET', '/v1/auth/me')).status).toBe(200);
    expect((await login(p.email)).status).toBe(401);
    expect((await login(p.email, NEW_PASSWORD)).status).toBe(200);
    expect(await auditOf('auth.password_changed', p.id)).toHaveLength(1);
    expect(t.logs.join('')).not.toContain(NEW_PASSWORD);
  });

  test('a change spends reset links asked for before it: an old link cannot undo it', async () => {
    const p = await person(t);
    expect((await post('/v1/auth/password-reset', { email: p.email })).status).toBe(202);
    const token = tokenIn((await smtp.waitFor((m) => JSON.stringify(m.to).includes(p.email))).text ?? '');
    const here = await login(p.email);
    expect((await as(here.browser, 'POST', '/v1/auth/password', { current: PERSON_PASSWORD, new: NEW_PASSWORD })).status).toBe(200);
    const late = await post('/v1/auth/password-reset/confirm', { token, password: 'whoever read the old email' });
    expect(late.status).toBe(400);
    expect(late.body.error.details.reason).toBe('token_used');
    expect((await login(p.email, NEW_PASSWORD)).status).toBe(200);
  });
});

describe('resetting a password by email', { timeout: 90_000 }, () => {
  test('an emailed single-use link sets the password, ends every session and clears the lock', async () => {
    const p = await person(t);
    const before = await login(p.email);
    // Locked by wrong passwords: the reset is how the person gets back in.
    for (let i = 0; i < 3; i++) await login(p.email, 'wrong password');
    expect((await login(p.email)).status).toBe(429);

    const asked = await post('/v1/auth/password-reset', { email: p.email.toUpperCase() });
    expect(asked.status).toBe(202);
    const mail = await smtp.waitFor((m) => JSON.stringify(m.to).includes(p.email));
    expect(mail.subject).toBe('Reset your Gatehouse password');
    expect(mail.text).toContain('https://gatehouse.example.test/reset-password?token=');
    const token = tokenIn(mail.text ?? '');
    expect(token).toBeTruthy();

    const set = await post('/v1/auth/password-reset/confirm', { token, password: NEW_PASSWORD });
    expect(set.status, set.raw).toBe(204);
    expect((await as(before.browser, 'GET', '/v1/auth/me')).status).toBe(401);
    expect((await login(p.email)).status).toBe(401);
    expect((await login(p.email, NEW_PASSWORD)).status).toBe(200);

    const again = await post('/v1/auth/password-reset/confirm', { token, password: 'yet another long password' });
    expect(again.status).toBe(400);
    expect(again.body.error.details.reason).toBe('token_used');
    expect(await auditOf('auth.password_reset_requested', p.id)).toHaveLength(1);
    expect(await auditOf('auth.password_reset', p.id)).toHaveLength(1);
    // The link is a credential: it is in the email, and nowhere in logs, the outbox or the audit.
    expect(t.logs.join('')).not.toContain(token);
    expect((await t.call(t.adminKey, 'GET', '/v1/mail/outbox')).raw).not.toContain(token);
    expect((await t.call(t.adminKey, 'GET', '/v1/audit')).raw).not.toContain(token);
    const stored = await sql<{ token_hash: string }>`select token_hash from password_resets where user_id = ${p.id}`.execute(t.services.database.db);
    expect(stored.rows.map((r) => r.token_hash)).not.toContain(token);
  });

  test('an unknown address gets the very same answer, and no email is written', async () => {
    const known = await person(t);
    const unknown = `nobody-${Math.random().toString(36).slice(2, 8)}@example.com`;
    const a = await post('/v1/auth/password-reset', { email: unknown });
    const b = await post('/v1/auth/password-reset', { email: known.email });
    expect(a.status).toBe(202);
    expect(a.raw).toBe(b.raw);
    // The outbox row is written before the 202, so its absence is decided, not awaited.
    const outbox = (await t.call(t.adminKey, 'GET', '/v1/mail/outbox')).body.data as Array<{ to: string }>;
    expect(outbox.some((m) => m.to === unknown)).toBe(false);
    expect(outbox.some((m) => m.to === known.email)).toBe(true);
  });

  test('an expired or made-up token is refused with its reason', async () => {
    const p = await person(t);
    await post('/v1/auth/password-reset', { email: p.email });
    const token = tokenIn((await smtp.waitFor((m) => JSON.stringify(m.to).includes(p.email))).text ?? '');
    await sql`update password_resets set expires_at = now() - interval '1 second' where user_id = ${p.id}`.execute(t.services.database.db);
    const expired = await post('/v1/auth/password-reset/confirm', { token, password: NEW_PASSWORD });
    expect(expired.status).toBe(400);
    expect(expired.body.error.details.reason).toBe('token_expired');
    const unknown = await post('/v1/auth/password-reset/confirm', { token: 'made-up-token', password: NEW_PASSWORD });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.details.reason).toBe('token_unknown');
    expect((await login(p.email)).status).toBe(200);
  });

  test('reset requests share the sign-in limits', async () => {
    const limited = await createTestApp({ GATEHOUSE_LOGIN_IP_LIMIT: '2' });
    try {
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await limited.app.inject({ method: 'POST', url: '/v1/auth/password-reset', payload: { email: `x${i}@example.com` } })).statusCode);
      expect(statuses).toEqual([202, 202, 429]);
    } finally {
      await limited.close();
    }
  });
});

describe('resetting without an SMTP server', { timeout: 90_000 }, () => {
  test('answers the same, emails nothing, and says so in the logs and the metric (without the address)', async () => {
    const bare = await createTestApp();
    try {
      const p = await person(bare);
      const res = await bare.app.inject({ method: 'POST', url: '/v1/auth/password-reset', payload: { email: p.email } });
      expect(res.statusCode).toBe(202);
      const metric = await bare.services.metrics.registry.getSingleMetric('gatehouse_password_reset_requests_total')?.get();
      expect(metric?.values.find((v) => v.labels.outcome === 'no_smtp')?.value).toBe(1);
      const logs = bare.logs.join('');
      expect(logs).toContain('no SMTP server is configured');
      expect(logs).not.toContain(p.email);
      expect((await sql<{ n: number }>`select count(*)::int as n from password_resets`.execute(bare.services.database.db)).rows[0]?.n).toBe(0);
    } finally {
      await bare.close();
    }
  });
});
