import type { Kysely, Selectable } from 'kysely';
import type { DB, Executor } from '../../db/types.js';
import { broaderRole, canSeeWorkspace, INHERITED_ROLE, visibleWorkspaceIds, requirePlatformAdmin, requireWithinHeld, type Actor } from '../../http/actor.js';
import { ROLE_SCOPES } from '../apikeys/scopes.js';
import { AppError, conflict, notFound, present } from '../../lib/errors.js';
import { isViolation } from '../../db/errors.js';
import { newId } from '../../lib/ids.js';
import { hashPassword } from '../../lib/password.js';
import { toPage, type PageRequest } from '../../lib/paging.js';
import type { AuditService } from '../audit/service.js';
import * as store from './store.js';
import * as orgs from './store-organizations.js';
import { organizationPeople, PLAN_SEATS, seatLimitOf, workspaceLimitOf } from './organizations.js';

export type Plan = DB['organizations']['plan'];
export type Role = DB['members']['role'];

export { PLAN_SEATS, PLAN_WORKSPACES, type OrgRole } from './organizations.js';

const orgView = (o: Selectable<DB['organizations']>) => ({
  id: o.id,
  name: o.name,
  plan: o.plan,
  seat_limit: seatLimitOf(o),
  workspace_limit: workspaceLimitOf(o),
  mfa_required: o.mfa_required,
  created_at: o.created_at.toISOString(),
});

const workspaceView = (w: Selectable<DB['workspaces']>) => ({
  id: w.id,
  organization_id: w.organization_id,
  name: w.name,
  status: w.status,
  test_mode: w.test_mode,
  archived_at: w.archived_at?.toISOString() ?? null,
  created_at: w.created_at.toISOString(),
  updated_at: w.updated_at.toISOString(),
});

const userView = (u: Selectable<DB['users']>) => ({
  id: u.id,
  email: u.email,
  name: u.name,
  platform_admin: u.platform_admin,
  mfa_enabled: u.mfa_enabled,
  created_at: u.created_at.toISOString(),
});

const isUniqueViolation = (err: unknown) => isViolation(err, 'unique');

interface Deps {
  db: Kysely<DB>;
  audit: AuditService;
  /** Ends a person's sessions when they are taken out of an organization (wired to auth by the app). */
  onPersonRemoved?: (userId: string, trx: Executor) => Promise<void>;
  /** Sets a new person's password, in the transaction that makes them: sign-in state is auth's (wired by the app). */
  setPassword: (trx: Executor, userId: string, passwordHash: string) => Promise<void>;
}

