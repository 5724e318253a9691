import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, expectTypeOf, test } from 'vitest';
import type { UpstreamClient } from '../../src/modules/upstream/client.js';
import type { InstanceAdminCredential, WorkspaceCredential } from '../../src/modules/vault/service.js';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';
import { startFakeEmailBison, type FakeEmailBison } from '../fakes/emailbison.js';

/**
 * The property Gatehouse exists for: a workspace's upstream calls carry that workspace's own token
 * and nothing else, and a workspace without one reaches no provider at all — never through the
 * instance's super-admin token, whose shared "current workspace" made a sync report 403 accounts
 * for a workspace that has 282.
 */

let t: TestApp;
let fake: FakeEmailBison;
type Seeded = Awaited<ReturnType<typeof seedWorkspace>>;
let A: Seeded;
let B: Seeded;
let C: Seeded;
let instanceId: string;
let tokenA: string;
let tokenB: string;
let adminToken: string;

const TEAM_A = 101;
const TEAM_B = 102;
const TEAM_C = 103;

beforeAll(async () => {
  t = await createTestApp();
  fake = await startFakeEmailBison();
  fake.addTeam(TEAM_A, 282);
  fake.addTeam(TEAM_B, 403);
  fake.addTeam(TEAM_C, 7);
  tokenA = fake.addApiToken(TEAM_A);
  tokenB = fake.addApiToken(TEAM_B);
  // The super admin currently "sits" in B's team: any fallback to it would read B's 403 accounts.
  adminToken = fake.addSuperAdminToken(TEAM_B);

  [A, B, C] = [await seedWorkspace(t), await seedWorkspace(t), await seedWorkspace(t)];
  const inst = await t.call(t.adminKey, 'POST', '/v1/instances', { provider: 'emailbison', name: 'agency', base_url: fake.url });
  expect(inst.status, inst.raw).toBe(201);
  instanceId = inst.body.id;
  const admin = await t.call(t.adminKey, 'PUT', `/v1/instances/${instanceId}/admin-credential`, { api_key: adminToken });
  expect(admin.status, admin.raw).toBe(200);
  expect(admin.body.admin_credential).toEqual({ set: true, mask: `${adminToken.slice(0, 4)}***${adminToken.slice(-4)}` });
  for (const [ws, token, team] of [[A, tokenA, TEAM_A], [B, tokenB, TEAM_B]] as const) {
    const res = await t.call(t.adminKey, 'PUT', `/v1/workspaces/${ws.workspace.id}/credentials/emailbison`, { instance: instanceId, api_key: token, provider_workspace_id: String(team) });
    expect(res.status, res.raw).toBe(200);
  }
});
afterAll(async () => {
  await t?.close();
  await fake?.close();
});

const upstream = (ws: Seeded, body: Record<string, unknown>, key = ws.key) => t.call(key, 'POST', `/v1/workspaces/${ws.workspace.id}/upstream/emailbison`, body);
const sync = (ws: Seeded, key = ws.key) => t.call(key, 'POST', `/v1/workspaces/${ws.workspace.id}/sync/emailbison/sender-emails`);

