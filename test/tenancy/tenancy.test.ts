import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Actor } from '../../src/http/actor.js';
import { ROLE_SCOPES } from '../../src/modules/apikeys/scopes.js';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

const unique = (prefix: string) => `${prefix}-${Math.random().toString(36).slice(2, 10)}`;

async function createOrg(body: Record<string, unknown>) {
  const res = await t.call(t.adminKey, 'POST', '/v1/organizations', { name: unique('org'), ...body });
  expect(res.status, res.raw).toBe(201);
  return res.body as { id: string; name: string; plan: string; seat_limit: number | null };
}

async function createWorkspace(orgId: string, name = unique('ws')) {
  const res = await t.call(t.adminKey, 'POST', `/v1/organizations/${orgId}/workspaces`, { name });
  expect(res.status, res.raw).toBe(201);
  return res.body as { id: string; organization_id: string; name: string; status: string };
}

async function createUser(email = `${unique('user')}@example.com`) {
  const res = await t.call(t.adminKey, 'POST', '/v1/users', { email, name: 'A Person' });
  expect(res.status, res.raw).toBe(201);
  return res.body as { id: string; email: string };
}

async function createKey(workspaceId: string, scopes: string[]) {
  const res = await t.call(t.adminKey, 'POST', `/v1/workspaces/${workspaceId}/api-keys`, { name: 'scoped', scopes });
  expect(res.status, res.raw).toBe(201);
  return res.body.key as string;
}

async function auditFor(action: string, resourceId: string) {
  const res = await t.call(t.adminKey, 'GET', `/v1/audit?action=${encodeURIComponent(action)}&limit=1000`);
  expect(res.status, res.raw).toBe(200);
  return (res.body.data as any[]).filter((e) => e.resource?.id === resourceId);
}

/** A caller that is neither the platform admin nor bound to a workspace (a signed-in user, say). */
const unboundActor = (): Actor => ({
  type: 'user',
  id: 'usr_unbound',
  workspaceId: null,
  platformAdmin: false,
  scopes: ['*'],
  ip: null,
  userAgent: null,
  requestId: null,
});

describe('organizations', () => {
  test.each([
    ['free', 3],
    ['starter', 10],
    ['professional', 50],
    ['enterprise', null],
  ] as const)('a %s organization gets the plan default of %s seats', async (plan, seats) => {
    const org = await createOrg({ plan });
    expect(org).toMatchObject({ plan, seat_limit: seats });
    expect(org.id).toMatch(/^org_/);
    const again = await t.call(t.adminKey, 'GET', `/v1/organizations/${org.id}`);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(org);
  });

  test('the plan defaults to free', async () => {
    const org = await createOrg({});
    expect(org).toMatchObject({ plan: 'free', seat_limit: 3 });
  });

  test('a custom seat_limit overrides the plan default', async () => {
    expect(await createOrg({ plan: 'free', seat_limit: 7 })).toMatchObject({ plan: 'free', seat_limit: 7 });
    expect(await createOrg({ plan: 'enterprise', seat_limit: 500 })).toMatchObject({ plan: 'enterprise', seat_limit: 500 });
  });

  test('bad plans and seat limits are refused', async () => {
    const badPlan = await t.call(t.adminKey, 'POST', '/v1/organizations', { name: 'x', plan: 'gold' });
    expect(badPlan.status).toBe(400);
    expect(badPlan.body.error.code).toBe('validation_failed');
    const zeroSeats = await t.call(t.adminKey, 'POST', '/v1/organizations', { name: 'x', seat_limit: 0 });
    expect(zeroSeats.status).toBe(400);
  });

  test('creating an organization is audited', async () => {
    const org = await createOrg({ plan: 'professional' });
    const [entry, ...more] = await auditFor('organization.created', org.id);
    expect(more).toHaveLength(0);
    expect(entry).toMatchObject({ category: 'tenancy', outcome: 'success', workspace_id: null, before: null });
    expect(entry.after).toMatchObject({ id: org.id, plan: 'professional', seat_limit: 50 });
  });

  test('only the platform admin creates organizations', async () => {
    const seeded = await seedWorkspace(t);
    const res = await t.call(seeded.key, 'POST', '/v1/organizations', { name: 'sneaky' });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('forbidden');
  });

  test('the platform admin lists every organization and reads any', async () => {
    const a = await createOrg({});
    const b = await createOrg({ plan: 'starter' });
    const list = await t.call(t.adminKey, 'GET', '/v1/organizations');
    expect(list.status).toBe(200);
    const ids = (list.body.data as { id: string }[]).map((o) => o.id);
    expect(ids).toEqual(expect.arrayContaining([a.id, b.id]));
    expect((await t.call(t.adminKey, 'GET', `/v1/organizations/${b.id}`)).body).toMatchObject({ id: b.id, plan: 'starter' });
    const missing = await t.call(t.adminKey, 'GET', '/v1/organizations/org_doesnotexist');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
  });

  test('a caller bound to no workspace sees no organization', async () => {
    const seeded = await seedWorkspace(t);
    expect(await t.services.tenancy.listOrganizations(unboundActor(), { limit: 10 })).toEqual({ data: [], next_cursor: null });
    await expect(t.services.tenancy.getOrganization(unboundActor(), seeded.org.id)).rejects.toMatchObject({ code: 'not_found' });
  });

  test('a workspace key sees only its own organization', async () => {
    const mine = await seedWorkspace(t);
    const theirs = await seedWorkspace(t);
    const list = await t.call(mine.key, 'GET', '/v1/organizations');
    expect(list.status).toBe(200);
    expect((list.body.data as { id: string }[]).map((o) => o.id)).toEqual([mine.org.id]);
    expect((await t.call(mine.key, 'GET', `/v1/organizations/${mine.org.id}`)).status).toBe(200);
    const foreign = await t.call(mine.key, 'GET', `/v1/organizations/${theirs.org.id}`);
    expect(foreign.status).toBe(404);
    expect(foreign.body.error.code).toBe('not_found');
  });
});