export function createTenancyService({ db, audit, onPersonRemoved = async () => {}, setPassword }: Deps) {
  /** The workspace, if this actor may see it; otherwise it does not exist (404). */
  async function requireWorkspace(actor: Actor, workspaceId: string, trx: Executor = db) {
    if (!canSeeWorkspace(actor, workspaceId)) throw notFound('workspace');
    const ws = await store.getWorkspace(trx, workspaceId);
    if (!ws) throw notFound('workspace');
    return ws;
  }

  /** The organizations of the workspaces this actor sees; undefined: all (the platform admin). */
  async function visibleOrganizationIds(actor: Actor): Promise<string[] | undefined> {
    const workspaces = visibleWorkspaceIds(actor);
    if (workspaces === undefined) return undefined;
    const ofWorkspaces = await store.organizationIdsOf(db, workspaces);
    return [...new Set([...ofWorkspaces, ...Object.keys(actor.organizations ?? {})])];
  }

  const people = organizationPeople({ db, audit, visibleOrganizationIds, onPersonRemoved, setPassword });

  /**
   * Nobody grants more than they hold: a role is given, taken or changed only by an actor whose own
   * scopes in that workspace cover the role's (a `members:write` key alone cannot make anyone admin).
   */
  function requireRoleWithin(actor: Actor, workspaceId: string, role: Role) {
    requireWithinHeld(actor, workspaceId, ROLE_SCOPES[role], `the role ${role} holds scopes you do not hold in this workspace`, { reason: 'role_beyond_granter', role });
  }

  /**
   * A workspace admits only people of its organization: someone already a member of one of its
   * workspaces (the platform admin places a person in an organization first, and may add anyone).
   * A person outside it gets the same answer whether or not they exist, so user ids cannot be probed.
   */
  async function requireInOrganization(trx: Executor, actor: Actor, organizationId: string, userId: string) {
    if (actor.platformAdmin || (await store.isOrgMember(trx, organizationId, userId))) return;
    throw new AppError('forbidden', "this person is not a member of the workspace's organization; the platform admin adds them first", {
      reason: 'not_in_organization',
      user_id: userId,
    });
  }

  return {
    requireWorkspace,
    ...people,
    archiveWorkspace: (actor: Actor, workspaceId: string, archived: boolean) =>
      people.setWorkspaceArchived(actor, workspaceId, archived, requireWorkspace).then(workspaceView),

    async createOrganization(actor: Actor, input: { name: string; plan?: Plan; seat_limit?: number | null }) {
      requirePlatformAdmin(actor);
      return db.transaction().execute(async (trx) => {
        const org = await store.insertOrganization(trx, {
          id: newId('org'),
          name: input.name,
          plan: input.plan ?? 'free',
          seat_limit: input.seat_limit ?? null,
        });
        await audit.append(trx, actor, {
          workspaceId: null,
          organizationId: org.id,
          action: 'organization.created',
          category: 'tenancy',
          resource: { type: 'organization', id: org.id },
          after: orgView(org),
        });
        return orgView(org);
      });
    },

    /** Name, plan, seats, and whether members must sign in with two factors (platform admin). */
    async updateOrganization(actor: Actor, id: string, patch: { name?: string; plan?: Plan; seat_limit?: number | null; workspace_limit?: number | null; mfa_required?: boolean }) {
      // Its owners and admins run its name and two-factor rule; what it is allowed (plan, limits) is the platform admin's.
      if (patch.plan !== undefined || patch.seat_limit !== undefined || patch.workspace_limit !== undefined) requirePlatformAdmin(actor);
      else await people.requireOrganizationRole(actor, id, 'admin');
      return db.transaction().execute(async (trx) => {
        const before = await store.getOrganization(trx, id);
        if (!before) throw notFound('organization');
        const after = await store.updateOrganization(trx, id, patch);
        await audit.append(trx, actor, {
          workspaceId: null,
          organizationId: id,
          action: 'organization.updated',
          category: 'tenancy',
          severity: patch.mfa_required === false ? 'warning' : 'info',
          resource: { type: 'organization', id },
          before: orgView(before),
          after: orgView(after),
        });
        return orgView(after);
      });
    },

    async listOrganizations(actor: Actor, page: PageRequest) {
      const orgs = await store.listOrganizations(db, await visibleOrganizationIds(actor), page);
      const used = await store.seatsUsedByOrganization(db, orgs.map((o) => o.id));
      return toPage(orgs, page, (o) => ({ ...orgView(o), seats_used: used.get(o.id) ?? 0 }));
    },

    async getOrganization(actor: Actor, id: string) {
      const only = await visibleOrganizationIds(actor);
      const org = only === undefined || only.includes(id) ? await store.getOrganization(db, id) : undefined;
      if (!org) throw notFound('organization');
      return orgView(org);
    },

    async createWorkspace(actor: Actor, organizationId: string, input: { name: string }) {
      await people.requireOrganizationRole(actor, organizationId, 'admin');
      return db.transaction().execute(async (trx) => {
        // Locked: two creations at once cannot both take the plan's last workspace.
        const org = await store.getOrganization(trx, organizationId, true);
        if (!org) throw notFound('organization');
        if (!actor.platformAdmin) await people.requireWorkspaceRoom(trx, org);
        try {
          const ws = await store.insertWorkspace(trx, { id: newId('ws'), organization_id: organizationId, name: input.name });
          await audit.append(trx, actor, {
            workspaceId: ws.id,
            organizationId,
            action: 'workspace.created',
            category: 'tenancy',
            resource: { type: 'workspace', id: ws.id },
            after: workspaceView(ws),
          });
          return workspaceView(ws);
        } catch (err) {
          if (isUniqueViolation(err)) throw conflict('a workspace with this name already exists in the organization');
          throw err;
        }
      });
    },

    async listWorkspaces(actor: Actor, filter: { organization_id?: string }, page: PageRequest) {
      const rows = await store.listWorkspaces(db, { organizationId: filter.organization_id, onlyIds: visibleWorkspaceIds(actor) }, page);
      return toPage(rows, page, workspaceView);
    },

    async getWorkspace(actor: Actor, workspaceId: string) {
      return workspaceView(await requireWorkspace(actor, workspaceId));
    },

    async updateWorkspace(actor: Actor, workspaceId: string, patch: { name?: string; status?: 'active' | 'inactive'; test_mode?: boolean }) {
      return db.transaction().execute(async (trx) => {
        const before = await requireWorkspace(actor, workspaceId, trx);
        // Test mode relaxes a safety rule (plain http:// endpoints): the platform admin's setting alone.
        if (patch.test_mode !== undefined && !actor.platformAdmin) {
          throw new AppError('forbidden', 'only the platform admin may change test_mode', { field: 'test_mode', reason: 'platform_admin_only' });
        }
        try {
          const after = await store.updateWorkspace(trx, workspaceId, patch);
          await audit.append(trx, actor, {
            workspaceId,
            action: 'workspace.updated',
            category: 'tenancy',
            resource: { type: 'workspace', id: workspaceId },
            before: workspaceView(before),
            after: workspaceView(after),
          });
          return workspaceView(after);
        } catch (err) {
          if (isUniqueViolation(err)) throw conflict('a workspace with this name already exists in the organization');
          throw err;
        }
      });
    },

    async createUser(actor: Actor, input: { email: string; name: string; password?: string; platform_admin?: boolean }) {
      requirePlatformAdmin(actor);
      const passwordHash = input.password ? await hashPassword(input.password) : null;
      return db.transaction().execute(async (trx) => {
        try {
          const user = await store.insertUser(trx, {
            id: newId('usr'),
            email: input.email,
            name: input.name,
            platform_admin: input.platform_admin ?? false,
          });
          if (passwordHash) await setPassword(trx, user.id, passwordHash);
          await audit.append(trx, actor, {
            workspaceId: null,
            action: 'user.created',
            category: 'tenancy',
            severity: user.platform_admin ? 'critical' : 'info',
            resource: { type: 'user', id: user.id },
            after: userView(user),
          });
          return userView(user);
        } catch (err) {
          if (isUniqueViolation(err)) throw conflict('a user with this email already exists');
          throw err;
        }
      });
    },

    /** Every person who can sign in (platform admin): no password hash, no secret, only who they are. */
    async listUsers(actor: Actor, page: PageRequest) {
      requirePlatformAdmin(actor);
      return toPage(await store.listUsers(db, page), page, userView);
    },

    /** Adds or re-roles a member; the organization row is locked so two adds cannot both take the last seat. */
    async addMember(actor: Actor, workspaceId: string, input: { user_id: string; role: Role }) {
      return db.transaction().execute(async (trx) => {
        const ws = await requireWorkspace(actor, workspaceId, trx);
        requireRoleWithin(actor, workspaceId, input.role);
        const org = present(await store.getOrganization(trx, ws.organization_id, true), "the workspace's organization");
        await requireInOrganization(trx, actor, org.id, input.user_id);
        const user = await store.getUser(trx, input.user_id);
        if (!user) throw notFound('user');
        const before = await store.getMember(trx, workspaceId, user.id);
        if (before) requireRoleWithin(actor, workspaceId, before.role);
        const limit = org.seat_limit ?? PLAN_SEATS[org.plan];
        if (limit !== null && !(await store.isOrgMember(trx, org.id, user.id))) {
          const used = await store.seatsUsed(trx, org.id);
          if (used >= limit) {
            throw new AppError('conflict', `the ${org.plan} plan of this organization allows ${limit} seats, all taken`, {
              reason: 'seat_limit_reached',
              seat_limit: limit,
              seats_used: used,
            });
          }
        }
        const member = await store.upsertMember(trx, workspaceId, user.id, input.role);
        await audit.append(trx, actor, {
          workspaceId,
          action: before ? 'member.role_changed' : 'member.added',
          category: 'tenancy',
          resource: { type: 'user', id: user.id },
          before: before ? { role: before.role } : null,
          after: { role: member.role },
        });
        return { workspace_id: workspaceId, user_id: user.id, role: member.role, email: user.email, name: user.name, created_at: member.created_at.toISOString() };
      });
    },

    /** A new role for an existing member; seats are people, so a role change takes none. */
    async changeMemberRole(actor: Actor, workspaceId: string, userId: string, role: Role) {
      return db.transaction().execute(async (trx) => {
        await requireWorkspace(actor, workspaceId, trx);
        requireRoleWithin(actor, workspaceId, role);
        const before = await store.getMember(trx, workspaceId, userId);
        if (!before) throw notFound('member');
        requireRoleWithin(actor, workspaceId, before.role);
        const member = present(await store.updateMemberRole(trx, workspaceId, userId, role), 'the member just read');
        const user = present(await store.getUser(trx, userId), 'the member\'s person');
        await audit.append(trx, actor, {
          workspaceId,
          action: 'member.role_changed',
          category: 'tenancy',
          resource: { type: 'user', id: userId },
          before: { role: before.role },
          after: { role: member.role },
        });
        return { workspace_id: workspaceId, user_id: userId, role: member.role, email: user.email, name: user.name, created_at: member.created_at.toISOString() };
      });
    },

    /** Takes a person out of a workspace; their open sessions lose it on their next request. */
    async removeMember(actor: Actor, workspaceId: string, userId: string) {
      await db.transaction().execute(async (trx) => {
        await requireWorkspace(actor, workspaceId, trx);
        const removed = await store.deleteMember(trx, workspaceId, userId);
        if (!removed) throw notFound('member');
        // Thrown here, the removal rolls back with the transaction.
        requireRoleWithin(actor, workspaceId, removed.role);
        await audit.append(trx, actor, {
          workspaceId,
          action: 'member.removed',
          category: 'tenancy',
          severity: 'warning',
          resource: { type: 'user', id: userId },
          before: { role: removed.role },
          after: null,
        });
      });
    },

    /** Who a signed-in person is and where they are a member (with the organization's two-factor rule): their session's view. */
    async personOf(userId: string) {
      const [user, direct, organizations, inherited] = await Promise.all([
        store.getUser(db, userId), store.membershipsOf(db, userId), orgs.organizationRolesOf(db, userId), orgs.inheritedMemberships(db, userId),
      ]);
      if (!user) return undefined;
      // A workspace inherits the organization's role unless it grants more itself.
      const memberships: Record<string, Role> = {};
      for (const m of inherited) memberships[m.workspace_id] = INHERITED_ROLE[m.role];
      for (const m of direct) memberships[m.workspace_id] = broaderRole(memberships[m.workspace_id], m.role);
      const mfaRequired = direct.some((m) => m.mfa_required) || organizations.some((o) => o.mfa_required);
      return {
        email: user.email, name: user.name, platform_admin: user.platform_admin, mfa_enabled: user.mfa_enabled, mfa_required: mfaRequired,
        memberships, organizations: Object.fromEntries(organizations.map((o) => [o.organization_id, o.role])),
      };
    },

    async listMembers(actor: Actor, workspaceId: string, page: PageRequest) {
      await requireWorkspace(actor, workspaceId);
      const rows = await store.listMembers(db, workspaceId, page);
      // A member's cursor is its user: one person is a member of a workspace once.
      return toPage(rows.map((r) => ({ ...r, id: r.user_id })), page, ({ id: _, ...r }) => ({ ...r, created_at: r.created_at.toISOString() }));
    },
  };
}
export type TenancyService = ReturnType<typeof createTenancyService>;
