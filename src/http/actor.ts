import { AppError } from '../lib/errors.js';
import { ROLE_SCOPES } from '../modules/apikeys/scopes.js';

/** Who is making a request: resolved once, at the edge, by the auth hook. */
export interface Actor {
  type: 'key' | 'user' | 'system';
  id: string;
  /** The one workspace a key is bound to; null for the platform admin (every workspace). */
  workspaceId: string | null;
  platformAdmin: boolean;
  scopes: readonly string[];
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
  /** A signed-in person's role in each workspace they belong to (keys have none: one workspace, fixed scopes). */
  memberships?: Readonly<Record<string, Role>>;
  /** A signed-in person's role in each organization they belong to as such (its workspaces inherit it). */
  organizations?: Readonly<Record<string, OrgRole>>;
  /** The scope the route being served needs: a person's role is checked against it per workspace. */
  routeScope?: string;
}

export type Role = 'admin' | 'manager' | 'member' | 'read_only';
export type OrgRole = 'owner' | 'admin' | 'member' | 'read_only';

/** Higher ranks hold at least what lower ones do. */
export const ORG_ROLE_RANK: Record<OrgRole, number> = { read_only: 0, member: 1, admin: 2, owner: 3 };
const ROLE_RANK: Record<Role, number> = { read_only: 0, member: 1, manager: 2, admin: 3 };

/** The workspace role an organization role gives in each of its workspaces. */
export const INHERITED_ROLE: Record<OrgRole, Role> = { owner: 'admin', admin: 'admin', member: 'member', read_only: 'read_only' };

/** The broader of two workspace roles: a workspace may grant more than the organization, never less. */
export const broaderRole = (a: Role | undefined, b: Role): Role => (a && ROLE_RANK[a] >= ROLE_RANK[b] ? a : b);

export const systemActor = (requestId: string | null = null): Actor => ({
  type: 'system',
  id: 'system',
  workspaceId: null,
  platformAdmin: true,
  scopes: ['*'],
  ip: null,
  userAgent: null,
  requestId,
});

/** `*` grants all; `keys:*` grants every action on keys. */
export function scopeGranted(granted: readonly string[], wanted: string): boolean {
  if (granted.includes('*') || granted.includes(wanted)) return true;
  const resource = wanted.split(':')[0];
  return granted.includes(`${resource}:*`);
}

/** Whether holding `granted` includes everything `scope` would grant (wildcards included). */
export function scopeCovers(granted: readonly string[], scope: string): boolean {
  if (granted.includes('*')) return true;
  if (scope === '*') return false;
  return scope.endsWith(':*') ? granted.includes(scope) : scopeGranted(granted, scope);
}

/**
 * What this actor holds in one workspace: a key its scopes; a person their role there, not the union
 * of their roles (admin elsewhere must not let a manager here grant more). The platform admin: all.
 */
export function heldScopes(actor: Actor, workspaceId: string | null): readonly string[] {
  if (actor.platformAdmin) return ['*'];
  if (!actor.memberships) return actor.scopes;
  const role = workspaceId === null ? undefined : actor.memberships[workspaceId];
  return role ? ROLE_SCOPES[role] : [];
}

/** Nobody grants more than they hold: 403 naming the scopes of `scopes` beyond what the actor holds there. */
export function requireWithinHeld(actor: Actor, workspaceId: string | null, scopes: readonly string[], message: string, details: Record<string, unknown> = {}) {
  const held = heldScopes(actor, workspaceId);
  const beyond = scopes.filter((s) => !scopeCovers(held, s));
  if (beyond.length) throw new AppError('forbidden', message, { ...details, scopes: beyond });
}

export function requireScope(actor: Actor, scope: string) {
  if (!scopeGranted(actor.scopes, scope)) {
    throw new AppError('forbidden', `this key lacks the scope ${scope}`, { required_scope: scope });
  }
}

/**
 * Another workspace's resources do not exist for this actor: 404, never 403. A person sees the
 * workspaces they are a member of, and there may do what their role grants: a role without the
 * route's scope is a 403 (they can see the workspace, not change it).
 */
export function canSeeWorkspace(actor: Actor, workspaceId: string | null): boolean {
  if (actor.platformAdmin) return true;
  if (workspaceId === null) return false;
  if (!actor.memberships) return actor.workspaceId === workspaceId;
  const role = actor.memberships[workspaceId];
  if (!role) return false;
  if (actor.routeScope && !scopeGranted(ROLE_SCOPES[role], actor.routeScope)) {
    throw new AppError('forbidden', `your role in this workspace (${role}) does not allow this`, { role, required_scope: actor.routeScope });
  }
  return true;
}

/** The workspaces this actor may see; undefined: all of them (the platform admin). */
export function visibleWorkspaceIds(actor: Actor): string[] | undefined {
  if (actor.platformAdmin) return undefined;
  if (actor.memberships) return Object.keys(actor.memberships);
  return actor.workspaceId ? [actor.workspaceId] : [];
}

export function requirePlatformAdmin(actor: Actor) {
  if (!actor.platformAdmin) throw new AppError('forbidden', 'only the platform admin may do this');
}
