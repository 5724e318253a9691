import { randomBytes, scryptSync } from 'node:crypto';
import { sql } from 'kysely';
import { TOTP } from 'otpauth';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { hashPassword, SCRYPT_PARAMS, verifyPassword } from '../../src/lib/password.js';
import { createTestApp, type TestApp } from '../helpers/app.js';

// Sign-in against guessing and lock-out: limits before hashing, one-statement failure counting,
// locks that attempts cannot extend, one derivation whoever the email names, one use per TOTP step,
// a step-up to replace the authenticator, sessions a person can see and end.
const PASSWORD = 'correct horse battery staple';
let t: TestApp;

beforeAll(async () => {
  t = await createTestApp({ GATEHOUSE_LOGIN_LOCK_AFTER: '20', GATEHOUSE_LOGIN_LOCK_S: '60', GATEHOUSE_LOGIN_IP_LIMIT: '1000', GATEHOUSE_LOGIN_ACCOUNT_LIMIT: '1000' });
});
afterAll(async () => t?.close());

const db = () => t.db.database.db;
let n = 0;
const nextIp = () => `10.9.${Math.floor(++n / 250)}.${(n % 250) + 1}`;

async function person(app = t) {
  const email = `p-${randomBytes(4).toString('hex')}@example.com`;
  const u = await app.call(app.adminKey, 'POST', '/v1/users', { email, name: 'Pat', password: PASSWORD });
  expect(u.status, u.raw).toBe(201);
  return { id: u.body.id as string, email };
}

async function signIn(email: string, password = PASSWORD, opts: { totp?: string; ip?: string; app?: TestApp } = {}) {
  const res = await (opts.app ?? t).app.inject({
    method: 'POST', url: '/v1/auth/login', remoteAddress: opts.ip ?? nextIp(), payload: { email, password, ...(opts.totp ? { totp: opts.totp } : {}) },
  });
  const setCookie = res.headers['set-cookie'];
  const cookie = (typeof setCookie === 'string' ? setCookie : setCookie?.[0])?.split(';')[0] ?? null;
  const body = JSON.parse(res.body);
  return { status: res.statusCode, body, headers: res.headers, browser: { cookie, csrf: body.csrf_token as string | undefined } };
}

type Browser = { cookie: string | null; csrf?: string };
async function as(b: Browser, method: 'GET' | 'POST' | 'DELETE', url: string, body?: object, app = t) {
  const headers: Record<string, string> = { cookie: b.cookie ?? '' };
  if (b.csrf) headers['x-csrf-token'] = b.csrf;
  const res = await app.app.inject({ method, url, headers, ...(body ? { payload: body } : {}) });
  return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined, raw: res.body };
}

const derivations = async (app = t) => (await app.services.metrics.registry.getSingleMetric('gatehouse_password_derivations_total')!.get()).values[0]?.value ?? 0;
const userRow = async (id: string) => (await sql<{ failed_logins: number; locked_until: Date | null; password_hash: string }>`select failed_logins, locked_until, password_hash from users where id = ${id}`.execute(db())).rows[0]!;

/** A person with a confirmed authenticator; returns its generator and a signed-in browser. */
async function withMfa() {
  const p = await person();
  const { browser } = await signIn(p.email);
  const enrol = await as(browser, 'POST', '/v1/auth/mfa/enroll');
  expect(enrol.status, enrol.raw).toBe(200);
  const gen = new TOTP({ secret: new URL(enrol.body.otpauth_url).searchParams.get('secret')!, algorithm: 'SHA1', digits: 6, period: 30 });
  expect((await as(browser, 'POST', '/v1/auth/mfa/confirm', { code: gen.generate() })).status).toBe(200);
  return { ...p, gen, browser };
}
const nextCode = (gen: TOTP) => gen.generate({ timestamp: Date.now() + 30_000 });

