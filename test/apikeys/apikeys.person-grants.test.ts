import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';

// A signed-in person creates and rotates keys from the portal: they may grant only what their role
// in *that* workspace holds, not what a role elsewhere would (admin in one, manager in another).
let t: TestApp;
let wsAdmin: string;
let wsManager: string;
let session: { cookie: string; csrf: string };

beforeAll(async () => {
  t = await createTestApp();
  wsAdmin = (await seedWorkspace(t)).workspace.id;
  wsManager = (await seedWorkspace(t)).workspace.id;
  const password = 'a long enough password';
  const u = await t.call(t.adminKey, 'POST', '/v1/users', { email: 'two-roles@example.com', name: 'Two Roles', password });
  await t.call(t.adminKey, 'POST', `/v1/workspaces/${wsAdmin}/members`, { user_id: u.body.id, role: 'admin' });
  await t.call(t.adminKey, 'POST', `/v1/workspaces/${wsManager}/members`, { user_id: u.body.id, role: 'manager' });
  const res = await t.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email: 'two-roles@example.com', password } });
  expect(res.statusCode, res.body).toBe(200);
  const setCookie = res.headers['set-cookie'];
  session = { cookie: String(Array.isArray(setCookie) ? setCookie[0] : setCookie).split(';')[0], csrf: JSON.parse(res.body).csrf_token };
});
afterAll(() => t?.close());

async function asPerson(method: 'POST' | 'GET', url: string, body?: unknown) {
  const res = await t.app.inject({ method, url, headers: { cookie: session.cookie, 'x-csrf-token': session.csrf }, ...(body === undefined ? {} : { payload: body as object }) });
  return { status: res.statusCode, body: JSON.parse(res.body) };
}

describe('what a person may grant', () => {
  test('an admin grants anything in their workspace, * included', async () => {
    const res = await asPerson('POST', `/v1/workspaces/${wsAdmin}/api-keys`, { name: 'all', scopes: ['*'] });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  });

  test('a manager grants what a manager holds, in their workspace', async () => {
    const res = await asPerson('POST', `/v1/workspaces/${wsManager}/api-keys`, { name: 'narrow', scopes: ['keys:read', 'webhooks:write'] });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  });

  test('being admin elsewhere does not let a manager grant * or members:write here', async () => {
    for (const scopes of [['*'], ['members:write'], ['members:*']]) {
      const res = await asPerson('POST', `/v1/workspaces/${wsManager}/api-keys`, { name: 'too-wide', scopes });
      expect(res.status, JSON.stringify(scopes)).toBe(403);
      expect(res.body.error.code).toBe('forbidden');
    }
  });

  test('nor rotate a wider key there to take its successor', async () => {
    const wide = await t.call(t.adminKey, 'POST', `/v1/workspaces/${wsManager}/api-keys`, { name: 'wide', scopes: ['*'] });
    const res = await asPerson('POST', `/v1/api-keys/${wide.body.id}/rotate`, { grace_s: 0 });
    expect(res.status, JSON.stringify(res.body)).toBe(403);
    const own = await asPerson('POST', `/v1/workspaces/${wsManager}/api-keys`, { name: 'own', scopes: ['keys:read'] });
    const rotated = await asPerson('POST', `/v1/api-keys/${own.body.id}/rotate`, { grace_s: 0 });
    expect(rotated.status, JSON.stringify(rotated.body)).toBe(201);
  });
});
