import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';
import { person, signIn, type SessionCall } from '../helpers/people.js';

// An organization run by its own people: organization roles inherited by its workspaces, owners and
// admins who create and archive workspaces and manage people without the platform admin, the
// privilege ceiling on every grant, and the organization's own audit trail.
let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t?.close());

/** An organization with one workspace and a person who owns it (placed there by the platform admin). */
async function ownedOrganization() {
  const seed = await seedWorkspace(t);
  const owner = await person(t);
  const res = await t.call(t.adminKey, 'POST', `/v1/organizations/${seed.org.id}/members`, { email: owner.email, role: 'owner' });
  expect(res.status, res.raw).toBe(201);
  expect(res.body).toMatchObject({ organization_id: seed.org.id, user_id: owner.id, role: 'owner' });
  return { ...seed, owner, as: await signIn(t, owner.email) };
}

const me = async (call: SessionCall) => (await call('GET', '/v1/auth/me')).body.user;

describe('organization roles', () => {
  test('an owner creates workspaces in the organization without the platform admin, and reaches each as admin', async () => {
    const o = await ownedOrganization();
    const ws = await o.as('POST', `/v1/organizations/${o.org.id}/workspaces`, { name: 'made-by-owner' });
    expect(ws.status, ws.raw).toBe(201);
    const user = await me(o.as);
    expect(user.organizations).toEqual([{ organization_id: o.org.id, role: 'owner' }]);
    const roles = Object.fromEntries(user.memberships.map((m: { workspace_id: string; role: string }) => [m.workspace_id, m.role]));
    expect(roles).toEqual({ [o.workspace.id]: 'admin', [ws.body.id]: 'admin' });
    // Admin there means keys can be made in it.
    const key = await o.as('POST', `/v1/workspaces/${ws.body.id}/api-keys`, { name: 'k', scopes: ['keys:read'] });
    expect(key.status, key.raw).toBe(201);
    // Another organization's workspace is still nowhere.
    const other = await seedWorkspace(t);
    expect((await o.as('GET', `/v1/workspaces/${other.workspace.id}`)).status).toBe(404);
    expect((await o.as('POST', `/v1/organizations/${other.org.id}/workspaces`, { name: 'x' })).status).toBe(404);
  });

  test('a workspace may grant more than the organization role, never less', async () => {
    const o = await ownedOrganization();
    const reader = await person(t, o.workspace.id, 'manager');
    expect((await o.as('POST', `/v1/organizations/${o.org.id}/members`, { user_id: reader.id, role: 'read_only' })).status).toBe(201);
    const second = await o.as('POST', `/v1/organizations/${o.org.id}/workspaces`, { name: 'second' });
    const roles = Object.fromEntries((await me(await signIn(t, reader.email))).memberships.map((m: { workspace_id: string; role: string }) => [m.workspace_id, m.role]));
    expect(roles).toEqual({ [o.workspace.id]: 'manager', [second.body.id]: 'read_only' });
  });

  test('the plan limits the workspaces its people create; archiving one frees room, restoring takes it again', async () => {
    const o = await ownedOrganization();
    expect((await t.call(t.adminKey, 'PATCH', `/v1/organizations/${o.org.id}`, { workspace_limit: 2 })).status).toBe(200);
    const second = await o.as('POST', `/v1/organizations/${o.org.id}/workspaces`, { name: 'second' });
    expect(second.status, second.raw).toBe(201);
    const third = await o.as('POST', `/v1/organizations/${o.org.id}/workspaces`, { name: 'third' });
    expect(third.status).toBe(409);
    expect(third.body.error.details).toMatchObject({ reason: 'workspace_limit_reached', workspace_limit: 2, workspaces: 2 });
    const archived = await o.as('POST', `/v1/workspaces/${second.body.id}/archive`);
    expect(archived.status, archived.raw).toBe(200);
    expect(archived.body).toMatchObject({ status: 'inactive' });
    expect(archived.body.archived_at).toEqual(expect.any(String));
    expect((await o.as('POST', `/v1/organizations/${o.org.id}/workspaces`, { name: 'third' })).status).toBe(201);
    const restore = await o.as('POST', `/v1/workspaces/${second.body.id}/restore`);
    expect(restore.status).toBe(409);
    expect(restore.body.error.details.reason).toBe('workspace_limit_reached');
  });

  test('two creations at once cannot both take the last workspace', async () => {
    const o = await ownedOrganization();
    await t.call(t.adminKey, 'PATCH', `/v1/organizations/${o.org.id}`, { workspace_limit: 2 });
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => o.as('POST', `/v1/organizations/${o.org.id}/workspaces`, { name: `race-${i}` })));
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409, 409]);
  });

  test('an owner runs the name and the two-factor rule, not the plan or the limits', async () => {
    const o = await ownedOrganization();
    const ok = await o.as('PATCH', `/v1/organizations/${o.org.id}`, { name: `renamed-${o.org.id}` });
    expect(ok.status, ok.raw).toBe(200);
    for (const body of [{ plan: 'enterprise' }, { seat_limit: 1000 }, { workspace_limit: 1000 }]) {
      expect((await o.as('PATCH', `/v1/organizations/${o.org.id}`, body)).status).toBe(403);
    }
  });

  test('a member of the organization below admin manages nothing in it', async () => {
    const o = await ownedOrganization();
    const m = await person(t, o.workspace.id, 'member');
    await o.as('POST', `/v1/organizations/${o.org.id}/members`, { user_id: m.id, role: 'member' });
    const as = await signIn(t, m.email);
    expect((await as('GET', `/v1/organizations/${o.org.id}/members`)).status).toBe(200);
    const denied = await as('POST', `/v1/organizations/${o.org.id}/workspaces`, { name: 'nope' });
    expect(denied.status).toBe(403);
    expect(denied.body.error.details).toMatchObject({ reason: 'organization_role', role: 'member', required_role: 'admin' });
    expect((await as('GET', `/v1/audit?organization_id=${o.org.id}`)).status).toBe(403);
  });
});

