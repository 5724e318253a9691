import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';

// The routes the portal's Settings page adds: the user list, a member's role changed or removed,
// the seats per organization, and the CSV import sent as the file itself.
let t: TestApp;
let mine: Awaited<ReturnType<typeof seedWorkspace>>;
let other: Awaited<ReturnType<typeof seedWorkspace>>;
const PASSWORD = 'a long enough password';
const unique = (p: string) => `${p}-${randomBytes(5).toString('hex')}`;

beforeAll(async () => {
  t = await createTestApp({ GATEHOUSE_CREDENTIAL_CACHE_MS: '0' });
  mine = await seedWorkspace(t);
  other = await seedWorkspace(t);
  // Many people join these two: more than the starter plan's seats.
  for (const s of [mine, other]) await t.call(t.adminKey, 'PATCH', `/v1/organizations/${s.org.id}`, { seat_limit: 1000 });
});
afterAll(() => t?.close());

async function user(opts: { password?: boolean } = {}) {
  const res = await t.call(t.adminKey, 'POST', '/v1/users', { email: `${unique('u')}@example.com`, name: 'Sam Person', ...(opts.password ? { password: PASSWORD } : {}) });
  expect(res.status, res.raw).toBe(201);
  return res.body as { id: string; email: string };
}

async function member(workspaceId: string, role: 'admin' | 'manager' | 'member' | 'read_only') {
  const u = await user({ password: true });
  const res = await t.call(t.adminKey, 'POST', `/v1/workspaces/${workspaceId}/members`, { user_id: u.id, role });
  expect(res.status, res.raw).toBe(201);
  return u;
}

/** A signed-in person's calls, as the portal makes them (cookie + CSRF token). */
async function session(email: string) {
  const login = await t.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email, password: PASSWORD } });
  expect(login.statusCode, login.body).toBe(200);
  const cookie = String(login.headers['set-cookie']).split(';')[0];
  const csrf = JSON.parse(login.body).csrf_token as string;
  return async (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown, contentType?: string) => {
    const headers: Record<string, string> = { cookie, 'x-csrf-token': csrf };
    if (contentType) headers['content-type'] = contentType;
    const res = await t.app.inject({ method, url, headers, ...(body === undefined ? {} : { payload: body as string }) });
    return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined, raw: res.body };
  };
}

async function audited(action: string, userId: string) {
  const res = await t.call(t.adminKey, 'GET', `/v1/audit?action=${action}&limit=1000`);
  return (res.body.data as Array<{ resource: { id: string }; before: unknown; after: unknown; workspace_id: string }>).filter((e) => e.resource?.id === userId);
}

describe('GET /v1/users', () => {
  test('the platform admin sees every user, without password or hash', async () => {
    const u = await user({ password: true });
    const res = await t.call(t.adminKey, 'GET', '/v1/users');
    expect(res.status, res.raw).toBe(200);
    const found = (res.body.data as Array<Record<string, unknown>>).find((x) => x.id === u.id);
    expect(found).toMatchObject({ email: u.email, name: 'Sam Person', platform_admin: false, mfa_enabled: false });
    expect(res.raw).not.toContain(PASSWORD);
    expect(res.raw).not.toMatch(/password|scrypt/i);
  });

  test('a workspace key, even with every scope, and a workspace admin are refused', async () => {
    expect((await t.call(mine.key, 'GET', '/v1/users')).status).toBe(403);
    const admin = await member(mine.workspace.id, 'admin');
    expect((await (await session(admin.email))('GET', '/v1/users')).status).toBe(403);
  });
});

