import { afterAll, beforeAll, expect, test } from 'vitest';
import { startFakeEmailBison, type FakeEmailBison } from '../fakes/emailbison.js';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';

// What an answer says about a credential: 401/403/5xx count toward failing, a success heals, and a
// 429 (rate limited) proves neither, so it must not reset a run of failures.
let t: TestApp;
let fake: FakeEmailBison;
let ws: Awaited<ReturnType<typeof seedWorkspace>>;
let instanceId: string;

beforeAll(async () => {
  t = await createTestApp();
  fake = await startFakeEmailBison();
  fake.addTeam(1, 3);
  fake.addTeam(2, 3);
  ws = await seedWorkspace(t);
  instanceId = (await t.call(t.adminKey, 'POST', '/v1/instances', { provider: 'emailbison', name: 'verdicts', base_url: fake.url })).body.id;
  const put = await t.call(t.adminKey, 'PUT', `/v1/workspaces/${ws.workspace.id}/credentials/emailbison`, { instance: instanceId, api_key: fake.addApiToken(1), provider_workspace_id: '1' });
  expect(put.status, put.raw).toBe(200);
});
afterAll(async () => {
  await t?.close();
  await fake?.close();
});

const health = async () => (await t.call(ws.key, 'GET', `/v1/workspaces/${ws.workspace.id}/health`)).body.providers[0];
// POST is never retried, so one call is exactly one answer from the fake.
const call = () => t.call(ws.key, 'POST', `/v1/workspaces/${ws.workspace.id}/upstream/emailbison`, { method: 'POST', path: '/users' });

test('a 429 neither extends nor resets a run of failures', async () => {
  fake.fail({ status: 500, times: 2, path: '/users' });
  await call();
  await call();
  expect(await health()).toMatchObject({ consecutive_failures: 2, status: 'degraded' });
  fake.fail({ status: 429, times: 1, path: '/users', retryAfter: 1 });
  expect((await call()).body.status).toBe(429);
  const after = await health();
  expect(after).toMatchObject({ consecutive_failures: 2, status: 'degraded' });
  expect(after.last_success_at).toBeNull();
  expect(after.today.errors).toBe(3);
  await call();
  expect(await health()).toMatchObject({ consecutive_failures: 0, status: 'healthy' });
});

test("a provider team already mapped to one workspace cannot be minted into another", async () => {
  const other = await seedWorkspace(t);
  await t.call(t.adminKey, 'PUT', `/v1/instances/${instanceId}/admin-credential`, { api_key: fake.addSuperAdminToken(1) });
  const res = await t.call(t.adminKey, 'POST', `/v1/workspaces/${other.workspace.id}/credentials/emailbison/generate`, { instance: instanceId, provider_workspace_id: '1' });
  expect(res.status, res.raw).toBe(409);
  expect(res.body.error.details.workspace_id).toBe(ws.workspace.id);
  const minted = fake.seen.filter((r) => r.path.includes('/api-tokens'));
  expect(minted).toHaveLength(0);
  const ok = await t.call(t.adminKey, 'POST', `/v1/workspaces/${other.workspace.id}/credentials/emailbison/generate`, { instance: instanceId, provider_workspace_id: '2' });
  expect(ok.status, ok.raw).toBe(200);
});
