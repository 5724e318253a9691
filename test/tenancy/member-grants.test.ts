import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ROLE_SCOPES } from '../../src/modules/apikeys/scopes.js';
import { createTestApp, seedWorkspace, type TestApp } from '../helpers/app.js';
import { person, signIn } from '../helpers/people.js';

// Nobody grants a role wider than what they hold in that workspace, and a workspace admits only
// people of its organization: a `members:write` key once made anyone (from any organization) an
// admin, who then minted a `*` key.
let t: TestApp;
let mine: Awaited<ReturnType<typeof seedWorkspace>>;
let sibling: string;
let other: Awaited<ReturnType<typeof seedWorkspace>>;

beforeAll(async () => {
  t = await createTestApp();
  mine = await seedWorkspace(t, ['*'], 'grants-mine');
  other = await seedWorkspace(t, ['*'], 'grants-other');
  await t.call(t.adminKey, 'PATCH', `/v1/organizations/${mine.org.id}`, { seat_limit: 1000 });
  sibling = (await t.call(t.adminKey, 'POST', `/v1/organizations/${mine.org.id}/workspaces`, { name: 'grants-sibling' })).body.id;
});
afterAll(() => t?.close());

async function key(scopes: string[]) {
  const res = await t.call(t.adminKey, 'POST', `/v1/workspaces/${mine.workspace.id}/api-keys`, { name: 'granter', scopes });
  expect(res.status, res.raw).toBe(201);
  return res.body.key as string;
}
const roleOf = async (userId: string) =>
  (await t.call(t.adminKey, 'GET', `/v1/workspaces/${mine.workspace.id}/members`)).body.data.find((m: { user_id: string }) => m.user_id === userId)?.role;

describe('the role ceiling', () => {
  test('a key with only members:write makes nobody admin, and so mints no * key through them', async () => {
    const granter = await key(['members:read', 'members:write']);
    const insider = await person(t, sibling, 'read_only');
    for (const role of ['admin', 'manager', 'member', 'read_only'] as const) {
      const res = await t.call(granter, 'POST', `/v1/workspaces/${mine.workspace.id}/members`, { user_id: insider.id, role });
      expect(res.status, `${role}: ${res.raw}`).toBe(403);
      expect(res.body.error).toMatchObject({ code: 'forbidden', details: { reason: 'role_beyond_granter', role } });
    }
    expect(await roleOf(insider.id)).toBeUndefined();
    const asInsider = await signIn(t, insider.email);
    const minted = await asInsider('POST', `/v1/workspaces/${mine.workspace.id}/api-keys`, { name: 'all', scopes: ['*'] });
    expect([403, 404]).toContain(minted.status);
  });

  test('a key holding what a manager holds, and members:write, grants up to manager, and never touches an admin', async () => {
    const granter = await key([...ROLE_SCOPES.manager, 'members:write']);
    const insider = await person(t, sibling, 'read_only');
    const added = await t.call(granter, 'POST', `/v1/workspaces/${mine.workspace.id}/members`, { user_id: insider.id, role: 'manager' });
    expect(added.status, added.raw).toBe(201);
    expect((await t.call(granter, 'PATCH', `/v1/workspaces/${mine.workspace.id}/members/${insider.id}`, { role: 'admin' })).status).toBe(403);
    expect(await roleOf(insider.id)).toBe('manager');

    const admin = await person(t, mine.workspace.id, 'admin');
    const demote = await t.call(granter, 'PATCH', `/v1/workspaces/${mine.workspace.id}/members/${admin.id}`, { role: 'read_only' });
    expect(demote.status, demote.raw).toBe(403);
    expect((await t.call(granter, 'POST', `/v1/workspaces/${mine.workspace.id}/members`, { user_id: admin.id, role: 'member' })).status).toBe(403);
    expect((await t.call(granter, 'DELETE', `/v1/workspaces/${mine.workspace.id}/members/${admin.id}`)).status).toBe(403);
    expect(await roleOf(admin.id)).toBe('admin');
  });

  test("a person grants by their role in this workspace: admin here grants admin; admin elsewhere doesn't count", async () => {
    const boss = await person(t, mine.workspace.id, 'admin');
    const asBoss = await signIn(t, boss.email);
    const insider = await person(t, sibling, 'read_only');
    const res = await asBoss('POST', `/v1/workspaces/${mine.workspace.id}/members`, { user_id: insider.id, role: 'admin' });
    expect(res.status, res.raw).toBe(201);
    // Admin of the sibling workspace, manager here: the manager role has no members:write here.
    const split = await person(t, sibling, 'admin');
    await t.call(t.adminKey, 'POST', `/v1/workspaces/${mine.workspace.id}/members`, { user_id: split.id, role: 'manager' });
    const asSplit = await signIn(t, split.email);
    expect((await asSplit('PATCH', `/v1/workspaces/${mine.workspace.id}/members/${insider.id}`, { role: 'read_only' })).status).toBe(403);
    expect(await roleOf(insider.id)).toBe('admin');
  });
});

describe('organization membership', () => {
  test("a person of another organization, or an unknown id, is refused alike; the platform admin may add anyone", async () => {
    const outsider = await person(t, other.workspace.id, 'member');
    const loner = await person(t);
    for (const userId of [outsider.id, loner.id, 'usr_01hzzzzzzzzzzzzzzzzzzzzzzz']) {
      const res = await t.call(mine.key, 'POST', `/v1/workspaces/${mine.workspace.id}/members`, { user_id: userId, role: 'read_only' });
      expect(res.status, res.raw).toBe(403);
      expect(res.body.error).toMatchObject({ code: 'forbidden', details: { reason: 'not_in_organization', user_id: userId } });
    }
    expect(await roleOf(outsider.id)).toBeUndefined();
    const byAdmin = await t.call(t.adminKey, 'POST', `/v1/workspaces/${mine.workspace.id}/members`, { user_id: outsider.id, role: 'member' });
    expect(byAdmin.status, byAdmin.raw).toBe(201);
  });

  test('someone already in the organization is added by its own admin key', async () => {
    const insider = await person(t, sibling, 'member');
    const res = await t.call(mine.key, 'POST', `/v1/workspaces/${mine.workspace.id}/members`, { user_id: insider.id, role: 'admin' });
    expect(res.status, res.raw).toBe(201);
    expect(await roleOf(insider.id)).toBe('admin');
  });
});