describe('the fake reproduces the incident', () => {
  test('a shared super-admin token reads whichever team was switched to last (why Gatehouse never uses it for workspace calls)', async () => {
    const before = fake.seen.length;
    const admin = { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json', accept: 'application/json' };
    // Worker 1 switches to A's team, worker 2 switches to B's before worker 1 reads.
    await fetch(`${fake.url}/workspaces/v1.1/switch-workspace`, { method: 'POST', headers: admin, body: JSON.stringify({ team_id: TEAM_A }) });
    await fetch(`${fake.url}/workspaces/v1.1/switch-workspace`, { method: 'POST', headers: admin, body: JSON.stringify({ team_id: TEAM_B }) });
    const page = (await (await fetch(`${fake.url}/sender-emails?page=1`, { headers: admin })).json()) as { meta: { total: number } };
    expect(page.meta.total).toBe(403); // worker 1 meant A, which has 282
    const own = (await (await fetch(`${fake.url}/sender-emails?page=1`, { headers: { authorization: `Bearer ${tokenA}` } })).json()) as { meta: { total: number } };
    expect(own.meta.total).toBe(282);
    // These direct calls are the test's own; drop them so the admin-token checks below see only Gatehouse's.
    fake.seen.splice(before);
  });
});

describe('each workspace calls with its own token only', () => {
  test('20 concurrent mixed calls for A and B each reach the provider with their own token and get their own data', async () => {
    const before = fake.seen.length;
    const plan = Array.from({ length: 20 }, (_, i) => ({
      ws: i % 2 ? A : B,
      // Half through the workspace's own key, half through the platform admin's: the credential follows the workspace, not the caller.
      key: i % 4 < 2 ? undefined : t.adminKey,
      page: (i % 3) + 1,
    }));
    const results = await Promise.all(plan.map((p) => upstream(p.ws, { method: 'GET', path: '/sender-emails', query: { page: p.page } }, p.key ?? p.ws.key)));
    results.forEach((res, i) => {
      const { ws, page } = plan[i];
      const team = ws === A ? TEAM_A : TEAM_B;
      expect(res.status, res.raw).toBe(200);
      expect(res.body.status).toBe(200);
      expect(res.body.body.meta).toMatchObject({ current_page: page, total: team === TEAM_A ? 282 : 403 });
      expect(res.body.body.data).toHaveLength(15);
      for (const account of res.body.body.data) expect(account.email).toMatch(new RegExp(`@team${team}\\.example$`));
    });

    const reached = fake.seen.slice(before);
    expect(reached).toHaveLength(20);
    expect(reached.filter((s) => s.token === tokenA)).toHaveLength(10);
    expect(reached.filter((s) => s.token === tokenB)).toHaveLength(10);
    expect(reached.every((s) => s.path === '/api/sender-emails')).toBe(true);

    for (const [ws, token] of [[A, tokenA], [B, tokenB]] as const) {
      const logs = await t.call(ws.key, 'GET', `/v1/workspaces/${ws.workspace.id}/api-logs`);
      expect(logs.status, logs.raw).toBe(200);
      expect(logs.body.data).toHaveLength(10);
      for (const entry of logs.body.data) expect(entry.key_suffix).toBe(token.slice(-4));
    }
  });

  test('the sync counts each workspace\'s own accounts: A 282, B 403, run side by side', async () => {
    const before = fake.seen.length;
    const [a, b] = await Promise.all([sync(A), sync(B)]);
    expect(a.status, a.raw).toBe(200);
    expect(b.status, b.raw).toBe(200);
    expect(a.body).toMatchObject({ fetched: 282, unique: 282, provider_total: 282, duplicates: 0, pages: 19, status: 'ok' });
    expect(b.body).toMatchObject({ fetched: 403, unique: 403, provider_total: 403, duplicates: 0, pages: 27, status: 'ok' });
    const reached = fake.seen.slice(before);
    expect(reached.filter((s) => s.token === tokenA).map((s) => Number(s.query.page)).sort((x, y) => x - y)).toEqual(Array.from({ length: 19 }, (_, i) => i + 1));
    expect(reached.filter((s) => s.token === tokenB)).toHaveLength(27);
    expect(reached.filter((s) => s.token !== tokenA && s.token !== tokenB)).toEqual([]);
    expect(await t.services.emailbison.senderEmailCount(A.workspace.id)).toBe(282);
    expect(await t.services.emailbison.senderEmailCount(B.workspace.id)).toBe(403);
    const health = await t.call(A.key, 'GET', `/v1/workspaces/${A.workspace.id}/health`);
    expect(health.body.last_sync).toMatchObject({ status: 'ok', unique: 282, provider_total: 282 });
  });
});

describe('no fallback: a workspace without a credential reaches no provider', () => {
  test('every upstream, test and sync call for C answers 422 credential_missing naming C, though the instance has an admin token', async () => {
    const before = fake.seen.length;
    const calls = await Promise.all([
      upstream(C, { method: 'GET', path: '/sender-emails' }),
      upstream(C, { method: 'GET', path: '/users' }, t.adminKey),
      upstream(C, { method: 'POST', path: '/workspaces/v1.1/switch-workspace', body: { team_id: TEAM_C } }),
      t.call(C.key, 'POST', `/v1/workspaces/${C.workspace.id}/credentials/emailbison/test`),
      t.call(t.adminKey, 'POST', `/v1/workspaces/${C.workspace.id}/credentials/emailbison/test`),
      sync(C),
      sync(C, t.adminKey),
    ]);
    for (const res of calls) {
      expect(res.status, res.raw).toBe(422);
      expect(res.body.error.code).toBe('credential_missing');
      expect(res.body.error.message).toContain(C.workspace.id);
      expect(res.body.error.message).toMatch(/PUT \/v1\/workspaces\/.*\/credentials\/emailbison/);
      expect(res.body.error.details).toMatchObject({ workspace_id: C.workspace.id, provider: 'emailbison' });
    }
    expect(fake.seen.slice(before)).toEqual([]);
    expect(fake.seenWith(adminToken)).toEqual([]);
    // Nothing was logged or counted as a call for C, and it shows as no_key.
    expect((await t.call(C.key, 'GET', `/v1/workspaces/${C.workspace.id}/api-logs`)).body.data).toEqual([]);
    const health = await t.call(C.key, 'GET', `/v1/workspaces/${C.workspace.id}/health`);
    expect(health.body).toMatchObject({ status: 'no_key', providers: [], last_sync: null });
  });

  test('an unknown workspace is a 404 for the platform admin, not a 422: the workspace is read when there is no credential', async () => {
    const before = fake.seen.length;
    const res = await t.call(t.adminKey, 'POST', '/v1/workspaces/ws_00000000000000000000000000/upstream/emailbison', { method: 'GET', path: '/users' });
    expect(res.status, res.raw).toBe(404);
    expect(res.body.error.code).toBe('not_found');
    expect(fake.seen.slice(before)).toEqual([]);
  });

  test('the service itself refuses C: resolving its credential never yields the instance admin token', async () => {
    await expect(t.services.vault.resolveWorkspaceCredential(C.workspace.id, 'emailbison')).rejects.toMatchObject({ code: 'credential_missing', status: 422 });
    const resolved = await t.services.vault.resolveWorkspaceCredential(A.workspace.id, 'emailbison');
    expect(resolved.secrets.api_key).toBe(tokenA);
    expect(resolved.workspaceId).toBe(A.workspace.id);
  });

  test('the types keep an instance-admin credential out of workspace calls (checked by npm run typecheck)', () => {
    expectTypeOf<InstanceAdminCredential>().not.toMatchTypeOf<WorkspaceCredential>();
    expectTypeOf<Parameters<UpstreamClient['send']>[0]>().toEqualTypeOf<WorkspaceCredential>();
    const send = (() => undefined) as unknown as UpstreamClient['send'];
    const admin = {} as InstanceAdminCredential;
    // @ts-expect-error an instance-admin credential is not a workspace credential
    expect(() => send(admin, { method: 'GET', path: '/users' }, { caller: 'x', trigger: 'api' })).not.toThrow();
  });
});

describe('the instance-admin credential itself', () => {
  test('only the platform admin sets it, and sees its mask; a tenant sees only that it is set', async () => {
    const res = await t.call(A.key, 'PUT', `/v1/instances/${instanceId}/admin-credential`, { api_key: tokenA });
    expect(res.status, res.raw).toBe(403);
    const list = await t.call(A.key, 'GET', '/v1/instances');
    expect(list.status, list.raw).toBe(200);
    expect(list.body.data[0].admin_credential).toEqual({ set: true });
    expect(list.raw).not.toContain(adminToken.slice(-4));
    const asAdmin = await t.call(t.adminKey, 'GET', '/v1/instances');
    expect(asAdmin.body.data.find((i: { id: string }) => i.id === instanceId).admin_credential).toEqual({ set: true, mask: `${adminToken.slice(0, 4)}***${adminToken.slice(-4)}` });
    expect(asAdmin.raw).not.toContain(adminToken.slice(4, -4));
    // Still the super admin's, not A's token.
    expect(fake.tokenInfo(adminToken)!.kind).toBe('super-admin');
  });
});

describe('minting a workspace token with the admin credential', () => {
  test('a workspace key cannot mint: only the platform admin may use the instance-admin token', async () => {
    const before = fake.seen.length;
    // A's own key asking for B's team would hand A a token to B's provider workspace.
    const res = await t.call(A.key, 'POST', `/v1/workspaces/${A.workspace.id}/credentials/emailbison/generate`, { instance: instanceId, provider_workspace_id: String(TEAM_B) });
    expect(res.status, res.raw).toBe(403);
    expect(res.body.error.code).toBe('forbidden');
    expect(fake.seen.slice(before)).toEqual([]);
    const still = await t.services.vault.resolveWorkspaceCredential(A.workspace.id, 'emailbison');
    expect(still.secrets.api_key).toBe(tokenA);
  });

  test('generate uses the admin token only against the api-tokens endpoint, stores the minted token masked, and later calls use it', async () => {
    const before = fake.seen.length;
    const res = await t.call(t.adminKey, 'POST', `/v1/workspaces/${C.workspace.id}/credentials/emailbison/generate`, { instance: instanceId, provider_workspace_id: String(TEAM_C) });
    expect(res.status, res.raw).toBe(200);
    const minted = fake.tokens().filter((k) => k.minted && k.teamId === TEAM_C);
    expect(minted).toHaveLength(1);
    const token = minted[0].token;
    expect(res.body).toMatchObject({
      workspace_id: C.workspace.id,
      provider: 'emailbison',
      instance: { id: instanceId },
      fields: { instance: instanceId, provider_workspace_id: String(TEAM_C) },
      secrets: { api_key: { set: true, mask: `${token.slice(0, 4)}***${token.slice(-4)}` } },
    });
    expect(res.raw).not.toContain(token);
    expect(res.raw).not.toContain(token.slice(4, -4));
    expect(res.raw).not.toContain(adminToken.slice(4, -4));

    const byAdmin = fake.seen.slice(before);
    expect(byAdmin.map((s) => [s.method, s.path, s.token])).toEqual([['POST', `/api/workspaces/v1.1/${TEAM_C}/api-tokens`, adminToken]]);

    const mark = fake.seen.length;
    const call = await upstream(C, { method: 'GET', path: '/sender-emails' });
    expect(call.status, call.raw).toBe(200);
    expect(call.body.body.meta.total).toBe(7);
    const synced = await sync(C);
    expect(synced.body).toMatchObject({ unique: 7, provider_total: 7, status: 'ok' });
    const after = fake.seen.slice(mark);
    expect(after.length).toBe(2);
    expect(after.every((s) => s.token === token)).toBe(true);
  });

  test('generate for an unknown provider team is a 502 naming the provider refusal; nothing is stored', async () => {
    const D = await seedWorkspace(t);
    const res = await t.call(t.adminKey, 'POST', `/v1/workspaces/${D.workspace.id}/credentials/emailbison/generate`, { instance: instanceId, provider_workspace_id: '999' });
    expect(res.status, res.raw).toBe(502);
    expect(res.body.error.code).toBe('upstream_failed');
    expect((await t.call(t.adminKey, 'GET', `/v1/workspaces/${D.workspace.id}/credentials`)).body.data).toEqual([]);
  });

  test('over the whole file, the admin token reached the provider only to mint tokens', () => {
    const used = fake.seenWith(adminToken);
    expect(used.length).toBeGreaterThan(0);
    for (const s of used) {
      expect(s.method).toBe('POST');
      expect(s.path).toMatch(/^\/api\/workspaces\/v1\.1\/\d+\/api-tokens$/);
    }
    // Every request that reached the provider carried a token it issued to a workspace or the admin, never none.
    expect(fake.seen.every((s) => s.token !== null)).toBe(true);
  });

  test('neither the admin token nor any workspace token is in the logs, the audit trail or any table', async () => {
    const haystacks: Array<[string, string]> = [['app logs', t.logs.join('\n')], ['audit', (await t.call(t.adminKey, 'GET', '/v1/audit?limit=1000')).raw]];
    const db = t.services.database.db;
    const tables = await sql<{ table_name: string }>`select table_name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE'`.execute(db);
    expect(tables.rows.map((r) => r.table_name)).toContain('instance_admin_secrets');
    for (const { table_name } of tables.rows) {
      const rows = await sql<{ row: string }>`select row_to_json(t)::text as row from ${sql.table(table_name)} as t`.execute(db);
      haystacks.push([`table ${table_name}`, rows.rows.map((r) => r.row).join('\n')]);
    }
    for (const { token } of fake.tokens()) {
      for (const [where, text] of haystacks) expect(text.includes(token.slice(4, -4)), `${where} holds ${fake.tokenInfo(token)!.kind} token`).toBe(false);
    }
  });
});
