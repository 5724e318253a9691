import { AppError } from '../lib/errors.js';

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
}

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

export function requireScope(actor: Actor, scope: string) {
  if (!scopeGranted(actor.scopes, scope)) {
    throw new AppError('forbidden', `this key lacks the scope ${scope}`, { required_scope: scope });
  }
}

/** Another workspace's resources do not exist for this actor: 404, never 403. */
export function canSeeWorkspace(actor: Actor, workspaceId: string | null): boolean {
  return actor.platformAdmin || (workspaceId !== null && actor.workspaceId === workspaceId);
}

export function requirePlatformAdmin(actor: Actor) {
  if (!actor.platformAdmin) throw new AppError('forbidden', 'only the platform admin may do this');
}
