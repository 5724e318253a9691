import type { Kysely } from 'kysely';
import type { DB, Executor } from '../../db/types.js';
import { broaderRole, ORG_ROLE_RANK, type Actor, type OrgRole, type Role } from '../../http/actor.js';
import { AppError, conflict, notFound, present } from '../../lib/errors.js';
import { isViolation } from '../../db/errors.js';
import { newId } from '../../lib/ids.js';
import { toPage, type PageRequest } from '../../lib/paging.js';
import type { AuditService } from '../audit/service.js';
import * as store from './store.js';
import * as orgs from './store-organizations.js';

export type { OrgRole } from '../../http/actor.js';

/** Seats per plan when an organization sets no limit of its own; null is unlimited. */
export const PLAN_SEATS: Record<DB['organizations']['plan'], number | null> = { free: 3, starter: 10, professional: 50, enterprise: null };
/** Live (not archived) workspaces an organization's own people may have; the platform admin is not bound by it. */
export const PLAN_WORKSPACES: Record<DB['organizations']['plan'], number | null> = { free: 3, starter: 10, professional: 50, enterprise: null };

type Org = NonNullable<Awaited<ReturnType<typeof store.getOrganization>>>;
export const seatLimitOf = (org: Org) => org.seat_limit ?? PLAN_SEATS[org.plan];
export const workspaceLimitOf = (org: Org) => org.workspace_limit ?? PLAN_WORKSPACES[org.plan];

interface Deps {
  db: Kysely<DB>;
  audit: AuditService;
  /** The organizations whose workspaces this actor sees (undefined: all). */
  visibleOrganizationIds: (actor: Actor) => Promise<string[] | undefined>;
  /** Called as a person is taken out of an organization, in that transaction: their sessions end with it. */
  onPersonRemoved: (userId: string, trx: Executor) => Promise<void>;
  setPassword: (trx: Executor, userId: string, passwordHash: string) => Promise<void>;
}

const memberView = (m: { organization_id: string; user_id: string; role: OrgRole; email: string; name: string; created_at: Date }) => ({
  organization_id: m.organization_id,
  user_id: m.user_id,
  role: m.role,
  email: m.email,
  name: m.name,
  created_at: m.created_at.toISOString(),
});