describe('PATCH /v1/workspaces/:id/members/:user_id', () => {
  test("changes a member's role, audited with before and after", async () => {
    const u = await member(mine.workspace.id, 'member');
    const res = await t.call(t.adminKey, 'PATCH', `/v1/workspaces/${mine.workspace.id}/members/${u.id}`, { role: 'manager' });
    expect(res.status, res.raw).toBe(200);
    expect(res.body).toMatchObject({ workspace_id: mine.workspace.id, user_id: u.id, role: 'manager', email: u.email });
    const list = await t.call(t.adminKey, 'GET', `/v1/workspaces/${mine.workspace.id}/members`);
    expect(list.body.data.find((m: { user_id: string }) => m.user_id === u.id).role).toBe('manager');
    const entries = await audited('member.role_changed', u.id);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ workspace_id: mine.workspace.id, before: { role: 'member' }, after: { role: 'manager' } });
  });

  test('a workspace admin may change roles in their workspace; a manager, member or read_only may not', async () => {
    const admin = await member(mine.workspace.id, 'admin');
    const target = await member(mine.workspace.id, 'member');
    const asAdmin = await session(admin.email);
    expect((await asAdmin('PATCH', `/v1/workspaces/${mine.workspace.id}/members/${target.id}`, { role: 'read_only' })).status).toBe(200);
    for (const role of ['manager', 'member', 'read_only'] as const) {
      const p = await member(mine.workspace.id, role);
      const res = await (await session(p.email))('PATCH', `/v1/workspaces/${mine.workspace.id}/members/${target.id}`, { role: 'admin' });
      expect(res.status, `${role}: ${res.raw}`).toBe(403);
    }
    const list = await t.call(t.adminKey, 'GET', `/v1/workspaces/${mine.workspace.id}/members`);
    expect(list.body.data.find((m: { user_id: string }) => m.user_id === target.id).role).toBe('read_only');
  });

  test("another workspace's ids are 404, and so is a user who is not a member; a bad role is 400", async () => {
    const theirs = await member(other.workspace.id, 'member');
    expect((await t.call(mine.key, 'PATCH', `/v1/workspaces/${other.workspace.id}/members/${theirs.id}`, { role: 'admin' })).status).toBe(404);
    const admin = await member(mine.workspace.id, 'admin');
    expect((await (await session(admin.email))('PATCH', `/v1/workspaces/${other.workspace.id}/members/${theirs.id}`, { role: 'admin' })).status).toBe(404);
    expect((await t.call(mine.key, 'PATCH', `/v1/workspaces/${mine.workspace.id}/members/${theirs.id}`, { role: 'admin' })).status).toBe(404);
    const ok = await member(mine.workspace.id, 'member');
    expect((await t.call(mine.key, 'PATCH', `/v1/workspaces/${mine.workspace.id}/members/${ok.id}`, { role: 'owner' })).status).toBe(400);
    const list = await t.call(t.adminKey, 'GET', `/v1/workspaces/${other.workspace.id}/members`);
    expect(list.body.data.find((m: { user_id: string }) => m.user_id === theirs.id).role).toBe('member');
  });

  test('a role change takes no seat: it works in a full organization, where adding one more is refused', async () => {
    const org = await t.call(t.adminKey, 'POST', '/v1/organizations', { name: unique('full'), plan: 'free', seat_limit: 1 });
    const ws = await t.call(t.adminKey, 'POST', `/v1/organizations/${org.body.id}/workspaces`, { name: 'only' });
    const first = await member(ws.body.id, 'member');
    const change = await t.call(t.adminKey, 'PATCH', `/v1/workspaces/${ws.body.id}/members/${first.id}`, { role: 'admin' });
    expect(change.status, change.raw).toBe(200);
    const second = await user();
    const refused = await t.call(t.adminKey, 'POST', `/v1/workspaces/${ws.body.id}/members`, { user_id: second.id, role: 'member' });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'conflict', details: { reason: 'seat_limit_reached', seat_limit: 1, seats_used: 1 } });
    const orgs = await t.call(t.adminKey, 'GET', '/v1/organizations');
    expect(orgs.body.data.find((o: { id: string }) => o.id === org.body.id)).toMatchObject({ seat_limit: 1, seats_used: 1 });
  });
});

