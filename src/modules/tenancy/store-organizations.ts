import type { Executor, DB } from '../../db/types.js';
import { pageAfter } from '../../db/paging.js';
import type { PageRequest } from '../../lib/paging.js';

export type OrgRole = DB['organization_members']['role'];

export async function getOrgMember(db: Executor, organizationId: string, userId: string) {
  return db.selectFrom('organization_members').selectAll().where('organization_id', '=', organizationId).where('user_id', '=', userId).executeTakeFirst();
}

export async function upsertOrgMember(trx: Executor, organizationId: string, userId: string, role: OrgRole) {
  return trx
    .insertInto('organization_members')
    .values({ organization_id: organizationId, user_id: userId, role })
    .onConflict((oc) => oc.columns(['organization_id', 'user_id']).doUpdateSet({ role }))
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function deleteOrgMember(trx: Executor, organizationId: string, userId: string) {
  return trx.deleteFrom('organization_members').where('organization_id', '=', organizationId).where('user_id', '=', userId).returningAll().executeTakeFirst();
}

/** Takes a person out of every workspace of an organization; returns the workspaces they left. */
export async function deleteWorkspaceMemberships(trx: Executor, organizationId: string, userId: string) {
  const rows = await trx
    .deleteFrom('members')
    .where('user_id', '=', userId)
    .where('workspace_id', 'in', (eb) => eb.selectFrom('workspaces').select('id').where('organization_id', '=', organizationId))
    .returning(['workspace_id', 'role'])
    .execute();
  return rows;
}

export async function listOrgMembers(db: Executor, organizationId: string, page: PageRequest) {
  const q = db
    .selectFrom('organization_members as om')
    .innerJoin('users as u', 'u.id', 'om.user_id')
    .select(['om.organization_id', 'om.user_id', 'om.role', 'om.created_at', 'u.email', 'u.name'])
    .where('om.organization_id', '=', organizationId);
  return pageAfter(q, 'organization_members', page, { as: 'om', id: 'user_id', within: { organization_id: organizationId } }).execute();
}

export async function countOwners(db: Executor, organizationId: string) {
  const row = await db
    .selectFrom('organization_members')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('organization_id', '=', organizationId)
    .where('role', '=', 'owner')
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** A person's organization roles, with each organization's two-factor rule. */
export async function organizationRolesOf(db: Executor, userId: string) {
  return db
    .selectFrom('organization_members as om')
    .innerJoin('organizations as o', 'o.id', 'om.organization_id')
    .select(['om.organization_id', 'om.role', 'o.mfa_required'])
    .where('om.user_id', '=', userId)
    .execute();
}

/** Every organization a person is of: by an organization role or by a member's seat in one of its workspaces. */
export async function organizationIdsOfPerson(db: Executor, userId: string) {
  const rows = await db
    .selectFrom('organization_members')
    .select('organization_id')
    .where('user_id', '=', userId)
    .union(db.selectFrom('members as m').innerJoin('workspaces as w', 'w.id', 'm.workspace_id').select('w.organization_id').where('m.user_id', '=', userId))
    .execute();
  return rows.map((r) => r.organization_id);
}

/** The workspaces a person reaches through an organization role, with that role. */
export async function inheritedMemberships(db: Executor, userId: string) {
  return db
    .selectFrom('organization_members as om')
    .innerJoin('workspaces as w', 'w.organization_id', 'om.organization_id')
    .select(['w.id as workspace_id', 'om.role'])
    .where('om.user_id', '=', userId)
    .execute();
}

/** Workspaces that count against the plan: every one not archived. */
export async function countLiveWorkspaces(db: Executor, organizationId: string) {
  const row = await db
    .selectFrom('workspaces')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('organization_id', '=', organizationId)
    .where('archived_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function setArchived(trx: Executor, workspaceId: string, archived: boolean) {
  return trx
    .updateTable('workspaces')
    .set({ archived_at: archived ? new Date() : null, status: archived ? 'inactive' : 'active', updated_at: new Date() })
    .where('id', '=', workspaceId)
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function workspaceIdsOf(db: Executor, organizationId: string) {
  return (await db.selectFrom('workspaces').select('id').where('organization_id', '=', organizationId).execute()).map((w) => w.id);
}
