import { afterAll, beforeAll, expect, test } from 'vitest';
import { fetchAllPages } from '../../web/src/lib/paging.js';
import { createTestApp, type TestApp } from '../helpers/app.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t?.close());

test('a paged list is followed to its end: every row once, in the server order', async () => {
  const org = (await t.call(t.adminKey, 'POST', '/v1/organizations', { name: 'Paged org', plan: 'enterprise' })).body;
  const made: string[] = [];
  for (let i = 0; i < 5; i++) made.push((await t.call(t.adminKey, 'POST', `/v1/organizations/${org.id}/workspaces`, { name: `Paged ${i}` })).body.id);
  const asked: Array<string | undefined> = [];
  const all = await fetchAllPages<{ id: string }>(async (cursor) => {
    asked.push(cursor);
    const res = await t.call(t.adminKey, 'GET', `/v1/workspaces?organization_id=${org.id}&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
    expect(res.status).toBe(200);
    return res.body;
  });
  expect(all.data.map((w) => w.id)).toEqual(made);
  expect(asked).toHaveLength(3);
  expect(asked[0]).toBeUndefined();
});

test('a list that hands back a cursor it gave before is an error, not an endless loop', async () => {
  let calls = 0;
  const looping = fetchAllPages(async () => ({ data: [calls++], next_cursor: 'same' }));
  await expect(looping).rejects.toThrow(/twice/);
  expect(calls).toBe(2);
});
