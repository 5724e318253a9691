import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { generateKey } from '../../src/modules/apikeys/format.js';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';

// The `ip` in a verification's body once counted from anyone, so an IP allow-list was one field
// away from meaningless. It counts now only from a verifier (a Bearer key holding keys:verify);
// otherwise the caller's own address is judged, and X-Forwarded-For only from a trusted proxy.
// Both doors are checked: the fast path on a real socket, and the Fastify route through inject.
const ALLOWED = '203.0.113.9';

interface Setup { t: TestApp; base: string; key: string; verifier: string; plain: string; workspaceId: string }

async function setup(env: Record<string, string> = {}): Promise<Setup> {
  const t = await createTestApp(env);
  const ws = await seedWorkspace(t, ['*']);
  const make = async (scopes: string[], extra: object = {}) => {
    const res = await t.call(t.adminKey, 'POST', `/v1/workspaces/${ws.workspace.id}/api-keys`, { name: 'k', scopes, ...extra });
    if (res.status !== 201) throw new Error(res.raw);
    return res.body as { id: string; key: string };
  };
  const key = (await make(['workspaces:read'], { ip_allowlist: ['203.0.113.0/24'] })).key;
  const verifier = (await make(['keys:verify'])).key;
  const plain = (await make(['keys:read', 'keys:write'])).key;
  const base = await t.app.listen({ port: 0, host: '127.0.0.1' });
  return { t, base, key, verifier, plain, workspaceId: ws.workspace.id };
}

/** The code both doors give for one body and headers; they must agree. */
async function codeOf(s: Setup, body: object, headers: Record<string, string> = {}) {
  const all = { 'content-type': 'application/json', ...headers };
  const fast = await request(`${s.base}/v1/keys/verify`, { method: 'POST', headers: all, body: JSON.stringify(body) });
  const fastBody = (await fast.body.json()) as { code: string };
  const slow = await s.t.app.inject({ method: 'POST', url: '/v1/keys/verify', headers: all, payload: body });
  expect(slow.json().code, 'the Fastify route agrees with the fast path').toBe(fastBody.code);
  return fastBody.code;
}