describe('failed sign-ins and locks', () => {
  test('ten wrong passwords at once are all counted (one statement, not read-modify-write)', async () => {
    const p = await person();
    const results = await Promise.all(Array.from({ length: 10 }, () => signIn(p.email, 'wrong password')));
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(401));
    expect((await userRow(p.id)).failed_logins).toBe(10);
  });

  test('attempts during a lock neither count nor extend it, whatever the password', async () => {
    const p = await person();
    await sql`update users set failed_logins = 19 where id = ${p.id}`.execute(db());
    const locking = await signIn(p.email, 'wrong password');
    expect(locking.status).toBe(401);
    const locked = await userRow(p.id);
    expect(locked.failed_logins).toBe(20);
    expect(locked.locked_until).not.toBeNull();
    for (const password of ['wrong password', 'another wrong one', PASSWORD]) {
      const r = await signIn(p.email, password);
      expect(r.status).toBe(429);
      expect(r.body.error.details.reason).toBe('locked');
      expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
    }
    const after = await userRow(p.id);
    expect(after.failed_logins).toBe(20);
    expect(after.locked_until!.getTime()).toBe(locked.locked_until!.getTime());
  });

  test('an unknown email and a locked account each cost one password derivation, like a known one', async () => {
    const p = await person();
    const before = await derivations();
    expect((await signIn(p.email, 'wrong password')).status).toBe(401);
    expect(await derivations()).toBe(before + 1);
    expect((await signIn(`nobody-${randomBytes(4).toString('hex')}@example.com`, 'whatever')).status).toBe(401);
    expect(await derivations()).toBe(before + 2);
    await sql`update users set locked_until = now() + interval '1 hour' where id = ${p.id}`.execute(db());
    expect((await signIn(p.email, PASSWORD)).status).toBe(429);
    expect(await derivations()).toBe(before + 3);
  });
});

describe('limits before hashing', () => {
  let small: TestApp;
  beforeAll(async () => {
    small = await createTestApp({ GATEHOUSE_LOGIN_IP_LIMIT: '3', GATEHOUSE_LOGIN_ACCOUNT_LIMIT: '4' });
  });
  afterAll(async () => small?.close());

  test('one address past its allowance gets 429 with Retry-After, and no password is hashed for it', async () => {
    const ip = '10.77.0.1';
    for (let i = 0; i < 3; i++) expect((await signIn(`x${i}@example.com`, 'guess', { ip, app: small })).status).toBe(401);
    const before = await derivations(small);
    const refused = await signIn('x9@example.com', 'guess', { ip, app: small });
    expect(refused.status).toBe(429);
    expect(refused.body.error).toMatchObject({ code: 'rate_limited', details: { reason: 'address_attempts' } });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(await derivations(small)).toBe(before);
    // Another address is not held back by it.
    expect((await signIn('x9@example.com', 'guess', { ip: '10.77.0.2', app: small })).status).toBe(401);
  });

  test('one account guessed from many addresses gets 429 past its allowance, before hashing', async () => {
    const p = await person(small);
    for (let i = 0; i < 4; i++) expect((await signIn(p.email, 'guess', { ip: `10.78.0.${i + 1}`, app: small })).status).toBe(401);
    const before = await derivations(small);
    const refused = await signIn(p.email, PASSWORD, { ip: '10.78.0.9', app: small });
    expect(refused.status).toBe(429);
    expect(refused.body.error.details.reason).toBe('account_attempts');
    expect(await derivations(small)).toBe(before);
  });
});

describe('password hashes', () => {
  test("new hashes use OWASP's scrypt parameters (N=2^17, r=8, p=1), stored in the hash", async () => {
    expect(SCRYPT_PARAMS).toEqual({ N: 131072, r: 8, p: 1 });
    const stored = await hashPassword('pw');
    expect(stored).toMatch(/^scrypt\$131072\$8\$1\$/);
    expect(await verifyPassword('pw', stored)).toBe(true);
    expect(await verifyPassword('pw2', stored)).toBe(false);
  });

  test('a hash with older parameters still signs in, and is replaced by a current one', async () => {
    const p = await person();
    const salt = randomBytes(16);
    const key = scryptSync(PASSWORD, salt, 32, { N: 2 ** 14, r: 8, p: 1 });
    const old = ['scrypt', 2 ** 14, 8, 1, salt.toString('base64'), key.toString('base64')].join('$');
    await sql`update users set password_hash = ${old} where id = ${p.id}`.execute(db());
    expect((await signIn(p.email)).status).toBe(200);
    const now = (await userRow(p.id)).password_hash;
    expect(now).toMatch(/^scrypt\$131072\$8\$1\$/);
    expect((await signIn(p.email)).status).toBe(200);
  });
});

