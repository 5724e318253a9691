import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { KEYS_CHANNEL } from '../../src/modules/apikeys/store.js';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';

// A key minted by a restricted key once carried none of its limits and outlived its minter's
// revocation. Now each limit is a ceiling (inherited when not asked for), uses are never added,
// and revoking a key revokes everything minted from it, on every process.
let t: TestApp;
let ws: Awaited<ReturnType<typeof seedWorkspace>>;
const inADay = () => new Date(Date.now() + 86400_000).toISOString();
const notified: string[] = [];

beforeAll(async () => {
  t = await createTestApp();
  ws = await seedWorkspace(t, ['*'], 'minted');
  // What every process hears: the cache invalidation of each revoked key.
  await t.services.database.listen(KEYS_CHANNEL, (id) => notified.push(id));
});
afterAll(() => t?.close());

type Limits = { expires_at?: string; ip_allowlist?: string[]; rate_limit?: { limit: number; window_s: number }; remaining?: number };
async function mint(as: string, limits: Limits = {}, scopes = ['keys:read', 'keys:write']) {
  return t.call(as, 'POST', `/v1/workspaces/${ws.workspace.id}/api-keys`, { name: 'minted', scopes, ...limits });
}
async function restricted(limits: Limits) {
  const res = await mint(t.adminKey, limits);
  expect(res.status, res.raw).toBe(201);
  return res.body as { id: string; key: string; expires_at: string };
}
const verify = async (key: string) => (await t.call(null, 'POST', '/v1/keys/verify', { key })).body.code as string;
const viewOf = async (id: string) => (await t.call(t.adminKey, 'GET', `/v1/api-keys/${id}`)).body;

describe('limits are a ceiling', () => {
  const minterLimits = () => ({ expires_at: inADay(), ip_allowlist: ['127.0.0.1', '10.0.0.0/8'], rate_limit: { limit: 100, window_s: 60 }, remaining: 50 });

  test('a key minted without limits inherits every one of its minter, and its minter', async () => {
    const minter = await restricted(minterLimits());
    const res = await mint(minter.key);
    expect(res.status, res.raw).toBe(201);
    expect(res.body).toMatchObject({
      expires_at: minter.expires_at,
      ip_allowlist: ['127.0.0.1', '10.0.0.0/8'],
      rate_limit: { limit: 100, window_s: 60 },
      parent_key_id: minter.id,
      shares_uses_of: minter.id,
    });
  });

  test('an explicit looser value is refused, naming the limit; a narrower one is kept', async () => {
    const minter = await restricted(minterLimits());
    const looser: Limits[] = [
      { expires_at: new Date(Date.now() + 2 * 86400_000).toISOString() },
      { ip_allowlist: ['0.0.0.0/0'] },
      { ip_allowlist: ['10.1.2.3', '192.168.1.1'] },
      { ip_allowlist: ['10.0.0.0/7'] },
      { rate_limit: { limit: 101, window_s: 60 } },
      { rate_limit: { limit: 100, window_s: 30 } },
      { remaining: 1000 },
    ];
    for (const limits of looser) {
      const res = await mint(minter.key, limits);
      expect(res.status, JSON.stringify(limits)).toBe(403);
      expect(res.body.error).toMatchObject({ code: 'forbidden', details: { reason: 'beyond_minter' } });
      expect(Object.keys(res.body.error.details.limits)).toEqual(Object.keys(limits));
    }
    const narrower = { expires_at: new Date(Date.now() + 3600_000).toISOString(), ip_allowlist: ['10.1.0.0/16', '::ffff:10.2.3.4'], rate_limit: { limit: 10, window_s: 120 }, remaining: 5 };
    const res = await mint(minter.key, narrower);
    expect(res.status, res.raw).toBe(201);
    expect(res.body).toMatchObject({ ...narrower, shares_uses_of: null, parent_key_id: minter.id });
  });

  test('uses are never added: a given count moves out of the minter, an inherited one is shared', async () => {
    const minter = await restricted({ remaining: 10 });
    const own = await mint(minter.key, { remaining: 4 }); // the call spends 1, the mint takes 4
    expect(own.status, own.raw).toBe(201);
    expect((await viewOf(minter.id)).remaining).toBe(5);
    const shared = await mint(minter.key); // 1 more
    expect(shared.status, shared.raw).toBe(201);
    expect((await viewOf(minter.id)).remaining).toBe(4);
    const codes = [];
    for (let i = 0; i < 5; i++) codes.push(await verify(shared.body.key));
    expect(codes).toEqual(['valid', 'valid', 'valid', 'valid', 'usage_exceeded']);
    expect(await verify(minter.key)).toBe('usage_exceeded');
    // The moved share is the minted key's own.
    expect(await verify(own.body.key)).toBe('valid');
    expect((await viewOf(own.body.id)).remaining).toBe(3);
  });

  test("a key cannot rotate a looser key to take its successor; a rotation keeps limits, minter and the use count", async () => {
    const narrow = await restricted({ expires_at: inADay() });
    const open = await restricted({});
    const refused = await t.call(narrow.key, 'POST', `/v1/api-keys/${open.id}/rotate`, { grace_s: 0 });
    expect(refused.status, refused.raw).toBe(403);
    expect(refused.body.error.details).toMatchObject({ reason: 'beyond_minter', limits: { expires_at: expect.any(String) } });

    const minter = await restricted({ remaining: 20, ip_allowlist: ['127.0.0.1'] });
    const child = (await mint(minter.key, { remaining: 3 })).body;
    const rotated = await t.call(t.adminKey, 'POST', `/v1/api-keys/${child.id}/rotate`, { grace_s: 60 });
    expect(rotated.status, rotated.raw).toBe(201);
    expect(rotated.body).toMatchObject({ ip_allowlist: ['127.0.0.1'], parent_key_id: minter.id, shares_uses_of: child.id, remaining: null });
    // The old key and its successor spend one count: three uses between them, not six.
    const codes = [await verify(child.key), await verify(rotated.body.key), await verify(child.key), await verify(rotated.body.key)];
    expect(codes).toEqual(['valid', 'valid', 'valid', 'usage_exceeded']);
  });
});

