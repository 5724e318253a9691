import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { generateKey, isWellFormedKey } from '../../src/modules/apikeys/format.js';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';

let t: TestApp;
let ws: Awaited<ReturnType<typeof seedWorkspace>>;
beforeAll(async () => {
  t = await createTestApp();
  ws = await seedWorkspace(t);
});
afterAll(() => t.close());

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** Issues a key in the seeded workspace (as the platform admin unless `as` is given); expects 201. */
async function createKey(body: Record<string, unknown> = {}, as = t.adminKey) {
  const res = await t.call(as, 'POST', `/v1/workspaces/${ws.workspace.id}/api-keys`, { name: 'test key', scopes: ['*'], ...body });
  expect(res.status, res.raw).toBe(201);
  return res.body as { id: string; key: string; status: string; [k: string]: unknown };
}

const verify = async (key: string, scope?: string) => (await t.call(null, 'POST', '/v1/keys/verify', { key, ...(scope ? { scope } : {}) })).body;
/** An authenticated request that every '*' key of the workspace may make. */
const useKey = (key: string) => t.call(key, 'GET', `/v1/workspaces/${ws.workspace.id}`);
const getKey = async (id: string) => (await t.call(t.adminKey, 'GET', `/v1/api-keys/${id}`)).body;

/** app.inject from a chosen client address (the helper's `call` always comes from 127.0.0.1). */
async function callFrom(ip: string, key: string, method: 'GET' | 'POST', url: string, payload?: object) {
  const res = await t.app.inject({ method, url, remoteAddress: ip, headers: { authorization: `Bearer ${key}` }, ...(payload ? { payload } : {}) });
  return { status: res.statusCode, body: res.json() };
}

async function auditFor(action: string, resourceId: string) {
  const res = await t.call(t.adminKey, 'GET', `/v1/audit?action=${encodeURIComponent(action)}&limit=1000`);
  expect(res.status, res.raw).toBe(200);
  return (res.body.data as any[]).filter((e) => e.resource?.id === resourceId);
}

describe('create, get, list', () => {
  test('creating a key answers 201 with the key once; GET and list never show it or its hash', async () => {
    const res = await t.call(t.adminKey, 'POST', `/v1/workspaces/${ws.workspace.id}/api-keys`, { name: 'ci', scopes: ['keys:read'] });
    expect(res.status).toBe(201);
    expect(res.headers['cache-control']).toBe('no-store');
    const created = res.body;
    expect(created.id).toMatch(/^key_/);
    expect(created.key).toMatch(/^gate_live_[0-9A-Za-z]{49}$/);
    expect(isWellFormedKey(created.key)).toBe(true);
    expect(created).toMatchObject({ workspace_id: ws.workspace.id, name: 'ci', scopes: ['keys:read'], status: 'active', environment: 'live', platform_admin: false, start: created.key.slice(0, 14) });
    expect(created).not.toHaveProperty('key_hash');

    const one = await t.call(t.adminKey, 'GET', `/v1/api-keys/${created.id}`);
    expect(one.status).toBe(200);
    const { key, ...view } = created;
    expect(one.body).toEqual(view);
    const list = await t.call(t.adminKey, 'GET', `/v1/workspaces/${ws.workspace.id}/api-keys`);
    expect(list.status).toBe(200);
    expect(list.body.data.map((k: any) => k.id)).toContain(created.id);
    for (const r of [one, list]) {
      expect(r.raw).not.toContain(key);
      expect(r.raw).not.toContain(sha256(key));
      expect(r.raw).not.toMatch(/"key"|key_hash/);
    }
    // The key works, and only as far as its scopes go.
    expect((await t.call(key, 'GET', `/v1/api-keys/${created.id}`)).status).toBe(200);
  });

  test('a test-environment key has the gate_test_ prefix', async () => {
    const created = await createKey({ environment: 'test' });
    expect(created.key.startsWith('gate_test_')).toBe(true);
    expect(created.environment).toBe('test');
    expect((await useKey(created.key)).status).toBe(200);
  });

  test('the list holds every key of the workspace and no other', async () => {
    const other = await seedWorkspace(t);
    const a = await createKey({ name: 'list-a' });
    const b = await createKey({ name: 'list-b' });
    const ids = (await t.call(t.adminKey, 'GET', `/v1/workspaces/${ws.workspace.id}/api-keys`)).body.data.map((k: any) => k.id);
    expect(ids).toEqual(expect.arrayContaining([a.id, b.id, ws.keyId]));
    expect(ids).not.toContain(other.keyId);
    const rows = await t.services.database.db.selectFrom('api_keys').select('id').where('workspace_id', '=', ws.workspace.id).execute();
    expect(ids.sort()).toEqual(rows.map((r) => r.id).sort());
  });
});