describe('no trusted proxy (the default)', () => {
  let s: Setup;
  beforeAll(async () => {
    s = await setup();
  });
  afterAll(() => s?.t.close());

  test('an ip in the body from an anonymous caller is ignored: the caller is judged from its own address', async () => {
    expect(await codeOf(s, { key: s.key, ip: ALLOWED })).toBe('ip_not_allowed');
  });

  test('a verifier key makes the ip count; a key without keys:verify, a bad or a revoked one, does not', async () => {
    expect(await codeOf(s, { key: s.key, ip: ALLOWED }, { authorization: `Bearer ${s.verifier}` })).toBe('valid');
    expect(await codeOf(s, { key: s.key, ip: '198.51.100.1' }, { authorization: `Bearer ${s.verifier}` })).toBe('ip_not_allowed');
    expect(await codeOf(s, { key: s.key, ip: ALLOWED }, { authorization: `Bearer ${s.plain}` })).toBe('ip_not_allowed');
    expect(await codeOf(s, { key: s.key, ip: ALLOWED }, { authorization: `Bearer ${generateKey()}` })).toBe('ip_not_allowed');
    expect(await codeOf(s, { key: s.key, ip: ALLOWED }, { authorization: 'Basic abc' })).toBe('ip_not_allowed');
    const keyId = (await codeOfId(s, s.verifier));
    await s.t.call(s.t.adminKey, 'DELETE', `/v1/api-keys/${keyId}`);
    expect(await codeOf(s, { key: s.key, ip: ALLOWED }, { authorization: `Bearer ${s.verifier}` })).toBe('ip_not_allowed');
  });

  test('X-Forwarded-For from an untrusted peer is ignored, on the verify route and on every other', async () => {
    expect(await codeOf(s, { key: s.key }, { 'x-forwarded-for': ALLOWED })).toBe('ip_not_allowed');
    const res = await request(`${s.base}/v1/workspaces/${s.workspaceId}`, { headers: { authorization: `Bearer ${s.key}`, 'x-forwarded-for': ALLOWED } });
    await res.body.dump();
    expect(res.statusCode).toBe(403);
  });

  test("a verifier vouches only for its own workspace's keys: another workspace's verifier cannot lift an allow-list, or spend the key's uses from elsewhere", async () => {
    const other = await seedWorkspace(s.t, ['keys:verify']);
    const counted = await s.t.call(s.t.adminKey, 'POST', `/v1/workspaces/${s.workspaceId}/api-keys`, { name: 'k', scopes: ['workspaces:read'], ip_allowlist: ['203.0.113.0/24'], remaining: 1 });
    expect(counted.status, counted.raw).toBe(201);
    for (const key of [s.key, counted.body.key]) {
      expect(await codeOf(s, { key, ip: ALLOWED }, { authorization: `Bearer ${other.key}` })).toBe('ip_not_allowed');
    }
    // Its one use is still there for its own workspace's verifier; the platform admin vouches for any workspace.
    expect(await codeOf(s, { key: s.key, ip: ALLOWED }, { authorization: `Bearer ${s.t.adminKey}` })).toBe('valid');
    const verifier = await s.t.call(s.t.adminKey, 'POST', `/v1/workspaces/${s.workspaceId}/api-keys`, { name: 'v', scopes: ['keys:verify'] });
    const own = await request(`${s.base}/v1/keys/verify`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${verifier.body.key}` }, body: JSON.stringify({ key: counted.body.key, ip: ALLOWED }) });
    expect(((await own.body.json()) as { code: string }).code).toBe('valid');
  });

  test('keys:verify is a known scope a key can hold and grant', async () => {
    const res = await s.t.call(s.t.adminKey, 'POST', `/v1/workspaces/${s.workspaceId}/api-keys`, { name: 'v', scopes: ['keys:verify'] });
    expect(res.status, res.raw).toBe(201);
    expect(res.body.scopes).toEqual(['keys:verify']);
  });
});

async function codeOfId(s: Setup, key: string) {
  return (await s.t.call(null, 'POST', '/v1/keys/verify', { key })).body.key_id as string;
}

describe('GATEHOUSE_TRUSTED_PROXIES', () => {
  test('X-Forwarded-For is believed from a peer inside the list, at both doors and for route auth', async () => {
    const s = await setup({ GATEHOUSE_TRUSTED_PROXIES: '10.0.0.0/8, 127.0.0.1/32' });
    try {
      expect(await codeOf(s, { key: s.key }, { 'x-forwarded-for': ALLOWED })).toBe('valid');
      // The client is the last address the trusted proxies did not add: a spoofed first entry does not count.
      expect(await codeOf(s, { key: s.key }, { 'x-forwarded-for': `${ALLOWED}, 198.51.100.1` })).toBe('ip_not_allowed');
      const res = await request(`${s.base}/v1/workspaces/${s.workspaceId}`, { headers: { authorization: `Bearer ${s.key}`, 'x-forwarded-for': ALLOWED } });
      await res.body.dump();
      expect(res.statusCode).toBe(200);
    } finally {
      await s.t.close();
    }
  });

  test('from a peer outside the list it is ignored', async () => {
    const s = await setup({ GATEHOUSE_TRUSTED_PROXIES: '10.0.0.0/8' });
    try {
      expect(await codeOf(s, { key: s.key }, { 'x-forwarded-for': ALLOWED })).toBe('ip_not_allowed');
    } finally {
      await s.t.close();
    }
  });

  test('configuration: a list is parsed and checked; the older GATEHOUSE_TRUST_PROXY=true still trusts every peer', () => {
    expect(loadConfig({ GATEHOUSE_TRUSTED_PROXIES: '10.0.0.0/8, loopback' }).trustedProxies).toEqual(['10.0.0.0/8', 'loopback']);
    expect(loadConfig({ GATEHOUSE_TRUST_PROXY: 'true' }).trustedProxies).toBe('all');
    expect(loadConfig({ GATEHOUSE_TRUST_PROXY: 'true', GATEHOUSE_TRUSTED_PROXIES: '10.0.0.1' }).trustedProxies).toEqual(['10.0.0.1']);
    expect(loadConfig({}).trustedProxies).toEqual([]);
    expect(() => loadConfig({ GATEHOUSE_TRUSTED_PROXIES: '10.0.0.0/8,not-an-address' })).toThrow(/GATEHOUSE_TRUSTED_PROXIES/);
  });
});