describe('DELETE /v1/workspaces/:id/members/:user_id', () => {
  test('removes the member, audited; their session loses the workspace at once; a second delete is 404', async () => {
    const u = await member(mine.workspace.id, 'member');
    const asThem = await session(u.email);
    expect((await asThem('GET', `/v1/workspaces/${mine.workspace.id}`)).status).toBe(200);
    const res = await t.call(t.adminKey, 'DELETE', `/v1/workspaces/${mine.workspace.id}/members/${u.id}`);
    expect(res.status, res.raw).toBe(204);
    // With no workspace left they hold no scope at all: refused before the lookup.
    expect((await asThem('GET', `/v1/workspaces/${mine.workspace.id}`)).status).toBe(403);
    expect((await asThem('GET', '/v1/auth/me')).body.user.memberships).toEqual([]);
    const entries = await audited('member.removed', u.id);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ workspace_id: mine.workspace.id, before: { role: 'member' } });
    expect((await t.call(t.adminKey, 'DELETE', `/v1/workspaces/${mine.workspace.id}/members/${u.id}`)).status).toBe(404);
  });

  test('a read_only or member caller is refused; another workspace is 404; nothing is removed', async () => {
    const target = await member(mine.workspace.id, 'manager');
    for (const role of ['read_only', 'member'] as const) {
      const p = await member(mine.workspace.id, role);
      expect((await (await session(p.email))('DELETE', `/v1/workspaces/${mine.workspace.id}/members/${target.id}`)).status).toBe(403);
    }
    const theirs = await member(other.workspace.id, 'member');
    expect((await t.call(mine.key, 'DELETE', `/v1/workspaces/${other.workspace.id}/members/${theirs.id}`)).status).toBe(404);
    const readKey = await t.call(t.adminKey, 'POST', `/v1/workspaces/${mine.workspace.id}/api-keys`, { name: 'r', scopes: ['members:read'] });
    expect((await t.call(readKey.body.key, 'DELETE', `/v1/workspaces/${mine.workspace.id}/members/${target.id}`)).status).toBe(403);
    const mineNow = await t.call(t.adminKey, 'GET', `/v1/workspaces/${mine.workspace.id}/members`);
    const theirsNow = await t.call(t.adminKey, 'GET', `/v1/workspaces/${other.workspace.id}/members`);
    expect(mineNow.body.data.map((m: { user_id: string }) => m.user_id)).toContain(target.id);
    expect(theirsNow.body.data.map((m: { user_id: string }) => m.user_id)).toContain(theirs.id);
  });
});

describe('POST /v1/credentials/import with the file as text/csv', () => {
  const twilio = (ws: string) => ({ sid: `AC${randomBytes(16).toString('hex')}`, token: `twtok_${randomBytes(16).toString('hex')}`, ws });
  const csv = (rows: Array<{ sid: string; token: string; ws: string }>) =>
    ['workspace_id,provider,name,account_sid,auth_token', ...rows.map((r) => `${r.ws},twilio,main,${r.sid},${r.token}`)].join('\n') + '\n';

  test('a workspace admin imports into their workspace; the report repeats no secret', async () => {
    const admin = await member(mine.workspace.id, 'admin');
    const row = twilio(mine.workspace.id);
    const res = await (await session(admin.email))('POST', '/v1/credentials/import', csv([row]), 'text/csv');
    expect(res.status, res.raw).toBe(200);
    expect(res.body).toMatchObject({ ok: true, imported: 1, rows: [{ row: 2, workspace_id: mine.workspace.id, provider: 'twilio', status: 'created' }] });
    expect(res.raw).not.toContain(row.token);
    expect(res.raw).not.toContain(row.token.slice(4, -4));
    const creds = await t.call(t.adminKey, 'GET', `/v1/workspaces/${mine.workspace.id}/credentials`);
    expect(creds.body.data.find((c: { provider: string }) => c.provider === 'twilio').fields.account_sid).toBe(row.sid);
  });

  test("a row for another workspace is reported not found and nothing is written; no secret in the answer", async () => {
    const admin = await member(mine.workspace.id, 'admin');
    const good = twilio(mine.workspace.id);
    const foreign = twilio(other.workspace.id);
    const res = await (await session(admin.email))('POST', '/v1/credentials/import', csv([good, foreign]), 'text/csv');
    expect(res.status).toBe(400);
    const rows = res.body.error.details.rows as Array<{ row: number; status: string; errors?: string[] }>;
    expect(rows.map((r) => [r.row, r.status])).toEqual([[2, 'valid'], [3, 'invalid']]);
    expect(rows[1].errors?.join(' ')).toMatch(/workspace not found/);
    for (const secret of [good.token, foreign.token]) expect(res.raw).not.toContain(secret);
    const theirs = await t.call(t.adminKey, 'GET', `/v1/workspaces/${other.workspace.id}/credentials`);
    expect(theirs.body.data).toEqual([]);
  });

  test('a read_only or member caller is refused', async () => {
    for (const role of ['read_only', 'member'] as const) {
      const p = await member(other.workspace.id, role);
      const res = await (await session(p.email))('POST', '/v1/credentials/import', csv([twilio(other.workspace.id)]), 'text/csv');
      expect(res.status, res.raw).toBe(403);
    }
    const theirs = await t.call(t.adminKey, 'GET', `/v1/workspaces/${other.workspace.id}/credentials`);
    expect(theirs.body.data).toEqual([]);
  });
});
