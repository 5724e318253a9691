import { sql } from 'kysely';
import { TOTP } from 'otpauth';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { PERSON_PASSWORD, person } from '../helpers/people.js';

// Recovery codes: shown once when MFA is confirmed, each signs in once instead of a TOTP code.
let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ GATEHOUSE_LOGIN_IP_LIMIT: '1000', GATEHOUSE_LOGIN_ACCOUNT_LIMIT: '1000' });
});
afterAll(async () => t?.close());

type Browser = { cookie: string; csrf: string };
async function login(payload: object) {
  const res = await t.app.inject({ method: 'POST', url: '/v1/auth/login', payload });
  const body = JSON.parse(res.body);
  return { status: res.statusCode, body, browser: { cookie: String(res.headers['set-cookie']).split(';')[0], csrf: body.csrf_token } as Browser };
}
async function as(b: Browser, url: string, body?: object) {
  const res = await t.app.inject({ method: 'POST', url, headers: { cookie: b.cookie, 'x-csrf-token': b.csrf }, ...(body ? { payload: body } : {}) });
  return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined, raw: res.body };
}
const nextCode = (gen: TOTP) => gen.generate({ timestamp: Date.now() + 30_000 });

async function withMfa() {
  const p = await person(t);
  const { browser } = await login({ email: p.email, password: PERSON_PASSWORD });
  const enrol = await as(browser, '/v1/auth/mfa/enroll');
  const gen = new TOTP({ secret: new URL(enrol.body.otpauth_url).searchParams.get('secret') ?? '', algorithm: 'SHA1', digits: 6, period: 30 });
  const confirm = await as(browser, '/v1/auth/mfa/confirm', { code: gen.generate() });
  expect(confirm.status, confirm.raw).toBe(200);
  return { ...p, gen, browser, codes: confirm.body.recovery_codes as string[] };
}

describe('recovery codes', { timeout: 90_000 }, () => {
  test('confirming MFA shows ten codes once; only their digests are stored', async () => {
    const p = await withMfa();
    expect(p.codes).toHaveLength(10);
    expect(new Set(p.codes).size).toBe(10);
    for (const c of p.codes) expect(c).toMatch(/^[0-9a-z]{5}-[0-9a-z]{5}$/);
    const stored = await sql<{ code_hash: string }>`select code_hash from recovery_codes where user_id = ${p.id}`.execute(t.services.database.db);
    expect(stored.rows).toHaveLength(10);
    expect(JSON.stringify(stored.rows)).not.toContain(p.codes[0].replace('-', ''));
    expect((await t.call(t.adminKey, 'GET', '/v1/audit')).raw).not.toContain(p.codes[0]);
  });

  test('a code signs in once instead of a TOTP code, tells how many remain, and is audited', async () => {
    const p = await withMfa();
    const first = await login({ email: p.email, password: PERSON_PASSWORD, recovery_code: p.codes[0] });
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body.recovery_codes_remaining).toBe(9);
    const reused = await login({ email: p.email, password: PERSON_PASSWORD, recovery_code: p.codes[0] });
    expect(reused.status).toBe(401);
    expect(reused.body.error.details.reason).toBe('wrong_recovery_code');
    // Typed as people type: upper case, without the dash.
    const typed = await login({ email: p.email, password: PERSON_PASSWORD, recovery_code: p.codes[1].replace('-', '').toUpperCase() });
    expect(typed.status).toBe(200);
    expect(typed.body.recovery_codes_remaining).toBe(8);
    // A sign-in with a TOTP code says nothing about recovery codes.
    expect((await login({ email: p.email, password: PERSON_PASSWORD, totp: nextCode(p.gen) })).body.recovery_codes_remaining).toBeUndefined();

    const used = (await t.call(t.adminKey, 'GET', '/v1/audit?action=auth.recovery_code_used')).body.data.filter((e: object) => JSON.stringify(e).includes(p.id));
    expect(used).toHaveLength(2);
    const failed = (await t.call(t.adminKey, 'GET', '/v1/audit?action=auth.login_failed')).body.data.filter((e: object) => JSON.stringify(e).includes(p.id));
    expect(JSON.stringify(failed)).toContain('wrong_recovery_code');
  });

  test('two sign-ins racing with one code: exactly one gets in', async () => {
    const p = await withMfa();
    const both = await Promise.all([0, 1].map(() => login({ email: p.email, password: PERSON_PASSWORD, recovery_code: p.codes[5] })));
    expect(both.map((r) => r.status).sort()).toEqual([200, 401]);
  });

  test('without a code, the refusal names both ways in', async () => {
    const p = await withMfa();
    const res = await login({ email: p.email, password: PERSON_PASSWORD });
    expect(res.status).toBe(401);
    expect(res.body.error.details.reason).toBe('totp_required');
    expect(res.body.error.message).toContain('recovery code');
  });

  test('regenerating needs the password and a current code, and the old codes stop working', async () => {
    const p = await withMfa();
    const noCode = await as(p.browser, '/v1/auth/mfa/recovery-codes', { password: PERSON_PASSWORD, code: '000000' });
    expect(noCode.status).toBe(401);
    const wrongPassword = await as(p.browser, '/v1/auth/mfa/recovery-codes', { password: 'wrong password', code: nextCode(p.gen) });
    expect(wrongPassword.status).toBe(401);
    const res = await as(p.browser, '/v1/auth/mfa/recovery-codes', { password: PERSON_PASSWORD, code: nextCode(p.gen) });
    expect(res.status, res.raw).toBe(200);
    expect(res.body.recovery_codes).toHaveLength(10);
    expect(res.body.recovery_codes).not.toContain(p.codes[0]);
    expect((await login({ email: p.email, password: PERSON_PASSWORD, recovery_code: p.codes[0] })).status).toBe(401);
    expect((await login({ email: p.email, password: PERSON_PASSWORD, recovery_code: res.body.recovery_codes[0] })).body.recovery_codes_remaining).toBe(9);
    const audit = (await t.call(t.adminKey, 'GET', '/v1/audit?action=auth.recovery_codes_generated')).body.data.filter((e: object) => JSON.stringify(e).includes(p.id));
    expect(audit).toHaveLength(1);
  });

  test('a person without MFA has no codes to regenerate', async () => {
    const p = await person(t);
    const { browser } = await login({ email: p.email, password: PERSON_PASSWORD });
    const res = await as(browser, '/v1/auth/mfa/recovery-codes', { password: PERSON_PASSWORD, code: '123456' });
    expect(res.status).toBe(400);
    expect(res.body.error.details.reason).toBe('mfa_not_enabled');
    // Without MFA a recovery code is neither needed nor looked at.
    expect((await login({ email: p.email, password: PERSON_PASSWORD, recovery_code: 'abcde-fghjk' })).status).toBe(200);
  });
});