describe('people of an organization', () => {
  test('nobody grants an organization role above their own, or changes someone above them', async () => {
    const o = await ownedOrganization();
    const a = await person(t, o.workspace.id, 'member');
    expect((await o.as('POST', `/v1/organizations/${o.org.id}/members`, { user_id: a.id, role: 'admin' })).status).toBe(201);
    const admin = await signIn(t, a.email);
    const b = await person(t, o.workspace.id, 'member');
    const beyond = await admin('POST', `/v1/organizations/${o.org.id}/members`, { user_id: b.id, role: 'owner' });
    expect(beyond.status).toBe(403);
    expect(beyond.body.error.details).toMatchObject({ reason: 'role_beyond_granter', role: 'owner' });
    expect((await admin('POST', `/v1/organizations/${o.org.id}/members`, { user_id: b.id, role: 'admin' })).status).toBe(201);
    // The owner is above them: neither demoted nor removed by an admin.
    expect((await admin('PATCH', `/v1/organizations/${o.org.id}/members/${o.owner.id}`, { role: 'member' })).status).toBe(403);
    expect((await admin('DELETE', `/v1/organizations/${o.org.id}/members/${o.owner.id}`)).status).toBe(403);
    // Nor does an admin make themselves owner.
    expect((await admin('PATCH', `/v1/organizations/${o.org.id}/members/${a.id}`, { role: 'owner' })).status).toBe(403);
  });

  test('the last owner stays: neither demoted nor removed, until another owner exists', async () => {
    const o = await ownedOrganization();
    const demote = await o.as('PATCH', `/v1/organizations/${o.org.id}/members/${o.owner.id}`, { role: 'admin' });
    expect(demote.status).toBe(409);
    expect(demote.body.error.details.reason).toBe('last_owner');
    expect((await o.as('DELETE', `/v1/organizations/${o.org.id}/members/${o.owner.id}`)).status).toBe(409);
    const next = await person(t, o.workspace.id, 'member');
    expect((await o.as('POST', `/v1/organizations/${o.org.id}/members`, { user_id: next.id, role: 'owner' })).status).toBe(201);
    expect((await o.as('PATCH', `/v1/organizations/${o.org.id}/members/${o.owner.id}`, { role: 'admin' })).status).toBe(200);
  });

  test('people outside the organization come in by invitation: existing or not, one answer', async () => {
    const o = await ownedOrganization();
    const outsider = await person(t);
    const known = await o.as('POST', `/v1/organizations/${o.org.id}/members`, { email: outsider.email, role: 'member' });
    const unknown = await o.as('POST', `/v1/organizations/${o.org.id}/members`, { email: 'nobody-at-all@example.com', role: 'member' });
    const byId = await o.as('POST', `/v1/organizations/${o.org.id}/members`, { user_id: outsider.id, role: 'member' });
    for (const res of [known, unknown, byId]) {
      expect(res.status).toBe(403);
      expect(res.body.error.details).toEqual({ reason: 'not_in_organization' });
    }
    const { request_id: _a, ...knownBody } = known.body.error;
    const { request_id: _b, ...unknownBody } = unknown.body.error;
    expect(knownBody).toEqual(unknownBody);
    expect((await o.as('POST', `/v1/organizations/${o.org.id}/members`, { role: 'member' })).status).toBe(400);
  });

  test('a workspace key, even with members:write, holds no organization role', async () => {
    const o = await ownedOrganization();
    const p = await person(t, o.workspace.id, 'member');
    const res = await t.call(o.key, 'POST', `/v1/organizations/${o.org.id}/members`, { user_id: p.id, role: 'owner' });
    expect(res.status).toBe(403);
    const other = await seedWorkspace(t);
    expect((await t.call(o.key, 'GET', `/v1/organizations/${other.org.id}/members`)).status).toBe(404);
  });

  test('a person taken out of the organization leaves all its workspaces and loses their sessions at once', async () => {
    const o = await ownedOrganization();
    const second = await o.as('POST', `/v1/organizations/${o.org.id}/workspaces`, { name: 'second' });
    const p = await person(t, second.body.id, 'manager');
    await o.as('POST', `/v1/organizations/${o.org.id}/members`, { user_id: p.id, role: 'member' });
    const theirs = await signIn(t, p.email);
    expect((await theirs('GET', `/v1/workspaces/${o.workspace.id}`)).status).toBe(200);
    expect((await o.as('DELETE', `/v1/organizations/${o.org.id}/members/${p.id}`)).status).toBe(204);
    const after = await theirs('GET', '/v1/auth/me');
    expect(after.status).toBe(401);
    expect(after.body.error.details.reason).toBe('session_expired');
    const members = await o.as('GET', `/v1/workspaces/${second.body.id}/members`);
    expect(members.body.data.map((m: { user_id: string }) => m.user_id)).not.toContain(p.id);
    expect((await o.as('DELETE', `/v1/organizations/${o.org.id}/members/${p.id}`)).status).toBe(404);
  });

  test('seats hold when many people join at once', async () => {
    const o = await ownedOrganization();
    // The owner and the seed workspace hold none but the owner: one more seat is left.
    await t.call(t.adminKey, 'PATCH', `/v1/organizations/${o.org.id}`, { seat_limit: 2 });
    const newcomers = await Promise.all(Array.from({ length: 5 }, () => person(t)));
    const results = await Promise.all(newcomers.map((p) => t.call(t.adminKey, 'POST', `/v1/organizations/${o.org.id}/members`, { user_id: p.id, role: 'member' })));
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409]);
    expect(results.find((r) => r.status === 409)!.body.error.details).toMatchObject({ reason: 'seat_limit_reached', seat_limit: 2, seats_used: 2 });
    const list = await t.call(t.adminKey, 'GET', '/v1/organizations?limit=100');
    expect(list.body.data.find((x: { id: string }) => x.id === o.org.id).seats_used).toBe(2);
  });
});

