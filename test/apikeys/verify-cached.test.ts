import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { generateKey } from '../../src/modules/apikeys/format.js';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';

// Most verifications are answered from the key cache with no promise (`verifyCached`); anything
// that needs the database or a counter must fall through to `verify`, and every verification
// must be counted once, whichever way it went.
let t: TestApp;
let workspaceId: string;
let plain: string;

beforeAll(async () => {
  t = await createTestApp();
  const seed = await seedWorkspace(t, ['keys:read']);
  workspaceId = seed.workspace.id;
  plain = seed.key;
});
afterAll(async () => t?.close());

const verifier = () => t.services.verifier;
const opts = { ip: '127.0.0.1' };

async function counted(code: string): Promise<number> {
  const text = await t.services.metrics.registry.getSingleMetricAsString('gatehouse_key_verifications_total');
  const line = text.split('\n').find((l) => l.startsWith(`gatehouse_key_verifications_total{result="${code}"}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

async function createKey(body: Record<string, unknown>): Promise<string> {
  const res = await t.call(t.adminKey, 'POST', `/v1/workspaces/${workspaceId}/api-keys`, { name: 'k', scopes: ['keys:read'], ...body });
  expect(res.status, res.raw).toBe(201);
  return res.body.key;
}

describe('answers from the cache alone', () => {
  test('a key not yet looked up needs the database; once looked up it is answered at once', async () => {
    const fresh = await createKey({});
    expect(verifier().verifyCached(fresh, opts)).toBeUndefined();
    expect((await verifier().verify(fresh, opts)).code).toBe('valid');
    expect(verifier().verifyCached(fresh, opts)?.code).toBe('valid');
    expect(verifier().verifyCached(fresh, { ...opts, scope: 'keys:write' })?.code).toBe('insufficient_scope');
  });

  test('an unknown well-formed key is looked up once, then its miss is answered from the cache', async () => {
    const unknown = generateKey('live');
    expect(verifier().verifyCached(unknown, opts)).toBeUndefined();
    expect((await verifier().verify(unknown, opts)).code).toBe('not_found');
    expect(verifier().verifyCached(unknown, opts)?.code).toBe('not_found');
  });

  test('a malformed key is refused without a cache entry, so junk cannot crowd real keys out', async () => {
    const junk = 'gate_live_' + 'x'.repeat(49);
    expect((await verifier().verify(junk, opts)).code).toBe('not_found');
    expect(verifier().verifyCached(junk, opts)).toBeUndefined();
  });

  test('a rate-limited key always goes to its counter, and the figures come back', async () => {
    const limited = await createKey({ rate_limit: { limit: 2, window_s: 60 } });
    await verifier().verify(limited, opts);
    expect(verifier().verifyCached(limited, opts)).toBeUndefined();
    const second = await verifier().verify(limited, opts);
    expect(second).toMatchObject({ code: 'valid', ratelimit: { limit: 2, remaining: 0 } });
    expect((await verifier().verify(limited, opts)).code).toBe('rate_limited');
  });

  test('a usage-limited key always spends a use in the database', async () => {
    const once = await createKey({ remaining: 1 });
    expect((await verifier().verify(once, opts)).code).toBe('valid');
    expect(verifier().verifyCached(once, opts)).toBeUndefined();
    expect((await verifier().verify(once, opts)).code).toBe('usage_exceeded');
  });

  test('a revoked key is refused from the cache once revocation reaches it', async () => {
    const doomed = await createKey({});
    const first = await t.services.verifier.verify(doomed, opts);
    if (first.code !== 'valid') throw new Error(`the new key should verify, got ${first.code}`);
    const id = first.key.id;
    await t.call(t.adminKey, 'DELETE', `/v1/api-keys/${id}`);
    const answer = verifier().verifyCached(doomed, opts) ?? (await verifier().verify(doomed, opts));
    expect(answer.code).toBe('revoked');
  });

  test('each verification is counted once, whichever way it was answered', async () => {
    await verifier().verify(plain, opts); // fills the cache
    const before = await counted('valid');
    verifier().verifyCached(plain, opts);
    await verifier().verify(plain, opts);
    expect(await counted('valid')).toBe(before + 2);
    const missBefore = await counted('not_found');
    const unknown = generateKey('test');
    expect(verifier().verifyCached(unknown, opts)).toBeUndefined(); // not answered: not counted
    await verifier().verify(unknown, opts);
    expect(await counted('not_found')).toBe(missBefore + 1);
  });
});
