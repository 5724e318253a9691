import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';

// One provider account belongs to one workspace: the same team or account SID given to a second
// workspace is refused on every write path (PUT, CSV import, the token generation that ends in a
// PUT), per instance. Only the platform admin is told which workspace holds it.
let t: TestApp;

beforeAll(async () => {
  t = await createTestApp({ GATEHOUSE_CREDENTIAL_CACHE_MS: '0' });
});
afterAll(async () => {
  await t?.close();
});

const sid = () => `AC${Math.random().toString(16).slice(2, 14)}`;
const putTwilio = (key: string, ws: string, accountSid: string) =>
  t.call(key, 'PUT', `/v1/workspaces/${ws}/credentials/twilio`, { account_sid: accountSid, auth_token: `tok_${Math.random().toString(36).slice(2)}` });

describe('one provider account per workspace', () => {
  test("a second workspace is refused the same account SID; only the platform admin learns whose it is", async () => {
    const a = await seedWorkspace(t);
    const b = await seedWorkspace(t);
    const shared = sid();
    expect((await putTwilio(a.key, a.workspace.id, shared)).status).toBe(200);

    const asTenant = await putTwilio(b.key, b.workspace.id, shared);
    expect(asTenant.status).toBe(409);
    expect(asTenant.body.error.details).toEqual({ reason: 'identity_taken', field: 'account_sid' });
    expect(asTenant.raw).not.toContain(a.workspace.id);

    const asAdmin = await putTwilio(t.adminKey, b.workspace.id, shared);
    expect(asAdmin.status).toBe(409);
    expect(asAdmin.body.error.details).toEqual({ reason: 'identity_taken', field: 'account_sid', workspace_id: a.workspace.id });
    expect((await t.call(b.key, 'GET', `/v1/workspaces/${b.workspace.id}/credentials`)).body.data).toEqual([]);

    // The holder may update its own; the other may take another account.
    expect((await putTwilio(a.key, a.workspace.id, shared)).status).toBe(200);
    expect((await putTwilio(b.key, b.workspace.id, sid())).status).toBe(200);
  });

  test('five workspaces racing for one account: exactly one gets it', async () => {
    const racers = await Promise.all(Array.from({ length: 5 }, () => seedWorkspace(t)));
    const shared = sid();
    const answers = await Promise.all(racers.map((r) => putTwilio(r.key, r.workspace.id, shared)));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409, 409, 409, 409]);
  });

  test('a CSV import: a row naming a held account is reported; two rows naming one account refuse the file', async () => {
    const holder = await seedWorkspace(t);
    const [x, y] = [await seedWorkspace(t), await seedWorkspace(t)];
    const held = sid();
    expect((await putTwilio(t.adminKey, holder.workspace.id, held)).status).toBe(200);
    const csv = (rows: string[][]) => ['workspace_id,provider,account_sid,auth_token', ...rows.map((r) => r.join(','))].join('\n');

    const one = await t.call(t.adminKey, 'POST', '/v1/credentials/import', { csv: csv([[x.workspace.id, 'twilio', held, 'tok_one_secret_value']]) });
    expect(one.status).toBe(400);
    expect(one.body.error.details.rows[0]).toMatchObject({ status: 'invalid', errors: [expect.stringContaining(`workspace ${holder.workspace.id} already holds`)] });

    const twice = sid();
    const both = await t.call(t.adminKey, 'POST', '/v1/credentials/import', { csv: csv([[x.workspace.id, 'twilio', twice, 'tok_x_secret'], [y.workspace.id, 'twilio', twice, 'tok_y_secret']]) });
    expect(both.status).toBe(409);
    expect(both.body.error.details).toMatchObject({ reason: 'identity_taken', field: 'account_sid' });
    // All or nothing: neither row landed.
    for (const w of [x, y]) expect((await t.call(t.adminKey, 'GET', `/v1/workspaces/${w.workspace.id}/credentials`)).body.data).toEqual([]);
    expect(both.raw).not.toMatch(/tok_x_secret|tok_y_secret/);
  });

  test('an Email Bison team is one workspace per instance: the same team id on another instance is another team', async () => {
    const [one, two] = await Promise.all(['north', 'south'].map(async (name) => (await t.call(t.adminKey, 'POST', '/v1/instances', { provider: 'emailbison', name, base_url: `http://127.0.0.1:9/${name}` })).body.id as string));
    const [a, b, c] = [await seedWorkspace(t), await seedWorkspace(t), await seedWorkspace(t)];
    const put = (w: typeof a, instance: string) =>
      t.call(t.adminKey, 'PUT', `/v1/workspaces/${w.workspace.id}/credentials/emailbison`, { instance, api_key: `5|tok${Math.random().toString(36).slice(2)}`, provider_workspace_id: '42' });
    expect((await put(a, one)).status).toBe(200);
    expect((await put(b, two)).status).toBe(200);
    const taken = await put(c, one);
    expect(taken.status).toBe(409);
    expect(taken.body.error.details).toMatchObject({ reason: 'identity_taken', field: 'provider_workspace_id', workspace_id: a.workspace.id });
  });
});