describe("an organization's audit trail", () => {
  test('its owners read its entries and its workspaces\', named by organization; no one else does', async () => {
    const o = await ownedOrganization();
    const ws = await o.as('POST', `/v1/organizations/${o.org.id}/workspaces`, { name: 'audited' });
    await o.as('POST', `/v1/workspaces/${ws.body.id}/api-keys`, { name: 'k', scopes: ['keys:read'] });
    const trail = await o.as('GET', `/v1/audit?organization_id=${o.org.id}&limit=1000`);
    expect(trail.status, trail.raw).toBe(200);
    const actions = trail.body.data.map((e: { action: string }) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['organization.member_added', 'workspace.created', 'key.created']));
    const added = trail.body.data.find((e: { action: string }) => e.action === 'organization.member_added');
    expect(added).toMatchObject({ organization_id: o.org.id, workspace_id: null, resource: { type: 'user', id: o.owner.id }, after: { role: 'owner' } });
    const created = trail.body.data.find((e: { action: string }) => e.action === 'workspace.created');
    expect(created).toMatchObject({ organization_id: o.org.id, workspace_id: ws.body.id, actor: { type: 'user', id: o.owner.id } });
    // Nothing of another organization.
    const other = await seedWorkspace(t);
    expect(trail.body.data.some((e: { workspace_id: string | null }) => e.workspace_id === other.workspace.id)).toBe(false);
    expect((await o.as('GET', `/v1/audit?organization_id=${other.org.id}`)).status).toBe(404);
    expect((await o.as('GET', `/v1/audit?organization_id=${o.org.id}&workspace_id=${other.workspace.id}`)).status).toBe(404);
    // The chain still verifies with the new column in it.
    const verify = await t.call(t.adminKey, 'GET', '/v1/audit/verify');
    expect(verify.body.ok, verify.raw).toBe(true);
  });
});
