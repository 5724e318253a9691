import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';
import { person, signIn } from '../helpers/people.js';

// Any tenant once listed every provider instance, with the mask of its admin credential. Now a
// tenant sees the instances its own workspaces' credentials use, and never a mask.
let t: TestApp;
let a: Awaited<ReturnType<typeof seedWorkspace>>;
let b: Awaited<ReturnType<typeof seedWorkspace>>;
const ids: Record<string, string> = {};
const ADMIN_TOKEN = 'instance-admin-token-0123456789abcdef';

beforeAll(async () => {
  t = await createTestApp();
  a = await seedWorkspace(t, ['*'], 'inst-a');
  b = await seedWorkspace(t, ['*'], 'inst-b');
  for (const name of ['north', 'south', 'unused']) {
    const res = await t.call(t.adminKey, 'POST', '/v1/instances', { provider: 'emailbison', name, base_url: `https://${name}.example.com/api` });
    expect(res.status, res.raw).toBe(201);
    ids[name] = res.body.id;
    expect((await t.call(t.adminKey, 'PUT', `/v1/instances/${res.body.id}/admin-credential`, { api_key: ADMIN_TOKEN })).status).toBe(200);
  }
  for (const [ws, instance] of [[a, 'north'], [b, 'south']] as const) {
    const res = await t.call(ws.key, 'PUT', `/v1/workspaces/${ws.workspace.id}/credentials/emailbison`, { instance: ids[instance], api_key: `ws-token-${instance}-123456`, provider_workspace_id: '1' });
    expect(res.status, res.raw).toBe(200);
  }
});
afterAll(() => t?.close());

const listed = (res: { body: { data: Array<{ id: string }> } }) => res.body.data.map((i) => i.id).sort();

describe('GET /v1/instances', () => {
  test('the platform admin sees every instance and the admin credential masks', async () => {
    const res = await t.call(t.adminKey, 'GET', '/v1/instances');
    expect(listed(res)).toEqual(Object.values(ids).sort());
    for (const i of res.body.data) expect(i.admin_credential).toEqual({ set: true, mask: expect.any(String) });
  });

  test("a workspace key sees only its own workspace's instance, without a mask", async () => {
    const res = await t.call(a.key, 'GET', '/v1/instances');
    expect(res.status, res.raw).toBe(200);
    expect(listed(res)).toEqual([ids.north]);
    expect(res.body.data[0].admin_credential).toEqual({ set: true });
    expect(res.raw).not.toContain('cdef');
  });

  test('a signed-in member sees the instances of the workspaces they belong to', async () => {
    const p = await person(t, b.workspace.id, 'read_only');
    const res = await (await signIn(t, p.email))('GET', '/v1/instances');
    expect(res.status, res.raw).toBe(200);
    expect(listed(res)).toEqual([ids.south]);
    expect(res.body.data[0].admin_credential).toEqual({ set: true });
  });

  test('the coverage report names only the instances the tenant uses', async () => {
    const res = await t.call(a.key, 'GET', '/v1/coverage');
    expect(res.status, res.raw).toBe(200);
    expect(res.raw).toContain(ids.north);
    for (const other of [ids.south, ids.unused]) expect(res.raw).not.toContain(other);
    expect((await t.call(t.adminKey, 'GET', '/v1/coverage')).raw).toContain(ids.unused);
  });

  test('the instance list pages by cursor, oldest first, every instance exactly once', async () => {
    for (let i = 0; i < 4; i++) {
      const res = await t.call(t.adminKey, 'POST', '/v1/instances', { provider: 'emailbison', name: `paged-${i}`, base_url: `https://paged-${i}.example.com/api` });
      expect(res.status, res.raw).toBe(201);
      ids[`paged-${i}`] = res.body.id;
    }
    const all = (await t.call(t.adminKey, 'GET', '/v1/instances?limit=500')).body.data.map((i: { id: string }) => i.id);
    expect([...all].sort()).toEqual(Object.values(ids).sort());
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await t.call(t.adminKey, 'GET', `/v1/instances?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status, res.raw).toBe(200);
      expect(res.body.data.length).toBeLessThanOrEqual(2);
      seen.push(...(res.body.data as { id: string }[]).map((i) => i.id));
      cursor = res.body.next_cursor as string | null;
      pages++;
    } while (cursor);
    expect(seen).toEqual(all);
    expect(pages).toBe(Math.ceil(all.length / 2));
    // A tenant pages through its own instances only.
    const own = await t.call(a.key, 'GET', '/v1/instances?limit=1');
    expect(own.body).toMatchObject({ data: [{ id: ids.north }], next_cursor: null });
    const bad = await t.call(t.adminKey, 'GET', '/v1/instances?cursor=bm90LWEtY3Vyc29y');
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('validation_failed');
  });
});
