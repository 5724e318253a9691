import { afterAll, beforeAll, expect, test } from 'vitest';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';
import { pageThrough } from '../helpers/paging.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t?.close());

test("a workspace's keys page by cursor, newest first as always, each once", async () => {
  const { workspace, keyId } = await seedWorkspace(t);
  const made: string[] = [keyId];
  for (let i = 0; i < 6; i++) {
    const res = await t.call(t.adminKey, 'POST', `/v1/workspaces/${workspace.id}/api-keys`, { name: `paged ${i}`, scopes: ['keys:read'] });
    expect(res.status).toBe(201);
    made.push(res.body.id);
  }
  const { rows, pages } = await pageThrough<{ id: string; key?: string; workspace_id: string }>(t, t.adminKey, `/v1/workspaces/${workspace.id}/api-keys`, 3);
  expect(rows.map((k) => k.id)).toEqual([...made].reverse());
  expect(pages).toBe(3);
  expect(rows.every((k) => k.workspace_id === workspace.id && k.key === undefined)).toBe(true);
  const whole = await t.call(t.adminKey, 'GET', `/v1/workspaces/${workspace.id}/api-keys`);
  expect(whole.body.next_cursor).toBeNull();
  expect(whole.body.data.map((k: { id: string }) => k.id)).toEqual([...made].reverse());
});
