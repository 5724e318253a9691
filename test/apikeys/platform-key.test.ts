import { afterAll, beforeAll, expect, test } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';

// The operations guide's procedure for rotating the platform admin key, as an operator runs it.
let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

test('the platform admin key rotates like any key: the new one works, the old one is refused after its grace', async () => {
  const me = await t.call(null, 'POST', '/v1/keys/verify', { key: t.adminKey });
  expect(me.body).toMatchObject({ valid: true });
  const rotated = await t.call(t.adminKey, 'POST', `/v1/api-keys/${me.body.key_id}/rotate`, { grace_s: 0 });
  expect(rotated.status, rotated.raw).toBe(201);
  expect(rotated.body.key).toMatch(/^gate_live_/);
  expect((await t.call(rotated.body.key, 'POST', '/v1/organizations', { name: 'after-rotation', plan: 'free' })).status).toBe(201);
  expect((await t.call(t.adminKey, 'GET', '/v1/organizations')).status).toBe(401);
});
