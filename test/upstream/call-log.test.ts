import { afterAll, beforeAll, expect, test } from 'vitest';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';
import { person, signIn } from '../helpers/people.js';
import { startFakeEmailBison, type FakeEmailBison } from '../fakes/emailbison.js';

// A failed call explains itself in the call log: the provider's own message (1 KB at most, with the
// credential's secrets scrubbed, since a provider may echo what it was sent), the instance the
// credential belongs to, who triggered it, and a search over those messages.
let t: TestApp;
let fake: FakeEmailBison;
let instance: string;
let ws: { id: string };
let key: string;
let token: string;

beforeAll(async () => {
  t = await createTestApp();
  fake = await startFakeEmailBison();
  instance = (await t.call(t.adminKey, 'POST', '/v1/instances', { provider: 'emailbison', name: 'explained', base_url: fake.url })).body.id;
  const seeded = await seedWorkspace(t);
  ws = seeded.workspace;
  key = seeded.key;
  fake.addTeam(301, 3);
  token = fake.addApiToken(301);
  const put = await t.call(t.adminKey, 'PUT', `/v1/workspaces/${ws.id}/credentials/emailbison`, { instance, api_key: token, provider_workspace_id: '301' });
  expect(put.status, put.raw).toBe(200);
});
afterAll(async () => {
  await t?.close();
  await fake?.close();
});

const logs = async (query = '') => {
  const res = await t.call(key, 'GET', `/v1/workspaces/${ws.id}/api-logs${query}`);
  expect(res.status, res.raw).toBe(200);
  return res.body.data as Array<Record<string, any>>;
};

test("an HTTP failure keeps the provider's message, with the credential's secrets scrubbed, and the instance", async () => {
  // The provider echoes the path it could not route: here the path holds the token itself.
  const res = await t.call(key, 'POST', `/v1/workspaces/${ws.id}/upstream/emailbison`, { method: 'GET', path: `/lookup/${token}` });
  expect(res.status, res.raw).toBe(200);
  expect(res.body.status).toBe(404);
  const [row] = await logs();
  expect(row).toMatchObject({ status_code: 404, ok: false, instance_id: instance, trigger: 'api' });
  expect(row.error).toMatch(/^The route .*lookup\/\[redacted\] could not be found\.$/);
  // The path the caller sent is kept as the endpoint, scrubbed the same way.
  expect(row.endpoint).toBe('/lookup/[redacted]');
  expect(JSON.stringify(await logs())).not.toContain(token);
  const csv = (await t.call(key, 'GET', `/v1/workspaces/${ws.id}/api-logs?format=csv`)).raw;
  expect(csv).toContain('could not be found');
  expect(csv).not.toContain(token);
});

test('a long message is kept to 1 KB', async () => {
  const res = await t.call(key, 'POST', `/v1/workspaces/${ws.id}/upstream/emailbison`, { method: 'GET', path: `/long/${'x'.repeat(1900)}` });
  expect(res.body.status).toBe(404);
  const [row] = await logs();
  expect(Buffer.byteLength(row.error)).toBeLessThanOrEqual(1024);
  expect(row.error.startsWith('The route')).toBe(true);
});

test('error= finds calls by their message, case-insensitive and literally (no pattern characters)', async () => {
  const found = await logs('?error=COULD%20NOT%20BE%20FOUND');
  expect(found.length).toBeGreaterThanOrEqual(1);
  expect(found.every((r) => /could not be found/.test(r.error))).toBe(true);
  expect(await logs('?error=no%20such%20message%20anywhere')).toEqual([]);
  // % and _ are text here, not wildcards: nothing holds them.
  expect(await logs('?error=%25')).toEqual([]);
  expect(await logs('?error=_')).toEqual([]);
  expect((await t.call(key, 'GET', `/v1/workspaces/${ws.id}/api-logs?error=`)).status).toBe(400);
});

test('a call made from the portal (a signed-in person) is triggered by portal; one made with a key, by api', async () => {
  const admin = await person(t, ws.id, 'admin');
  const session = await signIn(t, admin.email);
  const res = await session('POST', `/v1/workspaces/${ws.id}/upstream/emailbison`, { method: 'GET', path: '/users' });
  expect(res.status, res.raw).toBe(200);
  const [row] = await logs();
  expect(row).toMatchObject({ trigger: 'portal', caller: admin.id, error: null, ok: true });
});
