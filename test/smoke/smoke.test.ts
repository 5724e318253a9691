import { afterAll, beforeAll, expect, test } from 'vitest';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

test('a workspace key sees its workspace and not another', async () => {
  const a = await seedWorkspace(t);
  const b = await seedWorkspace(t);
  expect((await t.call(a.key, 'GET', `/v1/workspaces/${a.workspace.id}`)).status).toBe(200);
  const foreign = await t.call(a.key, 'GET', `/v1/workspaces/${b.workspace.id}`);
  expect(foreign.status).toBe(404);
  expect(foreign.body.error.code).toBe('not_found');
});