describe('TOTP', () => {
  test('a code signs in once: the same code again is refused', async () => {
    const { email, gen } = await withMfa();
    const code = nextCode(gen);
    expect((await signIn(email, PASSWORD, { totp: code })).status).toBe(200);
    const again = await signIn(email, PASSWORD, { totp: code });
    expect(again.status).toBe(401);
    expect(again.body.error.details.reason).toBe('totp_reused');
  });

  test('two sign-ins with one code at the same moment: exactly one passes', async () => {
    const { email, gen } = await withMfa();
    const code = nextCode(gen);
    const both = await Promise.all([signIn(email, PASSWORD, { totp: code }), signIn(email, PASSWORD, { totp: code })]);
    expect(both.map((r) => r.status).sort()).toEqual([200, 401]);
  });

  test('replacing a confirmed authenticator needs the password and a current code; a session alone is refused', async () => {
    const { gen, browser, id } = await withMfa();
    const bare = await as(browser, 'POST', '/v1/auth/mfa/enroll');
    expect(bare.status).toBe(403);
    expect(bare.body.error.details.reason).toBe('reauthentication_required');
    expect((await as(browser, 'POST', '/v1/auth/mfa/enroll', { password: PASSWORD })).status).toBe(403);
    const wrongPassword = await as(browser, 'POST', '/v1/auth/mfa/enroll', { password: 'not it', code: nextCode(gen) });
    expect(wrongPassword.status).toBe(401);
    const wrongCode = await as(browser, 'POST', '/v1/auth/mfa/enroll', { password: PASSWORD, code: nextCode(gen) === '000000' ? '111111' : '000000' });
    expect(wrongCode.status).toBe(401);
    expect((await userRow(id)).failed_logins).toBe(2);
    const pending = await sql<{ n: number }>`select count(*)::int as n from user_secrets where user_id = ${id} and purpose = 'totp_pending'`.execute(db());
    expect(pending.rows[0]!.n).toBe(0);
    const ok = await as(browser, 'POST', '/v1/auth/mfa/enroll', { password: PASSWORD, code: nextCode(gen) });
    expect(ok.status, ok.raw).toBe(200);
  });

  test('a TOTP secret is stored with no mask', async () => {
    const { id } = await withMfa();
    const rows = await sql<{ mask: string | null }>`select mask from user_secrets where user_id = ${id}`.execute(db());
    expect(rows.rows).toEqual([{ mask: null }]);
  });
});

describe('my sessions', () => {
  test('a person lists their open sessions by public id and ends one; the token and its hash never show', async () => {
    const p = await person();
    const laptop = (await signIn(p.email)).browser;
    const phone = (await signIn(p.email)).browser;
    const list = await as(laptop, 'GET', '/v1/auth/sessions');
    expect(list.status, list.raw).toBe(200);
    expect(list.body.data).toHaveLength(2);
    expect(list.body.data.filter((s: { current: boolean }) => s.current)).toHaveLength(1);
    const hashes = await sql<{ id_hash: string }>`select id_hash from sessions where user_id = ${p.id}`.execute(db());
    for (const secret of [laptop.cookie!.split('=')[1], phone.cookie!.split('=')[1], laptop.csrf!, phone.csrf!, ...hashes.rows.map((r) => r.id_hash)]) {
      expect(list.raw).not.toContain(secret);
    }
    const other = list.body.data.find((s: { current: boolean }) => !s.current);
    expect((await as(laptop, 'DELETE', `/v1/auth/sessions/${other.id}`)).status).toBe(204);
    expect((await as(phone, 'GET', '/v1/auth/me')).status).toBe(401);
    expect((await as(laptop, 'GET', '/v1/auth/me')).status).toBe(200);
    expect((await as(laptop, 'GET', '/v1/auth/sessions')).body.data).toHaveLength(1);
  });

  test("another person's session is not found, and stays open", async () => {
    const a = (await signIn((await person()).email)).browser;
    const b = (await signIn((await person()).email)).browser;
    const theirs = (await as(b, 'GET', '/v1/auth/sessions')).body.data[0].id;
    expect((await as(a, 'DELETE', `/v1/auth/sessions/${theirs}`)).status).toBe(404);
    expect((await as(b, 'GET', '/v1/auth/me')).status).toBe(200);
  });
});