describe('workspaces', () => {
  test('create, and a duplicate name in one organization is a conflict', async () => {
    const org = await createOrg({ plan: 'starter' });
    const other = await createOrg({ plan: 'starter' });
    const ws = await createWorkspace(org.id, 'Sales');
    expect(ws).toMatchObject({ organization_id: org.id, name: 'Sales', status: 'active' });
    expect(ws.id).toMatch(/^ws_/);
    const dup = await t.call(t.adminKey, 'POST', `/v1/organizations/${org.id}/workspaces`, { name: 'Sales' });
    expect(dup.status).toBe(409);
    expect(dup.body.error.code).toBe('conflict');
    // The same name in another organization is fine.
    await createWorkspace(other.id, 'Sales');
    const rows = await t.services.database.db.selectFrom('workspaces').select('id').where('organization_id', '=', org.id).execute();
    expect(rows).toHaveLength(1);
  });

  test('a workspace in a missing organization is 404', async () => {
    const res = await t.call(t.adminKey, 'POST', '/v1/organizations/org_nope/workspaces', { name: 'x' });
    expect(res.status).toBe(404);
  });

  test('creating a workspace is audited with the workspace as its scope', async () => {
    const org = await createOrg({});
    const ws = await createWorkspace(org.id);
    const [entry, ...more] = await auditFor('workspace.created', ws.id);
    expect(more).toHaveLength(0);
    expect(entry).toMatchObject({ workspace_id: ws.id, category: 'tenancy', resource: { type: 'workspace', id: ws.id }, outcome: 'success' });
    expect(entry.after).toMatchObject({ id: ws.id, name: ws.name, organization_id: org.id });
  });

  test('the list is filtered by organization_id', async () => {
    const org = await createOrg({});
    const other = await createOrg({});
    const w1 = await createWorkspace(org.id);
    const w2 = await createWorkspace(org.id);
    const w3 = await createWorkspace(other.id);
    const filtered = await t.call(t.adminKey, 'GET', `/v1/workspaces?organization_id=${org.id}`);
    expect(filtered.status).toBe(200);
    expect((filtered.body.data as { id: string }[]).map((w) => w.id)).toEqual([w1.id, w2.id]);
    const all = await t.call(t.adminKey, 'GET', '/v1/workspaces');
    expect((all.body.data as { id: string }[]).map((w) => w.id)).toEqual(expect.arrayContaining([w1.id, w2.id, w3.id]));
  });

  test('a workspace key lists and reads only its own workspace', async () => {
    const mine = await seedWorkspace(t);
    const sibling = await createWorkspace(mine.org.id);
    const theirs = await seedWorkspace(t);
    const list = await t.call(mine.key, 'GET', '/v1/workspaces');
    expect((list.body.data as { id: string }[]).map((w) => w.id)).toEqual([mine.workspace.id]);
    // Even naming its own organization does not reveal the sibling workspace.
    const byOrg = await t.call(mine.key, 'GET', `/v1/workspaces?organization_id=${mine.org.id}`);
    expect((byOrg.body.data as { id: string }[]).map((w) => w.id)).toEqual([mine.workspace.id]);
    expect((await t.call(mine.key, 'GET', `/v1/workspaces/${sibling.id}`)).status).toBe(404);
    expect((await t.call(mine.key, 'GET', `/v1/workspaces/${theirs.workspace.id}`)).status).toBe(404);
    const patch = await t.call(mine.key, 'PATCH', `/v1/workspaces/${theirs.workspace.id}`, { name: 'taken over' });
    expect(patch.status).toBe(404);
    expect((await t.call(t.adminKey, 'GET', `/v1/workspaces/${theirs.workspace.id}`)).body.name).toBe(theirs.workspace.name);
  });

  test('the workspace list pages by cursor, oldest first, every workspace exactly once', async () => {
    const org = await createOrg({});
    const made: string[] = [];
    for (let i = 0; i < 7; i++) made.push((await createWorkspace(org.id, `Paged ${i}`)).id);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await t.call(t.adminKey, 'GET', `/v1/workspaces?organization_id=${org.id}&limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      seen.push(...(res.body.data as { id: string }[]).map((w) => w.id));
      cursor = res.body.next_cursor as string | null;
      pages++;
    } while (cursor);
    expect(seen).toEqual(made);
    expect(pages).toBe(3);
    const bad = await t.call(t.adminKey, 'GET', '/v1/workspaces?cursor=bm90LWEtY3Vyc29y');
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('validation_failed');
    // A well-formed cursor naming a time PostgreSQL cannot hold is refused too, never a 500.
    const ancient = Buffer.from('-100000-01-01T00:00:00.000Z|ws_x').toString('base64url');
    expect((await t.call(t.adminKey, 'GET', `/v1/workspaces?cursor=${ancient}`)).status).toBe(400);
  });

  test('a caller bound to no workspace sees no workspace', async () => {
    const seeded = await seedWorkspace(t);
    const none = { data: [], next_cursor: null };
    expect(await t.services.tenancy.listWorkspaces(unboundActor(), {}, { limit: 10 })).toEqual(none);
    expect(await t.services.tenancy.listWorkspaces(unboundActor(), { organization_id: seeded.org.id }, { limit: 10 })).toEqual(none);
    await expect(t.services.tenancy.getWorkspace(unboundActor(), seeded.workspace.id)).rejects.toMatchObject({ code: 'not_found' });
  });

  test('PATCH changes name and status and audits before and after', async () => {
    const org = await createOrg({});
    const ws = await createWorkspace(org.id, 'Before');
    const renamed = await t.call(t.adminKey, 'PATCH', `/v1/workspaces/${ws.id}`, { name: 'After' });
    expect(renamed.status, renamed.raw).toBe(200);
    expect(renamed.body).toMatchObject({ id: ws.id, name: 'After', status: 'active' });
    const paused = await t.call(t.adminKey, 'PATCH', `/v1/workspaces/${ws.id}`, { status: 'inactive' });
    expect(paused.body).toMatchObject({ name: 'After', status: 'inactive' });
    expect((await t.call(t.adminKey, 'GET', `/v1/workspaces/${ws.id}`)).body).toMatchObject({ name: 'After', status: 'inactive' });

    const entries = await auditFor('workspace.updated', ws.id);
    expect(entries).toHaveLength(2);
    const [statusChange, rename] = entries; // newest first
    expect(rename.before).toMatchObject({ name: 'Before', status: 'active' });
    expect(rename.after).toMatchObject({ name: 'After', status: 'active' });
    expect(statusChange.before).toMatchObject({ name: 'After', status: 'active' });
    expect(statusChange.after).toMatchObject({ name: 'After', status: 'inactive' });
    expect(statusChange.workspace_id).toBe(ws.id);
  });

  test('PATCH to a name taken in the organization is a conflict and changes nothing', async () => {
    const org = await createOrg({});
    await createWorkspace(org.id, 'Taken');
    const ws = await createWorkspace(org.id, 'Free');
    const res = await t.call(t.adminKey, 'PATCH', `/v1/workspaces/${ws.id}`, { name: 'Taken' });
    expect(res.status).toBe(409);
    expect((await t.call(t.adminKey, 'GET', `/v1/workspaces/${ws.id}`)).body.name).toBe('Free');
    expect(await auditFor('workspace.updated', ws.id)).toHaveLength(0);
  });

  test('PATCH needs a field and a valid status', async () => {
    const org = await createOrg({});
    const ws = await createWorkspace(org.id);
    expect((await t.call(t.adminKey, 'PATCH', `/v1/workspaces/${ws.id}`, {})).status).toBe(400);
    expect((await t.call(t.adminKey, 'PATCH', `/v1/workspaces/${ws.id}`, { status: 'deleted' })).status).toBe(400);
  });
});

describe('users', () => {
  test('create a user; the same email in another case is a conflict', async () => {
    const email = `${unique('Mixed.Case')}@Example.COM`;
    const user = await createUser(email);
    expect(user).toMatchObject({ email, name: 'A Person', platform_admin: false });
    expect(user.id).toMatch(/^usr_/);
    const dup = await t.call(t.adminKey, 'POST', '/v1/users', { email: email.toLowerCase(), name: 'Someone else' });
    expect(dup.status).toBe(409);
    expect(dup.body.error.code).toBe('conflict');
    const dupUpper = await t.call(t.adminKey, 'POST', '/v1/users', { email: email.toUpperCase(), name: 'Someone else' });
    expect(dupUpper.status).toBe(409);
    const { rows } = await sql<{ n: string }>`select count(*) as n from users where lower(email) = lower(${email})`.execute(t.services.database.db);
    expect(Number(rows[0].n)).toBe(1);
  });

  test('only the platform admin creates users', async () => {
    const seeded = await seedWorkspace(t);
    const res = await t.call(seeded.key, 'POST', '/v1/users', { email: `${unique('u')}@example.com`, name: 'x' });
    expect(res.status).toBe(403);
  });

  test('a password never appears in the response, the audit trail, the logs or the users table', async () => {
    const password = `Pl41n-${unique('correct-horse-battery')}`;
    const email = `${unique('pw')}@example.com`;
    const res = await t.call(t.adminKey, 'POST', '/v1/users', { email, name: 'Has Password', password });
    expect(res.status, res.raw).toBe(201);
    expect(res.raw).not.toContain(password);
    expect(res.body).not.toHaveProperty('password');
    expect(res.body).not.toHaveProperty('password_hash');

    const { rows: users } = await sql`select * from users where id = ${res.body.id}`.execute(t.services.database.db);
    expect(users).toHaveLength(1);
    const row = users[0] as { password_hash: string | null };
    expect(row.password_hash).toBeTruthy();
    expect(JSON.stringify(users)).not.toContain(password);

    const { rows: audit } = await sql`select * from audit_log`.execute(t.services.database.db);
    expect(JSON.stringify(audit)).toContain(res.body.id);
    expect(JSON.stringify(audit)).not.toContain(password);
    expect(JSON.stringify(audit)).not.toContain(row.password_hash!);

    // A failed creation (duplicate) must not leak it either.
    const dup = await t.call(t.adminKey, 'POST', '/v1/users', { email, name: 'again', password });
    expect(dup.status).toBe(409);
    expect(dup.raw).not.toContain(password);

    expect(t.logs.length).toBeGreaterThan(0);
    expect(t.logs.join('\n')).not.toContain(password);
  });

  test('a too-short password is refused', async () => {
    const res = await t.call(t.adminKey, 'POST', '/v1/users', { email: `${unique('s')}@example.com`, name: 'x', password: 'short' });
    expect(res.status).toBe(400);
  });
});

describe('members', () => {
  test('every role can be given, and re-adding changes the role', async () => {
    const org = await createOrg({ plan: 'starter' });
    const ws = await createWorkspace(org.id);
    const roles = ['admin', 'manager', 'member', 'read_only'] as const;
    const users = [];
    for (const role of roles) {
      const user = await createUser();
      users.push(user);
      const res = await t.call(t.adminKey, 'POST', `/v1/workspaces/${ws.id}/members`, { user_id: user.id, role });
      expect(res.status, res.raw).toBe(201);
      expect(res.body).toMatchObject({ workspace_id: ws.id, user_id: user.id, role, email: user.email });
    }
    const bad = await t.call(t.adminKey, 'POST', `/v1/workspaces/${ws.id}/members`, { user_id: users[0].id, role: 'owner' });
    expect(bad.status).toBe(400);

    const changed = await t.call(t.adminKey, 'POST', `/v1/workspaces/${ws.id}/members`, { user_id: users[3].id, role: 'admin' });
    expect(changed.status).toBe(201);
    expect(changed.body.role).toBe('admin');

    const list = await t.call(t.adminKey, 'GET', `/v1/workspaces/${ws.id}/members`);
    expect(list.status).toBe(200);
    expect(list.body.data).toHaveLength(4);
    const roleOf = Object.fromEntries((list.body.data as { user_id: string; role: string }[]).map((m) => [m.user_id, m.role]));
    expect(roleOf).toEqual({ [users[0].id]: 'admin', [users[1].id]: 'manager', [users[2].id]: 'member', [users[3].id]: 'admin' });

    const added = await auditFor('member.added', users[0].id);
    expect(added).toHaveLength(1);
    expect(added[0]).toMatchObject({ workspace_id: ws.id, before: null, after: { role: 'admin' } });
    const reroled = await auditFor('member.role_changed', users[3].id);
    expect(reroled).toHaveLength(1);
    expect(reroled[0]).toMatchObject({ before: { role: 'read_only' }, after: { role: 'admin' } });
  });

  test('an unknown user is 404', async () => {
    const org = await createOrg({});
    const ws = await createWorkspace(org.id);
    const res = await t.call(t.adminKey, 'POST', `/v1/workspaces/${ws.id}/members`, { user_id: 'usr_nobody', role: 'member' });
    expect(res.status).toBe(404);
  });

  test('the seat limit counts people, not memberships', async () => {
    const org = await createOrg({ plan: 'professional', seat_limit: 2 });
    const ws1 = await createWorkspace(org.id);
    const ws2 = await createWorkspace(org.id);
    const [u1, u2, u3] = [await createUser(), await createUser(), await createUser()];
    expect((await t.call(t.adminKey, 'POST', `/v1/workspaces/${ws1.id}/members`, { user_id: u1.id, role: 'admin' })).status).toBe(201);
    expect((await t.call(t.adminKey, 'POST', `/v1/workspaces/${ws1.id}/members`, { user_id: u2.id, role: 'member' })).status).toBe(201);

    const third = await t.call(t.adminKey, 'POST', `/v1/workspaces/${ws1.id}/members`, { user_id: u3.id, role: 'member' });
    expect(third.status).toBe(409);
    expect(third.body.error.code).toBe('conflict');
    expect(third.body.error.details).toMatchObject({ reason: 'seat_limit_reached', seat_limit: 2, seats_used: 2 });
    // Nor can the third person get in through the other workspace.
    const sideDoor = await t.call(t.adminKey, 'POST', `/v1/workspaces/${ws2.id}/members`, { user_id: u3.id, role: 'member' });
    expect(sideDoor.status).toBe(409);
    expect(sideDoor.body.error.details.reason).toBe('seat_limit_reached');

    // An existing member joins a second workspace of the organization: no extra seat.
    const second = await t.call(t.adminKey, 'POST', `/v1/workspaces/${ws2.id}/members`, { user_id: u1.id, role: 'read_only' });
    expect(second.status, second.raw).toBe(201);
    // And a full organization can still change an existing member's role.
    const rerole = await t.call(t.adminKey, 'POST', `/v1/workspaces/${ws1.id}/members`, { user_id: u2.id, role: 'manager' });
    expect(rerole.status).toBe(201);
    expect(rerole.body.role).toBe('manager');

    expect((await t.call(t.adminKey, 'GET', `/v1/workspaces/${ws1.id}/members`)).body.data).toHaveLength(2);
    expect((await t.call(t.adminKey, 'GET', `/v1/workspaces/${ws2.id}/members`)).body.data).toHaveLength(1);
    const { rows } = await sql<{ n: string }>`
      select count(*) as n from members m join workspaces w on w.id = m.workspace_id where w.organization_id = ${org.id} and m.user_id = ${u3.id}`.execute(t.services.database.db);
    expect(Number(rows[0].n)).toBe(0);
  });

  test('the free plan default of 3 seats is enforced', async () => {
    const org = await createOrg({ plan: 'free' });
    const ws = await createWorkspace(org.id);
    const statuses = [];
    for (let i = 0; i < 4; i++) {
      const user = await createUser();
      statuses.push((await t.call(t.adminKey, 'POST', `/v1/workspaces/${ws.id}/members`, { user_id: user.id, role: 'member' })).status);
    }
    expect(statuses).toEqual([201, 201, 201, 409]);
  });

  test('concurrent adds never exceed the seat limit', async () => {
    const org = await createOrg({ plan: 'enterprise', seat_limit: 2 });
    const ws1 = await createWorkspace(org.id);
    const ws2 = await createWorkspace(org.id);
    const users = [];
    for (let i = 0; i < 5; i++) users.push(await createUser());
    const results = await Promise.all(
      users.map((u, i) => t.call(t.adminKey, 'POST', `/v1/workspaces/${i % 2 ? ws2.id : ws1.id}/members`, { user_id: u.id, role: 'member' })),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([201, 201, 409, 409, 409]);
    for (const r of results.filter((r) => r.status === 409)) expect(r.body.error.details.reason).toBe('seat_limit_reached');
    const { rows } = await sql<{ n: string }>`
      select count(distinct m.user_id) as n from members m join workspaces w on w.id = m.workspace_id where w.organization_id = ${org.id}`.execute(t.services.database.db);
    expect(Number(rows[0].n)).toBe(2);
  });

  test('a workspace key manages its own members only with members:write', async () => {
    const seeded = await seedWorkspace(t);
    const reader = await createKey(seeded.workspace.id, ['members:read', 'workspaces:read']);
    // Granting the member role takes holding what it holds; the person must be of the organization.
    const writer = await createKey(seeded.workspace.id, ['members:read', 'members:write', ...ROLE_SCOPES.member]);
    const user = await createUser();
    const sibling = await t.call(t.adminKey, 'POST', `/v1/organizations/${seeded.org.id}/workspaces`, { name: 'sibling' });
    await t.call(t.adminKey, 'POST', `/v1/workspaces/${sibling.body.id}/members`, { user_id: user.id, role: 'read_only' });

    const refused = await t.call(reader, 'POST', `/v1/workspaces/${seeded.workspace.id}/members`, { user_id: user.id, role: 'member' });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('forbidden');
    expect(refused.body.error.details).toMatchObject({ required_scope: 'members:write' });
    expect((await t.call(reader, 'GET', `/v1/workspaces/${seeded.workspace.id}/members`)).body.data).toHaveLength(0);

    const added = await t.call(writer, 'POST', `/v1/workspaces/${seeded.workspace.id}/members`, { user_id: user.id, role: 'member' });
    expect(added.status, added.raw).toBe(201);
    expect((await t.call(reader, 'GET', `/v1/workspaces/${seeded.workspace.id}/members`)).body.data).toHaveLength(1);
  });

  test("a workspace key gets 404 for another workspace's members", async () => {
    const mine = await seedWorkspace(t);
    const theirs = await seedWorkspace(t);
    const user = await createUser();
    const add = await t.call(mine.key, 'POST', `/v1/workspaces/${theirs.workspace.id}/members`, { user_id: user.id, role: 'admin' });
    expect(add.status).toBe(404);
    expect(add.body.error.code).toBe('not_found');
    const list = await t.call(mine.key, 'GET', `/v1/workspaces/${theirs.workspace.id}/members`);
    expect(list.status).toBe(404);
    expect((await t.call(t.adminKey, 'GET', `/v1/workspaces/${theirs.workspace.id}/members`)).body.data).toHaveLength(0);
  });
});
