import { afterAll, beforeAll, expect, test } from 'vitest';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';
import { pageThrough } from '../helpers/paging.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t?.close());

const ids = (rows: Array<{ id: string }>) => rows.map((r) => r.id);

test('organizations page by cursor, oldest first, each once', async () => {
  const made: string[] = [];
  for (let i = 0; i < 5; i++) made.push((await t.call(t.adminKey, 'POST', '/v1/organizations', { name: `Paged org ${i}`, plan: 'starter' })).body.id);
  const { rows, pages } = await pageThrough(t, t.adminKey, '/v1/organizations', 2);
  expect(ids(rows).filter((id) => made.includes(id))).toEqual(made);
  expect(new Set(ids(rows)).size).toBe(rows.length);
  expect(pages).toBe(Math.ceil(rows.length / 2));
  expect((rows as Array<{ seats_used?: number }>).every((o) => typeof o.seats_used === 'number')).toBe(true);
});

test('users page by cursor, oldest first, each once', async () => {
  const made: string[] = [];
  for (let i = 0; i < 5; i++) made.push((await t.call(t.adminKey, 'POST', '/v1/users', { email: `paged-${i}-${Date.now()}@example.com`, name: `Paged ${i}` })).body.id);
  const { rows } = await pageThrough(t, t.adminKey, '/v1/users', 2);
  expect(ids(rows).filter((id) => made.includes(id))).toEqual(made);
  expect(new Set(ids(rows)).size).toBe(rows.length);
});

test("a workspace's members page by cursor, each once, and another workspace's cursor finds nothing of it", async () => {
  const { workspace } = await seedWorkspace(t);
  const made: string[] = [];
  for (let i = 0; i < 5; i++) {
    const user = (await t.call(t.adminKey, 'POST', '/v1/users', { email: `member-${i}-${Date.now()}@example.com`, name: `Member ${i}` })).body;
    expect((await t.call(t.adminKey, 'POST', `/v1/workspaces/${workspace.id}/members`, { user_id: user.id, role: 'member' })).status).toBe(201);
    made.push(user.id);
  }
  const { rows, pages } = await pageThrough<{ user_id: string; workspace_id: string }>(t, t.adminKey, `/v1/workspaces/${workspace.id}/members`, 2);
  expect(rows.map((m) => m.user_id)).toEqual(made);
  expect(rows.every((m) => m.workspace_id === workspace.id)).toBe(true);
  expect(pages).toBe(3);
  const bad = await t.call(t.adminKey, 'GET', `/v1/workspaces/${workspace.id}/members?cursor=bm90LWEtY3Vyc29y`);
  expect(bad.status).toBe(400);
  expect(bad.body.error.code).toBe('validation_failed');
});
