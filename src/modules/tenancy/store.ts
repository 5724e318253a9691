import { sql } from 'kysely';
import type { Executor } from '../../db/types.js';
import type { DB } from '../../db/types.js';
import type { Insertable } from 'kysely';
import { pageAfter } from '../../db/paging.js';
import type { PageRequest } from '../../lib/paging.js';

export async function insertOrganization(trx: Executor, org: Insertable<DB['organizations']>) {
  return trx.insertInto('organizations').values(org).returningAll().executeTakeFirstOrThrow();
}

export async function getOrganization(db: Executor, id: string, forUpdate = false) {
  let q = db.selectFrom('organizations').selectAll().where('id', '=', id);
  if (forUpdate) q = q.forUpdate();
  return q.executeTakeFirst();
}

/** `onlyIds` undefined: every organization; [] (a caller bound to none) matches nothing. */
export async function listOrganizations(db: Executor, onlyIds: readonly string[] | undefined, page: PageRequest) {
  let q = pageAfter(db.selectFrom('organizations').selectAll(), 'organizations', page);
  if (onlyIds !== undefined) {
    if (onlyIds.length === 0) return [];
    q = q.where('id', 'in', onlyIds);
  }
  return q.execute();
}

export async function updateOrganization(trx: Executor, id: string, patch: { name?: string; plan?: DB['organizations']['plan']; seat_limit?: number | null; mfa_required?: boolean }) {
  return trx.updateTable('organizations').set({ ...patch, updated_at: new Date() }).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
}

/** The organizations these workspaces belong to. */
export async function organizationIdsOf(db: Executor, workspaceIds: readonly string[]) {
  if (workspaceIds.length === 0) return [];
  const rows = await db.selectFrom('workspaces').select('organization_id').distinct().where('id', 'in', workspaceIds).execute();
  return rows.map((r) => r.organization_id);
}

export async function insertWorkspace(trx: Executor, ws: Insertable<DB['workspaces']>) {
  return trx.insertInto('workspaces').values(ws).returningAll().executeTakeFirstOrThrow();
}

export async function getWorkspace(db: Executor, workspaceId: string) {
  return db.selectFrom('workspaces').selectAll().where('id', '=', workspaceId).executeTakeFirst();
}

export async function listWorkspaces(db: Executor, filter: { organizationId?: string; onlyIds?: readonly string[] }, page: PageRequest) {
  let q = pageAfter(db.selectFrom('workspaces').selectAll(), 'workspaces', page);
  if (filter.organizationId) q = q.where('organization_id', '=', filter.organizationId);
  if (filter.onlyIds !== undefined) {
    if (filter.onlyIds.length === 0) return [];
    q = q.where('id', 'in', filter.onlyIds);
  }
  return q.execute();
}

export async function updateWorkspace(trx: Executor, workspaceId: string, patch: { name?: string; status?: 'active' | 'inactive'; test_mode?: boolean }) {
  return trx
    .updateTable('workspaces')
    .set({ ...patch, updated_at: new Date() })
    .where('id', '=', workspaceId)
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function insertUser(trx: Executor, user: Insertable<DB['users']>) {
  return trx.insertInto('users').values(user).returningAll().executeTakeFirstOrThrow();
}

export async function getUser(db: Executor, userId: string) {
  return db.selectFrom('users').selectAll().where('id', '=', userId).executeTakeFirst();
}

/** Where a person is a member, with each workspace's organization's two-factor rule. */
export async function membershipsOf(db: Executor, userId: string) {
  return db
    .selectFrom('members as m')
    .innerJoin('workspaces as w', 'w.id', 'm.workspace_id')
    .innerJoin('organizations as o', 'o.id', 'w.organization_id')
    .select(['m.workspace_id', 'm.role', 'o.mfa_required'])
    .where('m.user_id', '=', userId)
    .execute();
}

export async function findUserByEmail(db: Executor, email: string) {
  return db.selectFrom('users').selectAll().where(sql`lower(email)`, '=', email.toLowerCase()).executeTakeFirst();
}

export async function upsertMember(trx: Executor, workspaceId: string, userId: string, role: DB['members']['role']) {
  return trx
    .insertInto('members')
    .values({ workspace_id: workspaceId, user_id: userId, role })
    .onConflict((oc) => oc.columns(['workspace_id', 'user_id']).doUpdateSet({ role }))
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function listUsers(db: Executor, page: PageRequest) {
  return pageAfter(db.selectFrom('users').selectAll(), 'users', page).execute();
}

export async function updateMemberRole(trx: Executor, workspaceId: string, userId: string, role: DB['members']['role']) {
  return trx.updateTable('members').set({ role }).where('workspace_id', '=', workspaceId).where('user_id', '=', userId).returningAll().executeTakeFirst();
}

export async function deleteMember(trx: Executor, workspaceId: string, userId: string) {
  return trx.deleteFrom('members').where('workspace_id', '=', workspaceId).where('user_id', '=', userId).returningAll().executeTakeFirst();
}

export async function getMember(db: Executor, workspaceId: string, userId: string) {
  return db.selectFrom('members').selectAll().where('workspace_id', '=', workspaceId).where('user_id', '=', userId).executeTakeFirst();
}

export async function listMembers(db: Executor, workspaceId: string, page: PageRequest) {
  const q = db
    .selectFrom('members as m')
    .innerJoin('users as u', 'u.id', 'm.user_id')
    .select(['m.workspace_id', 'm.user_id', 'm.role', 'm.created_at', 'u.email', 'u.name'])
    .where('m.workspace_id', '=', workspaceId);
  return pageAfter(q, 'members', page, { as: 'm', id: 'user_id', within: { workspace_id: workspaceId } }).execute();
}

/**
 * The people of an organization: its own members and its workspaces' members (an organization's
 * members and a workspace's are two doors into one set, so a person counts once).
 */
function peopleOf(db: Executor, organizationIds: readonly string[]) {
  return db
    .selectFrom('members as m')
    .innerJoin('workspaces as w', 'w.id', 'm.workspace_id')
    .select(['w.organization_id', 'm.user_id'])
    .where('w.organization_id', 'in', organizationIds)
    .union(db.selectFrom('organization_members').select(['organization_id', 'user_id']).where('organization_id', 'in', organizationIds));
}

/** Seats are people: a user in three workspaces of one organization takes one seat. */
export async function seatsUsed(db: Executor, organizationId: string) {
  return (await seatsUsedByOrganization(db, [organizationId])).get(organizationId) ?? 0;
}

/** Seats taken per organization, for a list of them (one query, not one per organization). */
export async function seatsUsedByOrganization(db: Executor, organizationIds: readonly string[]): Promise<Map<string, number>> {
  if (organizationIds.length === 0) return new Map();
  const rows = await db
    .selectFrom(peopleOf(db, organizationIds).as('p'))
    .select(['p.organization_id', (eb) => eb.fn.countAll<string>().as('n')])
    .groupBy('p.organization_id')
    .execute();
  return new Map(rows.map((r) => [r.organization_id, Number(r.n)]));
}

export async function isOrgMember(db: Executor, organizationId: string, userId: string) {
  const row = await db
    .selectFrom(peopleOf(db, [organizationId]).as('p'))
    .select('p.user_id')
    .where('p.user_id', '=', userId)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}