describe('scopes', () => {
  test('a key without keys:write gets 403 forbidden on POST api-keys, and may still read', async () => {
    const reader = await createKey({ scopes: ['keys:read'] });
    const res = await t.call(reader.key, 'POST', `/v1/workspaces/${ws.workspace.id}/api-keys`, { name: 'x', scopes: ['keys:read'] });
    expect(res.status).toBe(403);
    expect(res.body.error).toMatchObject({ code: 'forbidden', details: { reason: 'insufficient_scope', required_scope: 'keys:write' } });
    expect((await t.call(reader.key, 'GET', `/v1/workspaces/${ws.workspace.id}/api-keys`)).status).toBe(200);
    expect((await t.call(reader.key, 'DELETE', `/v1/api-keys/${reader.id}`)).status).toBe(403);
    expect((await t.call(reader.key, 'POST', `/v1/api-keys/${reader.id}/rotate`)).status).toBe(403);
    expect((await useKey(reader.key)).status).toBe(403); // workspaces:read is not held either
    expect((await getKey(reader.id)).status).toBe('active');
  });

  test('keys:* grants every keys action', async () => {
    const family = await createKey({ scopes: ['keys:*'] });
    const made = await t.call(family.key, 'POST', `/v1/workspaces/${ws.workspace.id}/api-keys`, { name: 'child', scopes: ['keys:read'] });
    expect(made.status, made.raw).toBe(201);
    expect((await t.call(family.key, 'GET', `/v1/api-keys/${made.body.id}`)).status).toBe(200);
  });

  test('a key cannot grant scopes it lacks', async () => {
    const narrow = await createKey({ scopes: ['keys:read', 'keys:write'] });
    for (const scopes of [['*'], ['credentials:read'], ['keys:*'], ['keys:read', 'audit:read']]) {
      const res = await t.call(narrow.key, 'POST', `/v1/workspaces/${ws.workspace.id}/api-keys`, { name: 'wider', scopes });
      expect(res.status, JSON.stringify(scopes)).toBe(403);
      expect(res.body.error.code).toBe('forbidden');
    }
    const ok = await t.call(narrow.key, 'POST', `/v1/workspaces/${ws.workspace.id}/api-keys`, { name: 'same', scopes: ['keys:read'] });
    expect(ok.status, ok.raw).toBe(201);
    expect(ok.body.scopes).toEqual(['keys:read']);
  });

  test('unknown scopes, bad allow-list entries and a past expiry are 400 validation_failed', async () => {
    const url = `/v1/workspaces/${ws.workspace.id}/api-keys`;
    const unknown = await t.call(t.adminKey, 'POST', url, { name: 'x', scopes: ['keys:read', 'rockets:launch'] });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toMatchObject({ code: 'validation_failed', details: { unknown_scopes: ['rockets:launch'] } });
    for (const body of [
      { name: 'x', scopes: ['KEYS:READ'] },
      { name: 'x', scopes: [] },
      { name: 'x', scopes: ['*'], ip_allowlist: ['10.0.0.0/33'] },
      { name: 'x', scopes: ['*'], ip_allowlist: ['not-an-ip'] },
      { name: 'x', scopes: ['*'], expires_at: new Date(Date.now() - 1000).toISOString() },
      { name: 'x', scopes: ['*'], rate_limit: { limit: 0, window_s: 60 } },
    ]) {
      const res = await t.call(t.adminKey, 'POST', url, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe('validation_failed');
    }
  });
});

describe('revoke', () => {
  test('a revoked key gets 401 at once and verify says revoked', async () => {
    const k = await createKey();
    expect((await useKey(k.key)).status).toBe(200); // now cached
    const res = await t.call(t.adminKey, 'DELETE', `/v1/api-keys/${k.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: k.id, status: 'revoked' });
    expect(res.body.revoked_at).not.toBeNull();
    const denied = await useKey(k.key);
    expect(denied.status).toBe(401);
    expect(denied.body.error).toMatchObject({ code: 'unauthenticated', details: { reason: 'revoked' } });
    expect(await verify(k.key)).toEqual({ valid: false, code: 'revoked' });
    expect(await auditFor('key.revoked', k.id)).toHaveLength(1);
    // Revoking again changes nothing and audits nothing more.
    expect((await t.call(t.adminKey, 'DELETE', `/v1/api-keys/${k.id}`)).status).toBe(200);
    expect(await auditFor('key.revoked', k.id)).toHaveLength(1);
  });
});

describe('rotate', () => {
  test('with a grace period the old and the new key both work; rotating twice is 409', async () => {
    const old = await createKey({ name: 'rotating', scopes: ['workspaces:read', 'keys:read'] });
    const res = await t.call(t.adminKey, 'POST', `/v1/api-keys/${old.id}/rotate`, { grace_s: 3600 });
    expect(res.status, res.raw).toBe(201);
    const fresh = res.body;
    expect(isWellFormedKey(fresh.key)).toBe(true);
    expect(fresh.key).not.toBe(old.key);
    expect(fresh).toMatchObject({ name: 'rotating', scopes: ['workspaces:read', 'keys:read'], status: 'active' });
    expect(fresh.previous_key.id).toBe(old.id);
    expect(Math.abs(Date.parse(fresh.previous_key.revoke_at) - (Date.now() + 3600_000))).toBeLessThan(60_000);
    expect(await getKey(old.id)).toMatchObject({ status: 'rotating', replaced_by: fresh.id });
    expect((await useKey(old.key)).status).toBe(200);
    expect((await useKey(fresh.key)).status).toBe(200);
    expect((await verify(old.key)).code).toBe('valid');
    expect((await verify(fresh.key)).code).toBe('valid');

    const again = await t.call(t.adminKey, 'POST', `/v1/api-keys/${old.id}/rotate`, { grace_s: 60 });
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({ code: 'conflict', details: { status: 'rotating', replaced_by: fresh.id } });
    expect(await auditFor('key.rotated', old.id)).toHaveLength(1);
  });

  test('without a body the grace is one day', async () => {
    const old = await createKey();
    const res = await t.call(t.adminKey, 'POST', `/v1/api-keys/${old.id}/rotate`);
    expect(res.status, res.raw).toBe(201);
    expect(Math.abs(Date.parse(res.body.previous_key.revoke_at) - (Date.now() + 86_400_000))).toBeLessThan(60_000);
  });

  test('with grace_s 0 the old key is refused at once', async () => {
    const old = await createKey();
    expect((await useKey(old.key)).status).toBe(200);
    const res = await t.call(t.adminKey, 'POST', `/v1/api-keys/${old.id}/rotate`, { grace_s: 0 });
    expect(res.status, res.raw).toBe(201);
    expect((await useKey(old.key)).status).toBe(401);
    expect(await verify(old.key)).toEqual({ valid: false, code: 'revoked' });
    expect((await useKey(res.body.key)).status).toBe(200);
    expect((await getKey(old.id)).status).toBe('revoked');
    expect((await t.call(t.adminKey, 'POST', `/v1/api-keys/${old.id}/rotate`, { grace_s: 0 })).status).toBe(409);
  });

  test('after the grace passes the old key is refused, and the expiry job marks it revoked', async () => {
    const old = await createKey();
    const res = await t.call(t.adminKey, 'POST', `/v1/api-keys/${old.id}/rotate`, { grace_s: 1 });
    expect(res.status, res.raw).toBe(201);
    expect((await useKey(old.key)).status).toBe(200);
    t.clock.advance(Date.parse(res.body.previous_key.revoke_at) - t.clock.now() + 100);
    expect((await useKey(old.key)).status).toBe(401);
    expect(await verify(old.key)).toEqual({ valid: false, code: 'revoked' });
    expect(await t.services.apiKeys.revokeDueKeys()).toBeGreaterThanOrEqual(1);
    const view = await getKey(old.id);
    expect(view.status).toBe('revoked');
    expect(view.revoked_at).toBe(res.body.previous_key.revoke_at);
    const entries = await auditFor('key.revoked', old.id);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ actor: { type: 'system' }, after: { reason: 'rotation_grace_elapsed' } });
    expect((await useKey(res.body.key)).status).toBe(200);
    // A second run finds nothing more to do for this key.
    await t.services.apiKeys.revokeDueKeys();
    expect(await auditFor('key.revoked', old.id)).toHaveLength(1);
  });

  test('grace_s outside 0..30 days is 400', async () => {
    const old = await createKey();
    for (const grace_s of [-1, 30 * 86400 + 1]) {
      expect((await t.call(t.adminKey, 'POST', `/v1/api-keys/${old.id}/rotate`, { grace_s })).status).toBe(400);
    }
    expect((await getKey(old.id)).status).toBe('active');
  });
});

describe('expiry and remaining', () => {
  test('a key stops working when expires_at passes', async () => {
    const expiresAt = new Date(t.clock.now() + 1500);
    const k = await createKey({ expires_at: expiresAt.toISOString() });
    expect((await useKey(k.key)).status).toBe(200);
    t.clock.advance(expiresAt.getTime() - t.clock.now() + 100);
    expect(await verify(k.key)).toEqual({ valid: false, code: 'expired' });
    const denied = await useKey(k.key);
    expect(denied.status).toBe(401);
    expect(denied.body.error.details.reason).toBe('expired');
    expect((await getKey(k.id)).status).toBe('expired');
    await t.services.apiKeys.revokeDueKeys();
    expect(await auditFor('key.expired', k.id)).toHaveLength(1);
    expect((await getKey(k.id)).status).toBe('expired');
    expect(await verify(k.key)).toEqual({ valid: false, code: 'expired' });
  });

  test('a key with remaining N allows exactly N uses, then usage_exceeded', async () => {
    const k = await createKey({ remaining: 3 });
    const codes = [];
    for (let i = 0; i < 5; i++) codes.push((await verify(k.key)).code);
    expect(codes).toEqual(['valid', 'valid', 'valid', 'usage_exceeded', 'usage_exceeded']);
    expect((await getKey(k.id)).remaining).toBe(0);

    const routeKey = await createKey({ remaining: 2 });
    expect((await useKey(routeKey.key)).status).toBe(200);
    expect((await useKey(routeKey.key)).status).toBe(200);
    const spent = await useKey(routeKey.key);
    expect(spent.status).toBe(403);
    expect(spent.body.error.details.reason).toBe('usage_exceeded');
  });

  test('N concurrent verifies of a key with remaining N never allow more than N', async () => {
    const k = await createKey({ remaining: 5 });
    const results = await Promise.all(Array.from({ length: 20 }, () => verify(k.key)));
    const codes = results.map((r) => r.code);
    expect(codes.filter((c) => c === 'valid')).toHaveLength(5);
    expect(codes.filter((c) => c === 'usage_exceeded')).toHaveLength(15);
    expect((await getKey(k.id)).remaining).toBe(0);
  });
});

describe('ip allow-list', () => {
  test('a key works only from addresses in its allow-list (CIDR and single addresses)', async () => {
    const k = await createKey({ ip_allowlist: ['10.1.0.0/16', '192.0.2.7', '2001:db8::/32'] });
    const url = `/v1/workspaces/${ws.workspace.id}`;
    for (const ip of ['10.1.2.3', '10.1.255.254', '192.0.2.7', '::ffff:10.1.0.9', '2001:db8::1']) {
      expect((await callFrom(ip, k.key, 'GET', url)).status, ip).toBe(200);
    }
    for (const ip of ['10.2.0.1', '192.0.2.8', '127.0.0.1', '2001:db9::1']) {
      const res = await callFrom(ip, k.key, 'GET', url);
      expect(res.status, ip).toBe(403);
      expect(res.body.error).toMatchObject({ code: 'forbidden', details: { reason: 'ip_not_allowed' } });
    }
    expect((await callFrom('10.1.0.1', k.key, 'POST', '/v1/keys/verify', { key: k.key })).body.code).toBe('valid');
    expect((await callFrom('10.9.0.1', k.key, 'POST', '/v1/keys/verify', { key: k.key })).body).toEqual({ valid: false, code: 'ip_not_allowed' });
  });
});

describe('rate limit', () => {
  test('limit 3 per 60 s: the 4th request answers 429 rate_limited with Retry-After and ratelimit headers', async () => {
    const k = await createKey({ rate_limit: { limit: 3, window_s: 60 } });
    for (const left of [2, 1, 0]) {
      const ok = await useKey(k.key);
      expect(ok.status).toBe(200);
      expect(ok.headers['ratelimit-limit']).toBe('3');
      expect(ok.headers['ratelimit-remaining']).toBe(String(left));
    }
    const limited = await useKey(k.key);
    expect(limited.status).toBe(429);
    expect(limited.body.error).toMatchObject({ code: 'rate_limited', details: { reason: 'rate_limited' } });
    const retryAfter = Number(limited.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(limited.headers['ratelimit-limit']).toBe('3');
    expect(limited.headers['ratelimit-remaining']).toBe('0');
    expect(Number(limited.headers['ratelimit-reset'])).toBeGreaterThan(0);
    expect(await verify(k.key)).toEqual({ valid: false, code: 'rate_limited' });
  });

  test('verify of a rate-limited key reports the window', async () => {
    const k = await createKey({ rate_limit: { limit: 10, window_s: 60 } });
    const body = await verify(k.key);
    expect(body).toMatchObject({ valid: true, code: 'valid', ratelimit: { limit: 10, remaining: 9 } });
    expect(body.ratelimit.reset).toBeGreaterThan(Date.now());
  });
});

describe('POST /v1/keys/verify', () => {
  test('valid: no Authorization needed; answers the key id, workspace and scopes', async () => {
    const k = await createKey({ scopes: ['keys:read', 'workspaces:read'] });
    const res = await t.call(null, 'POST', '/v1/keys/verify', { key: k.key });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ valid: true, code: 'valid', key_id: k.id, workspace_id: ws.workspace.id, scopes: ['keys:read', 'workspaces:read'] });
    expect((await verify(k.key, 'keys:read')).code).toBe('valid');
    expect(await verify(k.key, 'keys:write')).toEqual({ valid: false, code: 'insufficient_scope' });
  });

  test('not_found for a malformed string, a typo and a well-formed unknown key', async () => {
    const k = await createKey();
    const typo = k.key.slice(0, 20) + (k.key[20] === 'a' ? 'b' : 'a') + k.key.slice(21);
    for (const bad of ['hello', '', 'gate_live_', k.key.slice(0, 58), typo, generateKey(), generateKey('test')]) {
      const res = await t.call(null, 'POST', '/v1/keys/verify', { key: bad });
      expect(res.status).toBe(200);
      expect(res.body, bad).toEqual({ valid: false, code: 'not_found' });
    }
  });

  test('every invalid answer holds only {valid: false, code}', async () => {
    const revoked = await createKey();
    await t.call(t.adminKey, 'DELETE', `/v1/api-keys/${revoked.id}`);
    const spent = await createKey({ remaining: 1 });
    await verify(spent.key);
    const limited = await createKey({ rate_limit: { limit: 1, window_s: 60 } });
    await verify(limited.key);
    const fenced = await createKey({ ip_allowlist: ['203.0.113.0/24'] });
    const narrow = await createKey({ scopes: ['keys:read'] });
    const expiring = await createKey({ expires_at: new Date(t.clock.now() + 1000).toISOString() });
    t.clock.advance(1100);
    const cases: [string, string, string?][] = [
      [generateKey(), 'not_found'],
      [revoked.key, 'revoked'],
      [expiring.key, 'expired'],
      [limited.key, 'rate_limited'],
      [narrow.key, 'insufficient_scope', 'keys:write'],
      [spent.key, 'usage_exceeded'],
      [fenced.key, 'ip_not_allowed'],
    ];
    for (const [key, code, scope] of cases) {
      const res = await t.call(null, 'POST', '/v1/keys/verify', { key, ...(scope ? { scope } : {}) });
      expect(res.status).toBe(200);
      expect(res.body, code).toEqual({ valid: false, code });
    }
  });

  test('a body without a key is 400', async () => {
    const res = await t.call(null, 'POST', '/v1/keys/verify', {});
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
  });
});

describe('usage', () => {
  test('requests are counted in memory and reach the database only in a batched flush', async () => {
    const k = await createKey({ scopes: ['workspaces:read'] });
    const N = 7;
    for (let i = 0; i < N; i++) {
      expect((await callFrom('198.51.100.23', k.key, 'GET', `/v1/workspaces/${ws.workspace.id}`)).status).toBe(200);
    }
    const db = t.services.database.db;
    // No per-request write: nothing in the table, nothing on the key row, until the flush.
    expect(await db.selectFrom('api_key_usage_daily').selectAll().where('key_id', '=', k.id).execute()).toEqual([]);
    const before = await t.call(t.adminKey, 'GET', `/v1/api-keys/${k.id}/usage`);
    expect(before.body).toMatchObject({ key_id: k.id, total_requests: 0, last_used_at: null, last_used_ip: null });

    const flushStart = Date.now();
    const batch = t.services.usage.drain();
    expect(batch.find((e) => e.key_id === k.id)).toMatchObject({ requests: N, last_used_ip: '198.51.100.23' });
    await t.services.apiKeys.applyUsageBatch(batch);
    expect(t.services.usage.size).toBe(0);

    const res = await t.call(t.adminKey, 'GET', `/v1/api-keys/${k.id}/usage`);
    expect(res.status).toBe(200);
    const today = new Date().toISOString().slice(0, 10);
    expect(res.body.days).toHaveLength(30);
    expect(res.body.days.at(-1)).toEqual({ day: today, requests: N });
    expect(res.body.total_requests).toBe(N);
    expect(res.body.last_used_ip).toBe('198.51.100.23');
    expect(Date.parse(res.body.last_used_at)).toBeLessThanOrEqual(flushStart);
    expect(Date.parse(res.body.last_used_at)).toBeGreaterThan(Date.parse(k.created_at as string) - 1000);
    expect((await getKey(k.id)).last_used_ip).toBe('198.51.100.23');

    // A second batch adds to the same day's bucket.
    await useKey(ws.key);
    for (let i = 0; i < 2; i++) await callFrom('198.51.100.24', k.key, 'GET', `/v1/workspaces/${ws.workspace.id}`);
    await t.services.apiKeys.applyUsageBatch(t.services.usage.drain());
    const week = await t.call(t.adminKey, 'GET', `/v1/api-keys/${k.id}/usage?days=7`);
    expect(week.body.days).toHaveLength(7);
    expect(week.body.total_requests).toBe(N + 2);
    expect(week.body.last_used_ip).toBe('198.51.100.24');
  });
});