export function organizationPeople({ db, audit, visibleOrganizationIds, onPersonRemoved, setPassword }: Deps) {
  /**
   * An organization-level action: the platform admin, or a person whose role in the organization is
   * at least `minimum`. Someone who cannot see the organization at all gets 404, as for workspaces.
   */
  async function requireOrganizationRole(actor: Actor, organizationId: string, minimum: OrgRole) {
    if (actor.platformAdmin) {
      if (!(await store.getOrganization(db, organizationId))) throw notFound('organization');
      return;
    }
    const role = actor.organizations?.[organizationId];
    if (role && ORG_ROLE_RANK[role] >= ORG_ROLE_RANK[minimum]) return;
    if (!role && !(await visibleOrganizationIds(actor))?.includes(organizationId)) throw notFound('organization');
    throw new AppError('forbidden', `this needs the ${minimum} role (or above) in the organization`, { reason: 'organization_role', role: role ?? null, required_role: minimum });
  }

  /** Nobody grants more than they hold: an organization role is given or taken only by someone who holds at least it. */
  function requireOrgRoleWithin(actor: Actor, organizationId: string, role: OrgRole) {
    if (actor.platformAdmin) return;
    const held = actor.organizations?.[organizationId];
    if (held && ORG_ROLE_RANK[held] >= ORG_ROLE_RANK[role]) return;
    throw new AppError('forbidden', `the role ${role} is above your own in this organization`, { reason: 'role_beyond_granter', role });
  }

  /** A seat for this person, unless they already have one; the caller holds the organization row's lock. */
  async function requireSeat(trx: Executor, org: Org, userId: string) {
    const limit = seatLimitOf(org);
    if (limit === null || (await store.isOrgMember(trx, org.id, userId))) return;
    const used = await store.seatsUsed(trx, org.id);
    if (used >= limit) {
      throw new AppError('conflict', `the ${org.plan} plan of this organization allows ${limit} seats, all taken`, { reason: 'seat_limit_reached', seat_limit: limit, seats_used: used });
    }
  }

  /** An organization keeps an owner: the last one can be neither removed nor demoted. */
  async function requireAnotherOwner(trx: Executor, organizationId: string) {
    if ((await orgs.countOwners(trx, organizationId)) <= 1) {
      throw new AppError('conflict', 'an organization keeps at least one owner: make someone else owner first', { reason: 'last_owner' });
    }
  }

  /** Adds a person to an organization, or re-roles them; the organization row is locked so two joins cannot take the last seat. */
  async function joinOrganization(trx: Executor, actor: Actor, organizationId: string, userId: string, role: OrgRole) {
    const org = await store.getOrganization(trx, organizationId, true);
    if (!org) throw notFound('organization');
    const user = await store.getUser(trx, userId);
    if (!user) throw notFound('user');
    const before = await orgs.getOrgMember(trx, organizationId, userId);
    if (before?.role === 'owner' && role !== 'owner') await requireAnotherOwner(trx, organizationId);
    await requireSeat(trx, org, userId);
    const member = await orgs.upsertOrgMember(trx, organizationId, userId, role);
    await audit.append(trx, actor, {
      workspaceId: null,
      organizationId,
      action: before ? 'organization.member_role_changed' : 'organization.member_added',
      category: 'tenancy',
      severity: role === 'owner' ? 'warning' : 'info',
      resource: { type: 'user', id: userId },
      before: before ? { role: before.role } : null,
      after: { role: member.role },
    });
    return memberView({ ...member, email: user.email, name: user.name });
  }

  /**
   * Which person a request names. Below the platform admin only people already of the organization
   * (members of one of its workspaces) can be named; anyone else, existing or not, gets one answer,
   * so emails and ids cannot be probed: new people come in by invitation.
   */
  async function personNamed(trx: Executor, actor: Actor, organizationId: string, who: { user_id?: string; email?: string }) {
    const user = who.user_id ? await store.getUser(trx, who.user_id) : who.email ? await store.findUserByEmail(trx, who.email) : undefined;
    if (actor.platformAdmin) {
      if (!user) throw notFound('user');
      return user;
    }
    if (!user || !(await store.isOrgMember(trx, organizationId, user.id))) {
      throw new AppError('forbidden', 'this person is not in the organization: invite them (POST /v1/organizations/:id/invitations)', { reason: 'not_in_organization' });
    }
    return user;
  }

  return {
    requireOrganizationRole,
    requireOrgRoleWithin,
    joinOrganization,

    /**
     * Places a person in some workspaces of an organization with one role (an invitation limited to
     * them); the organization row is locked and a seat taken as for joining the organization itself.
     */
    async joinWorkspaces(trx: Executor, actor: Actor, organizationId: string, userId: string, workspaceIds: readonly string[], role: Role) {
      const org = await store.getOrganization(trx, organizationId, true);
      if (!org) throw notFound('organization');
      const own = new Set(await orgs.workspaceIdsOf(trx, organizationId));
      const foreign = workspaceIds.filter((id) => !own.has(id));
      if (foreign.length) throw new AppError('validation_failed', 'these workspaces are not in the organization', { reason: 'foreign_workspace', workspace_ids: foreign });
      await requireSeat(trx, org, userId);
      for (const workspaceId of workspaceIds) {
        const before = await store.getMember(trx, workspaceId, userId);
        const member = await store.upsertMember(trx, workspaceId, userId, broaderRole(before?.role, role));
        await audit.append(trx, actor, {
          workspaceId, organizationId, action: before ? 'member.role_changed' : 'member.added', category: 'tenancy',
          resource: { type: 'user', id: userId }, before: before ? { role: before.role } : null, after: { role: member.role },
        });
      }
    },

    isPersonOfOrganization: (organizationId: string, userId: string) => store.isOrgMember(db, organizationId, userId),

    async organizationName(organizationId: string) {
      return (await store.getOrganization(db, organizationId))?.name;
    },

    /** A new person, made by an invitation's acceptance or a first single sign-on (no platform admin involved). */
    async createPerson(trx: Executor, actor: Actor, input: { email: string; name: string; passwordHash: string | null; organizationId?: string }) {
      try {
        const user = await store.insertUser(trx, { id: newId('usr'), email: input.email, name: input.name, platform_admin: false });
        if (input.passwordHash) await setPassword(trx, user.id, input.passwordHash);
        await audit.append(trx, actor, {
          workspaceId: null, organizationId: input.organizationId, action: 'user.created', category: 'tenancy', resource: { type: 'user', id: user.id }, after: { email: user.email, name: user.name },
        });
        return { id: user.id, email: user.email, name: user.name };
      } catch (err) {
        if (isViolation(err, 'unique')) throw conflict('a user with this email already exists', { reason: 'email_taken' });
        throw err;
      }
    },

    /** Inside a transaction pass it: the embedded database has one connection, which the transaction holds. */
    async findPersonByEmail(email: string, trx: Executor = db) {
      const user = await store.findUserByEmail(trx, email);
      return user ? { id: user.id, email: user.email, name: user.name, platform_admin: user.platform_admin } : undefined;
    },

    organizationWorkspaceIds: (organizationId: string) => orgs.workspaceIdsOf(db, organizationId),

    organizationsOfPerson: (userId: string) => orgs.organizationIdsOfPerson(db, userId),

    async addOrganizationMember(actor: Actor, organizationId: string, input: { user_id?: string; email?: string; role: OrgRole }) {
      await requireOrganizationRole(actor, organizationId, 'admin');
      if (!input.user_id === !input.email) throw new AppError('validation_failed', 'name the person by user_id or by email (one of them)', { fields: ['user_id', 'email'] });
      requireOrgRoleWithin(actor, organizationId, input.role);
      return db.transaction().execute(async (trx) => {
        const user = await personNamed(trx, actor, organizationId, input);
        const before = await orgs.getOrgMember(trx, organizationId, user.id);
        if (before) requireOrgRoleWithin(actor, organizationId, before.role);
        return joinOrganization(trx, actor, organizationId, user.id, input.role);
      });
    },

    async changeOrganizationMemberRole(actor: Actor, organizationId: string, userId: string, role: OrgRole) {
      await requireOrganizationRole(actor, organizationId, 'admin');
      requireOrgRoleWithin(actor, organizationId, role);
      return db.transaction().execute(async (trx) => {
        const before = await orgs.getOrgMember(trx, organizationId, userId);
        if (!before) throw notFound('member');
        requireOrgRoleWithin(actor, organizationId, before.role);
        return joinOrganization(trx, actor, organizationId, userId, role);
      });
    },

    /** Takes a person out of the organization and all its workspaces; their sessions end at once. */
    async removeOrganizationMember(actor: Actor, organizationId: string, userId: string) {
      await requireOrganizationRole(actor, organizationId, 'admin');
      await db.transaction().execute(async (trx) => {
        present(await store.getOrganization(trx, organizationId, true), 'the organization just checked');
        const before = await orgs.getOrgMember(trx, organizationId, userId);
        if (before) {
          requireOrgRoleWithin(actor, organizationId, before.role);
          if (before.role === 'owner') await requireAnotherOwner(trx, organizationId);
          await orgs.deleteOrgMember(trx, organizationId, userId);
        }
        const left = await orgs.deleteWorkspaceMemberships(trx, organizationId, userId);
        if (!before && left.length === 0) throw notFound('member');
        // A workspace admin role is above an organization admin's inherited one only by name: both are admin.
        await audit.append(trx, actor, {
          workspaceId: null,
          organizationId,
          action: 'organization.member_removed',
          category: 'tenancy',
          severity: 'warning',
          resource: { type: 'user', id: userId },
          before: { role: before?.role ?? null, workspaces: left.map((w) => ({ workspace_id: w.workspace_id, role: w.role })) },
          after: null,
        });
        // In the same transaction: no moment where the person is out but a session of theirs still works.
        await onPersonRemoved(userId, trx);
      });
    },

    async listOrganizationMembers(actor: Actor, organizationId: string, page: PageRequest) {
      await requireOrganizationRole(actor, organizationId, 'read_only');
      const rows = await orgs.listOrgMembers(db, organizationId, page);
      return toPage(rows.map((r) => ({ ...r, id: r.user_id })), page, ({ id: _, ...r }) => memberView(r));
    },

    /** Archives or restores a workspace (owners and admins of its organization); restoring counts against the plan again. */
    async setWorkspaceArchived(actor: Actor, workspaceId: string, archived: boolean, requireWorkspace: (actor: Actor, id: string, trx: Executor) => Promise<{ organization_id: string }>) {
      // Checked before the transaction: on the embedded database it holds the one connection.
      const ws = await requireWorkspace({ ...actor, routeScope: undefined }, workspaceId, db);
      await requireOrganizationRole(actor, ws.organization_id, 'admin');
      return db.transaction().execute(async (trx) => {
        const org = present(await store.getOrganization(trx, ws.organization_id, true), "the workspace's organization");
        if (!archived && !actor.platformAdmin) await requireWorkspaceRoom(trx, org);
        const after = await orgs.setArchived(trx, workspaceId, archived);
        await audit.append(trx, actor, {
          workspaceId, organizationId: org.id, action: archived ? 'workspace.archived' : 'workspace.restored', category: 'tenancy', severity: archived ? 'warning' : 'info',
          resource: { type: 'workspace', id: workspaceId },
        });
        return after;
      });
    },

    requireWorkspaceRoom,
  };

  /** The plan's workspace limit, for the organization's own people; the caller holds the organization row's lock. */
  async function requireWorkspaceRoom(trx: Executor, org: Org) {
    const limit = workspaceLimitOf(org);
    if (limit === null) return;
    const live = await orgs.countLiveWorkspaces(trx, org.id);
    if (live >= limit) {
      throw new AppError('conflict', `the ${org.plan} plan of this organization allows ${limit} workspaces; archive one or ask for a larger plan`, {
        reason: 'workspace_limit_reached', workspace_limit: limit, workspaces: live,
      });
    }
  }
}