describe('revocation cascades', () => {
  test('revoking a key revokes every key minted from it, audited and announced, and nothing else', async () => {
    const minter = await restricted({});
    const child = (await mint(minter.key)).body;
    const grandchild = (await mint(child.key, {}, ['keys:read'])).body;
    const sibling = (await mint(t.adminKey)).body;
    for (const k of [child, grandchild, sibling]) expect(await verify(k.key)).toBe('valid'); // now cached
    expect((await viewOf(grandchild.id)).parent_key_id).toBe(child.id);

    const res = await t.call(t.adminKey, 'DELETE', `/v1/api-keys/${minter.id}`);
    expect(res.status, res.raw).toBe(200);
    expect(await verify(child.key)).toBe('revoked');
    expect(await verify(grandchild.key)).toBe('revoked');
    expect(await verify(sibling.key)).toBe('valid');
    expect((await viewOf(grandchild.id)).status).toBe('revoked');

    const audit = (await t.call(t.adminKey, 'GET', `/v1/audit?action=key.revoked&limit=1000`)).body.data as Array<{ resource: { id: string }; after: any }>;
    for (const id of [child.id, grandchild.id]) {
      expect(audit.find((e) => e.resource.id === id)?.after).toMatchObject({ reason: 'minter_revoked', minter: minter.id });
    }
    await expect.poll(() => [minter.id, child.id, grandchild.id].every((id) => notified.includes(id))).toBe(true);
  });

  test('a rotated key hands its minted keys to its successor; what it mints in its grace stops with it', async () => {
    const minter = await restricted({});
    const before = (await mint(minter.key)).body;
    const rotated = (await t.call(t.adminKey, 'POST', `/v1/api-keys/${minter.id}/rotate`, { grace_s: 3600 })).body;
    const during = (await mint(minter.key)).body;
    expect((await viewOf(before.id)).parent_key_id).toBe(rotated.id);
    expect((await viewOf(during.id)).parent_key_id).toBe(minter.id);

    // The grace ends: the expiry job revokes the old key and what it minted in its grace.
    await t.services.apiKeys.revokeDueKeys(new Date(Date.now() + 7200_000));
    expect(await verify(during.key)).toBe('revoked');
    expect(await verify(before.key)).toBe('valid');
    await t.call(t.adminKey, 'DELETE', `/v1/api-keys/${rotated.id}`);
    expect(await verify(before.key)).toBe('revoked');
  });
});
